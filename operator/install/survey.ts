import type { KubeClient } from '../apply/client.js';
import { ApiError, UnreachableError } from '../apply/client.js';
import { FIELD_MANAGER } from '../apply/owner.js';
import { listInventories } from '../apply/inventory.js';
import { kindInfo, groupOf } from '../api/kinds.js';
import { LABEL_COMPONENT, LABEL_OWNER_NAME, LABEL_OWNER_NAMESPACE, LABEL_REVISION, LABEL_VERSION } from '../api/labels.js';
import { DEFAULT_REVISION } from '../api/names.js';
import type { Owner } from '../api/owner.js';
import type { ResolvedInstall } from '../api/install.js';
import { kubernetesCheck } from '../revision/plan.js';
import { readTags } from '../revision/cluster.js';
import type { K8sObject } from '../render/index.js';
import type { AccessReview, List, LiveEndpointSlice, LiveObject, LivePod, LiveWebhookConfiguration, LiveWorkload } from '../api/live.js';
import type { IstioOperator } from '../api/types.js';

// What is in the cluster, read for `precheck` (before an install) and `status` (after): the control planes and who
// installed them, the proxies per revision, the Gateway API CRDs, and whether we may write what an install writes.
// Reads only. The CLI prints what this returns.

export type Installer = 'IstioOperator' | 'istioctl' | 'Helm' | 'Sail' | 'unknown';

export interface ControlPlane {
  /** Where istiod runs, and its Deployment's name. */
  namespace: string;
  name: string;
  /** `istio.io/rev`, `default` for the default revision. */
  revision: string;
  installer: Installer;
  /** The installer's own name for it: `IstioOperator ns/name`, the Helm release, the Sail IstioRevision. */
  owner: string;
  version: string;
  ready: string;
  healthy: boolean;
}

/**
 * Who installed an object, by the marks each installer leaves: Sail owns its objects by ownerReference
 * (sailoperator.io); Helm labels `app.kubernetes.io/managed-by: Helm` and annotates the release; istioctl and this
 * project write the same owner labels (we are compatible by design), and only we keep an inventory ConfigMap per
 * owner. `installed-state` IstioOperators are istioctl's record of its own installs.
 */
export function installerOf(o: LiveObject, inventories: Set<string>): { installer: Installer; owner: string } {
  const m = o.metadata;
  const sail = m.ownerReferences?.find((r) => r.apiVersion.startsWith('sailoperator.io/'));
  if (sail) return { installer: 'Sail', owner: `${sail.kind} ${sail.name}` };
  const l = m.labels ?? {};
  const a = m.annotations ?? {};
  if (l['app.kubernetes.io/managed-by'] === 'Helm' || a['meta.helm.sh/release-name'])
    return {
      installer: 'Helm',
      owner: `release ${a['meta.helm.sh/release-namespace'] ? `${a['meta.helm.sh/release-namespace']}/` : ''}${a['meta.helm.sh/release-name'] ?? '?'}`,
    };
  const ownerName = l[LABEL_OWNER_NAME];
  if (ownerName) {
    const key = `${l[LABEL_OWNER_NAMESPACE] ?? ''}/${ownerName}/${l[LABEL_REVISION] ?? DEFAULT_REVISION}`;
    const ownerText = `${l[LABEL_OWNER_NAMESPACE] ? `${l[LABEL_OWNER_NAMESPACE]}/` : ''}${ownerName}`;
    if (inventories.has(key) && !ownerName.startsWith('installed-state'))
      return { installer: 'IstioOperator', owner: `IstioOperator ${ownerText}` };
    return { installer: 'istioctl', owner: ownerName === 'unknown' ? 'istioctl install' : `istioctl (IstioOperator ${ownerText})` };
  }
  if (l[LABEL_COMPONENT] || m.managedFields?.some((f) => f.manager === 'istioctl' || f.manager === FIELD_MANAGER))
    return { installer: 'istioctl', owner: 'istioctl install' };
  return { installer: 'unknown', owner: 'unknown installer (kubectl apply of manifests?)' };
}

function imageTag(image: string | undefined): string {
  if (!image) return '';
  const at = image.indexOf('@');
  const ref = at >= 0 ? image.slice(0, at) : image;
  const i = ref.lastIndexOf(':');
  return i > ref.lastIndexOf('/') ? ref.slice(i + 1) : at >= 0 ? image.slice(at + 1, at + 20) : 'latest';
}

async function list<T extends LiveObject = LiveObject>(client: KubeClient, path: string, query: Record<string, string> = {}): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const r = await client.request<Partial<List<T>>>('GET', path, { query: { ...query, limit: 500, continue: cont }, allow404: true });
    out.push(...(r?.items ?? []));
    cont = r?.metadata?.continue || undefined;
  } while (cont);
  return out;
}

