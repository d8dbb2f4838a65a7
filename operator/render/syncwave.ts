import type { K8sObject } from '../api/types.js';
import { STAGES, stageIndex } from '../api/kinds.js';

// Argo CD applies a sync wave only after every object of the waves before it is healthy, so giving each
// apply stage its own wave makes Argo CD follow the order install uses (order.ts decides it, once): CRDs
// are Established before anything of their kinds, istiod serves before the webhooks that call it.
//
// The CRD wave is negative so CRDs also precede anything a user adds to the same Application without an
// annotation (Argo CD's default wave is 0). Only the `render` command adds these: the apply path never
// writes them, so an install and an Argo CD sync of the same IstioOperator produce the same objects apart
// from this one annotation.

export const SYNC_WAVE_ANNOTATION = 'argocd.argoproj.io/sync-wave';

/** Wave of the first stage (the CRDs); later stages count up from it, one wave each. */
export const FIRST_WAVE = -1;

/** The sync wave of an object: its apply stage, counted from FIRST_WAVE. */
export function syncWave(o: Pick<K8sObject, 'kind'>): number {
  return FIRST_WAVE + stageIndex(o.kind);
}

/** The waves, by stage, as documentation and tests show them. */
export function syncWaves(): Array<{ stage: (typeof STAGES)[number]; wave: number }> {
  return STAGES.map((stage, i) => ({ stage, wave: FIRST_WAVE + i }));
}

/**
 * Copies of the objects with their sync-wave annotation set (the input is left as it is: render results may
 * be shared with code that must not see the annotation). A wave a user set through an overlay is replaced,
 * since a wave out of stage order would let Argo CD apply a workload before its CRD or RBAC.
 */
export function withSyncWaves(objects: K8sObject[]): K8sObject[] {
  return objects.map((o) => ({
    ...o,
    metadata: { ...o.metadata, annotations: { ...(o.metadata.annotations ?? {}), [SYNC_WAVE_ANNOTATION]: String(syncWave(o)) } },
  }));
}
