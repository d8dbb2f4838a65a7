import type { ResolvedInstall } from '../api/install.js';
import { LABEL_COMPONENT } from '../api/labels.js';
import { isMap } from '../api/merge.js';
import type { K8sObject, RemoteStatus } from '../api/types.js';
import { findInjector } from '../apply/install.js';
import type { Webhook } from '../api/live.js';

// A remote cluster's install (profile remote, or an external control plane's config cluster) runs no istiod of its
// own: its injector webhook, and for a remotePilotAddress its `istiod` Service, lead to a primary's istiod. Which
// primary that is, is what a user reading the status needs, so it is said there (status.remote and the message).
// An install is a remote by what it renders, not by its profile's name: Pilot gives an injector and no workload.

/** The user's value at a values path, as Istio merges them: values, then unvalidatedValues over them. */
function valueAt(install: ResolvedInstall, ...path: string[]): string | undefined {
  let found: string | undefined;
  for (const root of [install.iop.spec.values, install.iop.spec.unvalidatedValues]) {
    let cur: unknown = root;
    for (const p of path) cur = isMap(cur) ? cur[p] : undefined;
    if (cur !== undefined && cur !== null && cur !== '') found = String(cur);
  }
  return found;
}

/** Istio's name for a cluster whose clusterName is not set. */
export const DEFAULT_CLUSTER_NAME = 'Kubernetes';

/** What a remote install points at; undefined for an install that runs its own istiod (or no injector at all). */
export function remoteOf(install: ResolvedInstall, objects: K8sObject[]): RemoteStatus | undefined {
  const pilot = objects.filter((o) => o.metadata.labels?.[LABEL_COMPONENT] === 'Pilot');
  const injector = findInjector(pilot);
  if (!injector || pilot.some((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet')) return undefined;
  const cc: NonNullable<Webhook['clientConfig']> = injector.webhooks?.[0]?.clientConfig ?? {};
  const injection = cc.url
    ? `URL ${cc.url}`
    : cc.service
      ? `Service ${cc.service.namespace}/${cc.service.name}${cc.service.path ?? ''}`
      : undefined;
  const network = valueAt(install, 'global', 'network');
  const meshID = valueAt(install, 'global', 'meshID');
  const remotePilotAddress = valueAt(install, 'global', 'remotePilotAddress');
  return {
    clusterName: valueAt(install, 'global', 'multiCluster', 'clusterName') ?? DEFAULT_CLUSTER_NAME,
    ...(network ? { network } : {}),
    ...(meshID ? { meshID } : {}),
    ...(remotePilotAddress ? { remotePilotAddress } : {}),
    ...(injection ? { injection } : {}),
  };
}

/** One line for the status message: which cluster this is and which primary serves it. */
export function describeRemote(r: RemoteStatus): string {
  const primary = r.remotePilotAddress
    ? `the primary's istiod at ${r.remotePilotAddress}`
    : 'no primary address (values.global.remotePilotAddress is not set)';
  const where = [r.network ? `network ${r.network}` : '', r.meshID ? `mesh ${r.meshID}` : ''].filter(Boolean).join(', ');
  const name =
    r.clusterName === DEFAULT_CLUSTER_NAME
      ? `${r.clusterName} (Istio's default: set values.global.multiCluster.clusterName to the name the primary knows it by)`
      : r.clusterName;
  return `remote cluster ${name}${where ? ` (${where})` : ''} served by ${primary}, no istiod of its own; sidecar injection: ${r.injection ?? 'none'}`;
}

/**
 * What to change when a remote's webhook leads nowhere: only the user's values can give it a backend. Undefined
 * when the remote names a primary (then the failure is said by the object's own verdict).
 */
export function remoteHint(r: RemoteStatus): string | undefined {
  if (r.remotePilotAddress || r.injection?.startsWith('URL ')) return undefined;
  return "this remote names no primary: set values.global.remotePilotAddress to the primary istiod's address (an IP gives the istiod Service endpoints, a host name an ExternalName), or values.istiodRemote.injectionURL";
}