const inventoryKeys = async (client: KubeClient): Promise<Set<string>> =>
  new Set((await listInventories(client).catch(() => [])).map((i) => `${i.owner.namespace}/${i.owner.name}/${i.owner.rev}`));

/** Every istiod in the cluster, with who installed it. */
export async function readControlPlanes(client: KubeClient): Promise<ControlPlane[]> {
  const [deploys, inventories] = await Promise.all([
    list<LiveWorkload>(client, '/apis/apps/v1/deployments', { labelSelector: 'app=istiod' }),
    inventoryKeys(client),
  ]);
  return deploys
    .map((d) => {
      const l = d.metadata.labels ?? {};
      const who = installerOf(d, inventories);
      const desired = d.spec?.replicas ?? 1;
      const ready = d.status?.readyReplicas ?? 0;
      const container =
        (d.spec?.template?.spec?.containers ?? []).find((c) => c.name === 'discovery') ?? d.spec?.template?.spec?.containers?.[0];
      return {
        namespace: d.metadata.namespace ?? '',
        name: d.metadata.name,
        revision: l[LABEL_REVISION] || DEFAULT_REVISION,
        ...who,
        version: l[LABEL_VERSION] || imageTag(container?.image),
        ready: `${ready}/${desired}`,
        healthy: ready >= desired && desired > 0,
      };
    })
    .sort((a, b) => `${a.namespace}/${a.revision}`.localeCompare(`${b.namespace}/${b.revision}`));
}

export interface ProxySummary {
  revision: string;
  /** Proxy image tag → number of pods. */
  versions: Record<string, number>;
  pods: number;
}

/** Injected pods (the `sidecar.istio.io/status` annotation), per revision, with their proxy image versions. */
export async function readProxies(client: KubeClient): Promise<ProxySummary[]> {
  const pods = await list<LivePod>(client, '/api/v1/pods', { fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' });
  const byRev = new Map<string, ProxySummary>();
  for (const p of pods) {
    const status = p.metadata.annotations?.['sidecar.istio.io/status'];
    if (!status) continue;
    let rev = p.metadata.labels?.[LABEL_REVISION] ?? '';
    try {
      rev = String(JSON.parse(status).revision ?? '') || rev;
    } catch {
      /* an unparseable annotation still marks an injected pod */
    }
    rev ||= DEFAULT_REVISION;
    const containers = [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])];
    const proxy = containers.find((c) => c.name === 'istio-proxy');
    const v = imageTag(proxy?.image) || 'unknown';
    const s = byRev.get(rev) ?? { revision: rev, versions: {}, pods: 0 };
    s.versions[v] = (s.versions[v] ?? 0) + 1;
    s.pods++;
    byRev.set(rev, s);
  }
  return [...byRev.values()].sort((a, b) => a.revision.localeCompare(b.revision));
}

export interface InstallStatus {
  /** `IstioOperator ns/name`, `istioctl install`, `Helm release ns/x`, ... */
  owner: string;
  installer: Installer;
  revision: string;
  /** The Istio release line and version (status.istio of an IstioOperator, else istiod's version). */
  release: string;
  version: string;
  /** The IstioOperator's status.status, else HEALTHY/RECONCILING from istiod's readiness. */
  health: string;
  message?: string;
  istioNamespace: string;
  tags: string[];
  proxies: ProxySummary | { revision: string; versions: Record<string, number>; pods: number };
  /** An install of ours with no istiod in this cluster (profile remote, an external istiod's config cluster): whose it is. */
  remote?: string;
}

export interface StatusReport {
  installs: InstallStatus[];
  /** Proxies of revisions no install in the list serves (left over after an uninstall). */
  orphanProxies: ProxySummary[];
}

