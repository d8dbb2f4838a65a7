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
  /** Rendering worked but applying or pruning failed. */
  | { kind: 'applyFailed'; message: string; components?: Record<string, ComponentState> }
  /** Applied; `notReady` names what is still coming up, per component. `updating` = the spec moved since the last success. */
  | { kind: 'applied'; components: Record<string, { ready: boolean; message?: string }>; updating: boolean; note?: string; inUse?: { inUse: boolean; message: string } }
  /** Deletion is blocked until someone acts (revision in use). */
  | { kind: 'actionRequired'; message: string; components?: Record<string, ComponentState> }
  /** Work started and nothing is known yet (first sight of a generation). */
  | { kind: 'reconciling'; message: string }
  /** The IstioOperator lives in a namespace the operator does not trust: nothing is done for it. */
  | { kind: 'untrusted'; message: string };

export function computeStatus(prev: IstioOperatorStatus | undefined, generation: number | undefined, outcome: Outcome, now: Date): IstioOperatorStatus {
  let status: OverallStatus;
  let message: string;
  let componentStatus: Record<string, ComponentState> | undefined = prev?.componentStatus;
  const conds: Array<Omit<Condition, 'lastTransitionTime'>> = [];
  const gen = generation;
  switch (outcome.kind) {
    case 'invalid':
      status = 'ERROR';
      message = outcome.message;
      conds.push({ type: 'Reconciled', status: 'False', reason: 'InvalidSpec', message });
      // What is installed keeps running and keeps its last component statuses: an invalid edit touches nothing.
      conds.push(keepReady(prev));
      break;
    case 'applyFailed':
      status = 'ERROR';
      message = outcome.message;
      if (outcome.components) componentStatus = outcome.components;
      conds.push({ type: 'Reconciled', status: 'False', reason: 'ApplyFailed', message });
      conds.push(keepReady(prev));
      break;
    case 'applied': {
      componentStatus = {};
      const waiting: string[] = [];
      for (const [c, s] of Object.entries(outcome.components).sort(([a], [b]) => a.localeCompare(b))) {
        const st: OverallStatus = s.ready ? 'HEALTHY' : outcome.updating ? 'UPDATING' : 'RECONCILING';
        componentStatus[c] = s.ready || !s.message ? { status: st } : { status: st, error: s.message };
        if (!s.ready) waiting.push(s.message ? `${c}: ${s.message}` : c);
      }
      const ready = waiting.length === 0;
      status = ready ? 'HEALTHY' : outcome.updating ? 'UPDATING' : 'RECONCILING';
      message = ready ? 'all components are installed and ready' : `waiting for ${waiting.join('; ')}`;
      if (outcome.note) message += `; ${outcome.note}`;
      conds.push({ type: 'Reconciled', status: 'True', reason: 'Applied', message: 'the rendered manifests are applied' });
      conds.push(ready ? { type: 'Ready', status: 'True', reason: 'ComponentsReady', message } : { type: 'Ready', status: 'False', reason: 'ComponentsNotReady', message });
      // Who uses this revision (counts and a sample), as of this reconcile: what deletion would wait for.
      if (outcome.inUse) conds.push({ type: 'InUse', status: outcome.inUse.inUse ? 'True' : 'False', reason: outcome.inUse.inUse ? 'RevisionInUse' : 'RevisionUnused', message: outcome.inUse.message });
      break;
    }
    case 'actionRequired':
      status = 'ACTION_REQUIRED';
      message = outcome.message;
      if (outcome.components) componentStatus = outcome.components;
      conds.push({ type: 'Reconciled', status: 'False', reason: 'DeletionBlocked', message });
      conds.push(keepReady(prev));
      conds.push({ type: 'InUse', status: 'True', reason: 'RevisionInUse', message });
      break;
    case 'untrusted':
      status = 'ERROR';
      message = outcome.message;
      conds.push({ type: 'Reconciled', status: 'False', reason: 'UntrustedNamespace', message });
      conds.push(keepReady(prev));
      break;
    case 'reconciling':
      status = 'RECONCILING';
      message = outcome.message;
      conds.push({ type: 'Reconciled', status: 'Unknown', reason: 'Reconciling', message });
      conds.push(keepReady(prev));
      break;
  }
  const next: IstioOperatorStatus = { status, message };
  if (gen !== undefined) next.observedGeneration = gen;
  if (componentStatus && Object.keys(componentStatus).length) next.componentStatus = componentStatus;
  next.conditions = conds.map((c) => {
    const old = prev?.conditions?.find((p) => p.type === c.type);
    const cond: Condition = { ...c, lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now.toISOString() };
    if (gen !== undefined) cond.observedGeneration = gen;
    return cond;
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

function mergeDiff(prev: Record<string, any>, next: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = {};
  for (const k of Object.keys(prev)) if (!(k in next)) out[k] = null;
  for (const [k, v] of Object.entries(next)) {
    const p = prev[k];
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
  const r = await kube.request('PATCH', path, {
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
export const STATUS_CODE: Record<OverallStatus, number> = { NONE: 0, UPDATING: 1, RECONCILING: 2, HEALTHY: 3, ERROR: 4, ACTION_REQUIRED: 5 };
