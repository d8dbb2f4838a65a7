import type { Warning } from '../api/errors.js';
import type { ResolvedInstall } from '../api/install.js';
import type { K8sObject, RemoteStatus } from '../api/types.js';
import type { KubeClient } from '../apply/client.js';
import { install as applyObjects, waitInstalled, type InstallOptions, type InstallResult } from '../apply/install.js';
import { silentProgress, type Progress } from '../apply/readiness.js';
import { prepareCa } from '../ca/cluster.js';
import type { CaResult } from '../ca/types.js';
import { render } from '../render/index.js';
import { remoteOf } from './remote.js';

// The install workflow, the one sequence the CLI (`install`, `diff`) and the operator's reconcile both run:
//
//   prepare: render (pure) → check the CA without writing (a provided secret istiod cannot use stops here)
//   apply:   namespace → write the CA that is due (before istiod starts) → stages of server-side applies of
//            what differs → inventory → prune → wait (optionally)
//
// Split in two so that a caller can look at what would happen (print warnings, ask for confirmation, check for
// a conflicting owner) before anything is written. Every error before `apply` leaves the cluster untouched.

export interface PreparedInstall {
  install: ResolvedInstall;
  objects: K8sObject[];
  /** Render's warnings (resolve's are the caller's: it resolved). */
  warnings: Warning[];
  /** The CA as it stands, from a read-only check: `due` when apply must write it first. */
  ca: CaResult;
  caDue: boolean;
  /** Set for a remote (no istiod of its own): the primary it points at. */
  remote?: RemoteStatus;
}

/** Renders and checks the CA. Reads the cluster (the CA secrets), writes nothing; throws InputError on bad input. */
export async function prepareInstall(client: KubeClient, install: ResolvedInstall, now = new Date()): Promise<PreparedInstall> {
  const { objects, warnings } = render(install);
  const ca = await prepareCa(client, install, now, { dryRun: true });
  const remote = remoteOf(install, objects);
  return {
    install,
    objects,
    warnings: [...warnings, ...ca.warnings],
    ca,
    caDue: ca.outcome !== 'none' && ca.outcome !== 'validated',
    ...(remote ? { remote } : {}),
  };
}

export interface ApplyInstallOptions extends Omit<InstallOptions, 'owner' | 'namespace' | 'beforeApply'> {
  now?: Date;
  /** Wait for every Deployment and DaemonSet to be ready (the CLI's --wait). */
  wait?: boolean;
  progress?: Progress;
  /** Called once the CA secrets were written (only when something was due). */
  onCaWritten?: (ca: CaResult) => void | Promise<void>;
}

export interface AppliedInstall {
  apply: InstallResult;
  /** The CA after this install: what was written, or the read-only check when nothing was due. */
  ca: CaResult;
}

/** Writes what `prepareInstall` decided. */
export async function applyInstall(client: KubeClient, p: PreparedInstall, opts: ApplyInstallOptions = {}): Promise<AppliedInstall> {
  let ca = p.ca;
  const { now, wait, onCaWritten, ...rest } = opts;
  const apply = await applyObjects(client, p.objects, {
    ...rest,
    owner: p.install.owner,
    namespace: p.install.istioNamespace,
    spec: p.install.userSpec as Record<string, unknown>,
    beforeApply: async () => {
      // Once the namespace exists and before any rendered object: istiod must find a valid `cacerts` when it
      // starts, instead of minting its own self-signed root.
      if (opts.dryRun || !p.caDue) return;
      ca = await prepareCa(client, p.install, now ?? new Date());
      await onCaWritten?.(ca);
    },
  });
  if (wait && !opts.dryRun) await waitInstalled(client, p.objects, opts.timeoutMs ?? 300_000, opts.progress ?? silentProgress);
  return { apply, ca };
}