/** `istio-operator status`: every install (IstioOperator CRs and control planes found), tags, proxies per revision. */
export async function readStatus(client: KubeClient): Promise<StatusReport> {
  const [iops, planes, tags, proxies] = await Promise.all([
    list<LiveObject & Pick<IstioOperator, 'spec' | 'status'>>(client, '/apis/install.istio.io/v1alpha1/istiooperators'),
    readControlPlanes(client),
    readTags(client),
    readProxies(client),
  ]);
  const installs: InstallStatus[] = [];
  const proxiesOf = (rev: string) => proxies.find((p) => p.revision === rev) ?? { revision: rev, versions: {}, pods: 0 };
  const tagsOf = (rev: string) =>
    tags
      .filter((t) => t.revision === rev)
      .map((t) => t.tag)
      .sort();
  const seenPlanes = new Set<ControlPlane>();
  for (const iop of iops) {
    const spec = iop.spec ?? {};
    const rev = spec.revision || DEFAULT_REVISION;
    const key = `IstioOperator ${iop.metadata.namespace}/${iop.metadata.name}`;
    const plane = planes.find((p) => p.owner === key && p.revision === rev);
    if (plane) seenPlanes.add(plane);
    const st = iop.status ?? {};
    installs.push({
      owner: key,
      installer: 'IstioOperator',
      revision: rev,
      release: st.istio?.release ?? '',
      version: st.istio?.version ?? plane?.version ?? '',
      health: st.status ?? 'NONE',
      ...(st.message ? { message: String(st.message) } : {}),
      istioNamespace: plane?.namespace ?? spec.namespace ?? spec.values?.global?.istioNamespace ?? 'istio-system',
      tags: tagsOf(rev),
      proxies: proxiesOf(rev),
    });
  }
  for (const p of planes) {
    if (seenPlanes.has(p)) continue;
    installs.push({
      owner: p.owner,
      installer: p.installer,
      revision: p.revision,
      release: p.version.split('.').slice(0, 2).join('.'),
      version: p.version,
      health: p.healthy ? 'HEALTHY' : 'RECONCILING',
      message: `istiod ${p.namespace}/${p.name} ready ${p.ready}`,
      istioNamespace: p.namespace,
      tags: tagsOf(p.revision),
      proxies: proxiesOf(p.revision),
    });
  }
  // Installs of ours with no istiod here (a remote cluster, a config cluster): known by their inventory, served
  // by the injector webhook they installed.
  const listed = new Set(installs.map((i) => `${i.owner}/${i.revision}`));
  for (const inv of await listInventories(client).catch(() => [])) {
    const owner = `IstioOperator ${inv.owner.namespace ? `${inv.owner.namespace}/` : ''}${inv.owner.name}`;
    // Only installs that inject (their inventory holds an injector webhook): a gateway-only install is no control plane.
    if (listed.has(`${owner}/${inv.owner.rev}`) || !inv.objects.some((r) => r.kind === 'MutatingWebhookConfiguration')) continue;
    installs.push(await remoteInstall(client, inv.owner, owner, inv.namespace, tagsOf(inv.owner.rev), proxiesOf(inv.owner.rev)));
  }
  const served = new Set(installs.map((i) => i.revision));
  return { installs, orphanProxies: proxies.filter((p) => !served.has(p.revision)) };
}

/** An install of ours without istiod: HEALTHY when its injector webhook leads somewhere (a URL, or a Service with endpoints). */
async function remoteInstall(
  client: KubeClient,
  o: Owner,
  owner: string,
  namespace: string,
  tags: string[],
  proxies: InstallStatus['proxies'],
): Promise<InstallStatus> {
  const selector = `${LABEL_OWNER_NAME}=${o.name},${LABEL_REVISION}=${o.rev}`;
  const hooks = (
    await list<LiveWebhookConfiguration>(client, '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
      labelSelector: selector,
    })
  ).filter((h) => !h.metadata.labels?.['istio.io/tag']);
  const hook = hooks.find((h) => (h.metadata.labels?.[LABEL_OWNER_NAMESPACE] ?? '') === o.namespace) ?? hooks[0];
  const version = hook?.metadata.labels?.[LABEL_VERSION] ?? '';
  const base = {
    owner,
    installer: 'IstioOperator' as const,
    revision: o.rev,
    release: version.split('.').slice(0, 2).join('.'),
    version,
    istioNamespace: namespace,
    tags,
    proxies,
  };
  const cc = hook?.webhooks?.[0]?.clientConfig;
  if (!cc) return { ...base, health: 'ERROR', message: 'no istiod and no injector webhook in this cluster', remote: 'nothing' };
  if (cc.url) return { ...base, health: 'HEALTHY', message: `no istiod in this cluster; injection by ${cc.url}`, remote: String(cc.url) };
  const svc = `${cc.service?.namespace}/${cc.service?.name}`;
  const slices = await list<LiveEndpointSlice>(client, `/apis/discovery.k8s.io/v1/namespaces/${cc.service?.namespace}/endpointslices`, {
    labelSelector: `kubernetes.io/service-name=${cc.service?.name}`,
  });
  const addresses = [...new Set(slices.flatMap((e) => (e.endpoints ?? []).flatMap((x) => x.addresses ?? [])))];
  if (!addresses.length)
    return {
      ...base,
      health: 'ERROR',
      message: `no istiod in this cluster; injection by Service ${svc}, which has no endpoints`,
      remote: `Service ${svc}`,
    };
  return {
    ...base,
    health: 'HEALTHY',
    message: `no istiod in this cluster; injection by Service ${svc} at ${addresses.join(', ')}`,
    remote: `Service ${svc} at ${addresses.join(', ')}`,
  };
}

