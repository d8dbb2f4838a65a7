import type { K8sObject } from '../api/types.js';
import { kindRank, stageIndex, stageOf, STAGES, type Stage } from '../api/kinds.js';

// The order objects are written and applied in, from the kinds table (api/kinds.ts): what others depend on comes
// first (CRDs before anything of their kinds, namespaces before what lives in them, RBAC and config before the
// workloads that use them), and webhooks last, so the API server never calls an istiod that is not there yet.

export { STAGES, type Stage };

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareObjects(a: K8sObject, b: K8sObject): number {
  return (
    stageIndex(a.kind) - stageIndex(b.kind) ||
    kindRank(a.kind) - kindRank(b.kind) ||
    cmp(a.kind, b.kind) ||
    cmp(a.metadata?.namespace ?? '', b.metadata?.namespace ?? '') ||
    cmp(a.metadata?.name ?? '', b.metadata?.name ?? '') ||
    cmp(a.apiVersion, b.apiVersion)
  );
}

/** A new array in apply order (the input is left as it is). */
export function sortObjects(objects: K8sObject[]): K8sObject[] {
  return [...objects].sort(compareObjects);
}

/** Objects grouped by stage, in stage order; empty stages omitted. */
export function byStage(objects: K8sObject[]): Array<{ stage: Stage; objects: K8sObject[] }> {
  const sorted = sortObjects(objects);
  return STAGES.map((stage) => ({ stage, objects: sorted.filter((o) => stageOf(o.kind) === stage) })).filter((s) => s.objects.length > 0);
}
