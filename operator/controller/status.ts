import type { Condition, IstioOperator, IstioOperatorStatus, OverallStatus } from '../api/types.js';
import { stableJson } from './filter.js';
import { resourcePath, type KubeClient } from '../apply/client.js';
import { FIELD_MANAGER } from '../apply/owner.js';

// Status is computed from what one reconcile learned, and written only when it differs from what is stored,
// so a no-op resync writes nothing. Conditions keep their lastTransitionTime unless their status flips, as
// Kubernetes API conventions ask; Argo CD and `kubectl wait --for=condition=Ready` read these.

export const IOP_GROUP = 'install.istio.io';
export const IOP_VERSION = 'v1alpha1';
export const IOP_RESOURCE = 'istiooperators';

export type ComponentState = { status: OverallStatus; error?: string };

/** What a reconcile learned, in the order it can learn it. */
export type Outcome =
  /** The spec cannot be rendered: nothing was applied. */
  | { kind: 'invalid'; message: string }
  /**
   * Applying failed. `retrying`: a transient failure (the apiserver unreachable, a conflict) retried with backoff;
   * otherwise only a change can fix it (refused by the apiserver, forbidden, owned by another install).
   */
  | { kind: 'applyFailed'; message: string; retrying?: boolean; components?: Record<string, ComponentState> }
  /**
   * Applied; per component whether it is ready, and when not, why. `stuck`: it cannot become ready without someone
   * acting (pods refused by admission or quota, a rollout past its deadline). `updating` = the spec moved since the last success.
   */
  | {
      kind: 'applied';
      components: Record<string, { ready: boolean; stuck?: boolean; message?: string }>;
      updating: boolean;
      note?: string;
      inUse?: { inUse: boolean; message: string };
    }
  /** Deletion is blocked until someone acts (revision in use). */
  | { kind: 'actionRequired'; message: string; components?: Record<string, ComponentState> }
  /** Work started and nothing is known yet (first sight of a generation). */
  | { kind: 'reconciling'; message: string }
  /** The IstioOperator lives in a namespace the operator does not trust: nothing is done for it. */
  | { kind: 'untrusted'; message: string };

type Cond = Omit<Condition, 'lastTransitionTime'>;
const cond = (type: string, on: boolean, reason: string, message: string): Cond => ({
  type,
  status: on ? 'True' : 'False',
  reason,
  message,
});

/**
 * The status a reconcile writes. Beside Istio's `status.status` (read by Argo CD's health check), conditions as
 * kstatus reads them (Flux health checks): `Reconciling=True` while work is in progress or a transient failure is
 * retried, `Stalled=True` when nothing will change without someone acting, `Ready=True` when every component is
 * ready; `observedGeneration` on the status and each condition says which spec they describe.
 */
export function computeStatus(
  prev: IstioOperatorStatus | undefined,
  generation: number | undefined,
  outcome: Outcome,
  now: Date,
): IstioOperatorStatus {
  let status: OverallStatus;
  let message: string;
  let componentStatus: Record<string, ComponentState> | undefined = prev?.componentStatus;
  const conds: Cond[] = [];
  const gen = generation;
  let reconciling: Cond | undefined;
  let stalled: Cond | undefined;
  switch (outcome.kind) {
    case 'invalid':
      status = 'ERROR';
      message = outcome.message;
      conds.push({ type: 'Reconciled', status: 'False', reason: 'InvalidSpec', message });
      // What is installed keeps running and keeps its last component statuses: an invalid edit touches nothing.
      conds.push(keepReady(prev));
      stalled = cond('Stalled', true, 'InvalidSpec', message);
      break;
    case 'applyFailed':
      status = 'ERROR';
      message = outcome.message;
      if (outcome.components) componentStatus = outcome.components;
      conds.push({ type: 'Reconciled', status: 'False', reason: 'ApplyFailed', message });
      conds.push(keepReady(prev));
      if (outcome.retrying) reconciling = cond('Reconciling', true, 'RetryingAfterFailure', message);
      else stalled = cond('Stalled', true, 'ApplyFailed', message);
      break;
    case 'applied': {
      componentStatus = {};
      const waiting: string[] = [];
      const stuck: string[] = [];
      for (const [c, s] of Object.entries(outcome.components).sort(([a], [b]) => a.localeCompare(b))) {
        const st: OverallStatus = s.ready ? 'HEALTHY' : s.stuck ? 'ERROR' : outcome.updating ? 'UPDATING' : 'RECONCILING';
        componentStatus[c] = s.ready || !s.message ? { status: st } : { status: st, error: s.message };
        if (!s.ready) (s.stuck ? stuck : waiting).push(s.message ? `${c}: ${s.message}` : c);
      }
      const ready = !waiting.length && !stuck.length;
      status = ready ? 'HEALTHY' : stuck.length ? 'ERROR' : outcome.updating ? 'UPDATING' : 'RECONCILING';
      message = ready
        ? 'all components are installed and ready'
        : stuck.length
          ? `cannot become ready: ${[...stuck, ...waiting].join('; ')}`
          : `waiting for ${waiting.join('; ')}`;
      if (outcome.note) message += `; ${outcome.note}`;
      conds.push({ type: 'Reconciled', status: 'True', reason: 'Applied', message: 'the rendered manifests are applied' });
      conds.push(
        ready
          ? { type: 'Ready', status: 'True', reason: 'ComponentsReady', message }
          : { type: 'Ready', status: 'False', reason: stuck.length ? 'ComponentsStalled' : 'ComponentsNotReady', message },
      );
      // Who uses this revision (counts and a sample), as of this reconcile: what deletion would wait for.
      if (outcome.inUse)
        conds.push({
          type: 'InUse',
          status: outcome.inUse.inUse ? 'True' : 'False',
          reason: outcome.inUse.inUse ? 'RevisionInUse' : 'RevisionUnused',
          message: outcome.inUse.message,
        });
      if (stuck.length) stalled = cond('Stalled', true, 'ComponentsStalled', message);
      else if (!ready) reconciling = cond('Reconciling', true, 'ComponentsNotReady', message);
      break;
    }
    case 'actionRequired':
      status = 'ACTION_REQUIRED';
      message = outcome.message;
      if (outcome.components) componentStatus = outcome.components;
      conds.push({ type: 'Reconciled', status: 'False', reason: 'DeletionBlocked', message });
      conds.push(keepReady(prev));
      conds.push({ type: 'InUse', status: 'True', reason: 'RevisionInUse', message });
      stalled = cond('Stalled', true, 'DeletionBlocked', message);
      break;
    case 'reconciling':
      status = 'RECONCILING';
      message = outcome.message;
      conds.push({ type: 'Reconciled', status: 'Unknown', reason: 'Reconciling', message });
      conds.push(keepReady(prev));
      reconciling = cond('Reconciling', true, 'Reconciling', message);
      break;
    case 'untrusted':
      status = 'ERROR';
      message = outcome.message;
      conds.push({ type: 'Reconciled', status: 'False', reason: 'UntrustedNamespace', message });
      conds.push(keepReady(prev));
      stalled = cond('Stalled', true, 'UntrustedNamespace', message);
      break;
  }
  // kstatus: both are always present, so a flip is a transition with its own time.
  conds.push(reconciling ?? cond('Reconciling', false, 'Idle', 'no work in progress'));
  conds.push(stalled ?? cond('Stalled', false, 'Progressing', 'nothing blocks the reconcile'));
  const next: IstioOperatorStatus = { status, message };
  if (gen !== undefined) next.observedGeneration = gen;
  if (componentStatus && Object.keys(componentStatus).length) next.componentStatus = componentStatus;
  next.conditions = conds.map((c) => {
    const old = prev?.conditions?.find((p) => p.type === c.type);
    const out: Condition = { ...c, lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now.toISOString() };
    if (gen !== undefined) out.observedGeneration = gen;
    return out;
  });
  return next;
}