// ---- precheck ----

export type Severity = 'ok' | 'info' | 'warning' | 'blocker';

export interface Check {
  name: string;
  severity: Severity;
  message: string;
  /** What to do about it. */
  hint?: string;
  details?: string[];
}

export interface PrecheckReport {
  checks: Check[];
  blocked: boolean;
}

export interface PrecheckOptions {
  /** Check against this Kubernetes version instead of the cluster's (planning a cluster upgrade; tests). */
  kubernetesVersion?: string;
}

const GATEWAY_API_CRDS = ['gatewayclasses', 'gateways', 'httproutes', 'grpcroutes', 'referencegrants'];

/** `istio-operator precheck`: what would stop this install, with reasons, before anything is written. */
export async function precheck(
  client: KubeClient,
  install: ResolvedInstall,
  objects: K8sObject[],
  opts: PrecheckOptions = {},
): Promise<PrecheckReport> {
  const checks: Check[] = [];
  const done = (): PrecheckReport => ({ checks, blocked: checks.some((c) => c.severity === 'blocker') });
  let version: string | undefined;
  try {
    version = (await client.request<{ gitVersion?: string }>('GET', '/version'))?.gitVersion;
    checks.push({ name: 'API server', severity: 'ok', message: `reachable at ${client.server} as user "${client.user}"` });
  } catch (e) {
    const unreachable = e instanceof UnreachableError;
    checks.push({
      name: 'API server',
      severity: 'blocker',
      message: (e as Error).message,
      ...(unreachable ? { hint: 'start the cluster or fix --kubeconfig/--context; nothing else can be checked' } : {}),
    });
    if (unreachable || (e instanceof ApiError && e.code === 401)) return done();
  }

  const release = install.release;
  const k8s = opts.kubernetesVersion ?? version ?? 'unknown';
  const kc = kubernetesCheck(release, k8s);
  const rangeText = `${release.kubernetes.min}-${release.kubernetes.max}`;
  checks.push({
    name: 'Kubernetes version',
    severity: !kc.ok ? 'blocker' : /newer than/.test(kc.message) ? 'warning' : 'ok',
    message: `${kc.message}${opts.kubernetesVersion ? ` (version given by --kubernetes-version; the cluster reports ${version ?? 'unknown'})` : ''}`,
    ...(!kc.ok ? { hint: `install an Istio release whose range includes it (this one: ${rangeText}), or upgrade the cluster first` } : {}),
  });

  // A check that cannot read what it needs (a user without list rights) says so and the others still run.
  const guarded = async (name: string, fn: () => Promise<Check | Check[]>): Promise<Check[]> => {
    try {
      const r = await fn();
      return Array.isArray(r) ? r : [r];
    } catch (e) {
      return [{ name, severity: 'warning', message: `could not be checked: ${(e as Error).message}` }];
    }
  };
  checks.push(...(await guarded('Permissions', () => permissionsCheck(client, objects))));
  checks.push(...(await guarded('Existing control planes', () => existingControlPlanes(client, install))));
  checks.push(...(await guarded('Gateway API CRDs', () => gatewayApiCheck(client))));
  return done();
}