function keepReady(prev: IstioOperatorStatus | undefined): Omit<Condition, 'lastTransitionTime'> {
  const old = prev?.conditions?.find((c) => c.type === 'Ready');
  if (old) return { type: 'Ready', status: old.status, reason: old.reason, message: old.message };
  return { type: 'Ready', status: 'Unknown', reason: 'NotInstalled', message: 'nothing has been installed yet' };
}

/** Same status modulo nothing: used to skip writes. */
export function sameStatus(a: IstioOperatorStatus | undefined, b: IstioOperatorStatus | undefined): boolean {
  return stableJson(a ?? {}) === stableJson(b ?? {});
}

/**
 * A JSON merge patch that turns `prev` into `next` at /status: keys that disappear are nulled, so a component
 * removed from the spec also leaves componentStatus. Arrays (conditions) are replaced whole, which is what we want.
 */
export function statusMergePatch(prev: IstioOperatorStatus | undefined, next: IstioOperatorStatus): Record<string, unknown> {
  return { status: mergeDiff(prev ?? {}, next) };
}

function mergeDiff(prev: object, next: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(prev)) if (!(k in next)) out[k] = null;
  for (const [k, v] of Object.entries(next) as Array<[string, unknown]>) {
    const p = (prev as Record<string, unknown>)[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && p && typeof p === 'object' && !Array.isArray(p)) out[k] = mergeDiff(p, v);
    else out[k] = v;
  }
  return out;
}

/**
 * Write the status through the status subresource (never the spec). Returns false when nothing changed and no
 * request was made. A 404 means the object is gone, which is not an error for a status write.
 */
export async function writeStatus(kube: KubeClient, iop: IstioOperator, next: IstioOperatorStatus): Promise<boolean> {
  if (sameStatus(iop.status, next)) return false;
  const path = resourcePath(IOP_GROUP, IOP_VERSION, IOP_RESOURCE, iop.metadata?.namespace, iop.metadata?.name, 'status');
  const r = await kube.request<IstioOperator>('PATCH', path, {
    body: statusMergePatch(iop.status, next),
    contentType: 'application/merge-patch+json',
    query: { fieldManager: FIELD_MANAGER },
    allow404: true,
  });
  if (r?.status) iop.status = r.status;
  // undefined: the object is gone (404); a patch that succeeded always answers with the object.
  return r !== undefined;
}

/** Numeric form for the per-IstioOperator status gauge (same numbers Istio's proto and Argo's script use; 5 = ACTION_REQUIRED). */
export const STATUS_CODE: Record<OverallStatus, number> = {
  NONE: 0,
  UPDATING: 1,
  RECONCILING: 2,
  HEALTHY: 3,
  ERROR: 4,
  ACTION_REQUIRED: 5,
};