/** One SelfSubjectAccessReview per resource, namespace and verb the install uses (apply = patch; prune = delete). */
async function permissionsCheck(client: KubeClient, objects: K8sObject[]): Promise<Check> {
  const wants = new Map<string, { group: string; resource: string; namespace?: string; verb: string }>();
  const add = (group: string, resource: string, namespace: string | undefined, verb: string) =>
    wants.set(`${verb} ${resource}.${group} ${namespace ?? ''}`, { group, resource, verb, ...(namespace ? { namespace } : {}) });
  const unknownKinds = new Set<string>();
  for (const o of objects) {
    const info = kindInfo(o.apiVersion, o.kind);
    if (!info) {
      unknownKinds.add(`${o.apiVersion}/${o.kind}`);
      continue;
    }
    const ns = info.namespaced ? o.metadata.namespace : undefined;
    for (const verb of ['get', 'create', 'patch', 'delete']) add(groupOf(o.apiVersion), info.plural, ns, verb);
    if (ns) add('', 'namespaces', undefined, 'create');
  }
  // The inventory of what was applied, kept beside istiod.
  for (const ns of new Set(objects.map((o) => o.metadata.namespace).filter(Boolean))) add('', 'configmaps', ns, 'patch');
  const reviews = [...wants.values()];
  const denied: string[] = [];
  const queue = [...reviews];
  const worker = async () => {
    for (let w = queue.shift(); w; w = queue.shift()) {
      const r = await client.request<AccessReview>('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {
            resourceAttributes: { group: w.group, resource: w.resource, verb: w.verb, ...(w.namespace ? { namespace: w.namespace } : {}) },
          },
        },
      });
      if (!r?.status?.allowed)
        denied.push(
          `${w.verb} ${w.resource}${w.group ? `.${w.group}` : ''}${w.namespace ? ` in namespace ${w.namespace}` : ' (cluster-wide)'}${r?.status?.reason ? `: ${r.status.reason}` : ''}`,
        );
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  denied.sort();
  const extra = unknownKinds.size ? ` (not checked, not in the kinds table: ${[...unknownKinds].join(', ')})` : '';
  if (denied.length) {
    return {
      name: 'Permissions',
      severity: 'blocker',
      message: `user "${client.user}" lacks ${denied.length} of the ${reviews.length} permissions this install needs${extra}`,
      hint: 'grant them (RBAC; cluster-admin is simplest for an install), or run as a user who has them',
      details: denied,
    };
  }
  return {
    name: 'Permissions',
    severity: 'ok',
    message: `user "${client.user}" has all ${reviews.length} permissions this install needs (get, create, patch, delete of each kind it writes, per namespace)${extra}`,
  };
}

async function existingControlPlanes(client: KubeClient, install: ResolvedInstall): Promise<Check[]> {
  const planes = await readControlPlanes(client);
  const me = install.owner;
  const mine = `IstioOperator ${me.namespace ? `${me.namespace}/` : ''}${me.name}`;
  const others = planes.filter((p) => p.owner !== mine);
  if (!others.length)
    return [
      {
        name: 'Existing control planes',
        severity: 'ok',
        message: planes.length
          ? `only this IstioOperator's own (${planes.map((p) => `${p.namespace}/${p.name}`).join(', ')})`
          : 'none found',
      },
    ];
  return others.map((p) => {
    const same = p.revision === me.rev;
    const what = `istiod ${p.namespace}/${p.name} (revision ${p.revision}, Istio ${p.version || 'unknown'}) installed by ${p.owner}`;
    if (same) {
      return {
        name: 'Existing control planes',
        severity: 'blocker' as const,
        message: `${what} has the revision this install would write (${me.rev}): the two would overwrite each other's webhooks and Deployments`,
        hint:
          p.installer === 'IstioOperator'
            ? 'change spec.revision, or edit that IstioOperator instead'
            : `install as a canary with another revision (--revision), or uninstall it with ${p.installer === 'Helm' ? 'helm uninstall' : p.installer === 'Sail' ? 'the Sail operator' : p.installer === 'istioctl' ? 'istioctl uninstall' : 'the tool that installed it'} first`,
      };
    }
    return {
      name: 'Existing control planes',
      severity: 'info' as const,
      message: `${what}: another revision, it can run beside this one (a canary)`,
    };
  });
}

async function gatewayApiCheck(client: KubeClient): Promise<Check> {
  const found = await Promise.all(
    GATEWAY_API_CRDS.map((r) =>
      client.request('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${r}.gateway.networking.k8s.io`, { allow404: true }),
    ),
  );
  const present = found.filter((c): c is LiveObject => !!c);
  if (!present.length) {
    return {
      name: 'Gateway API CRDs',
      severity: 'info',
      message: 'absent: Istio will not serve Gateway API resources until they are installed',
      hint: 'install the standard channel: kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/<version>/standard-install.yaml',
    };
  }
  const versions = [...new Set(present.map((c) => c.metadata.annotations?.['gateway.networking.k8s.io/bundle-version'] ?? 'unknown'))];
  const channels = [...new Set(present.map((c) => c.metadata.annotations?.['gateway.networking.k8s.io/channel'] ?? 'unknown'))];
  const missing = GATEWAY_API_CRDS.filter((r, i) => !found[i]);
  return {
    name: 'Gateway API CRDs',
    severity: missing.length ? 'warning' : 'ok',
    message: `present: bundle version ${versions.join(', ')}, channel ${channels.join(', ')}${missing.length ? `; missing ${missing.join(', ')}` : ''}`,
    details: present.map((c) => `${c.metadata.name} ${c.metadata.annotations?.['gateway.networking.k8s.io/bundle-version'] ?? ''}`.trim()),
  };
}
