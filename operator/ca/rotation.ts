import type { CaSettings } from './settings.js';

/**
 * Where a plug-in CA managed by the operator stands, and what to do next.
 * Root rotation keeps both roots trusted while workloads pick up the new trust bundle:
 *   1. `trust-both`: root-cert.pem = new + old, intermediate still from the old root;
 *   2. `switch`: a new intermediate from the new root, both roots still trusted;
 *   3. `done`: the old root is dropped once every workload has the new bundle (after `overlapMs`).
 */
export type RotationPhase = 'none' | 'trust-both' | 'switch';

export interface CaState {
  rootNotAfter: Date;
  intermediateNotAfter: Date;
  /** The intermediate was issued by the current root (false during `trust-both`). */
  intermediateFromCurrentRoot: boolean;
  phase: RotationPhase;
  /** When the current phase began. */
  phaseSince?: Date;
}

export type CaAction =
  | { kind: 'none'; nextCheck: Date }
  | { kind: 'renew-intermediate'; reason: string }
  | { kind: 'start-root-rotation'; reason: string }
  | { kind: 'switch-intermediate'; reason: string }
  | { kind: 'drop-old-root'; reason: string };

/**
 * Decides the next step. Pure: the operator calls it on every reconcile with the clock and the state it
 * read from its secrets, so a crash between steps resumes at the same step.
 * `overlapMs` is how long both roots stay trusted before the next phase (workload certificates are
 * rotated by the proxies within their 24h lifetime, so a day is the natural default).
 */
export function planCa(state: CaState, s: CaSettings, now: Date, overlapMs = 86_400_000): CaAction {
  const t = now.getTime();
  const since = state.phaseSince?.getTime() ?? 0;
  if (state.phase === 'trust-both') {
    if (t - since >= overlapMs) return { kind: 'switch-intermediate', reason: 'both roots have been trusted for the overlap period' };
    return { kind: 'none', nextCheck: new Date(since + overlapMs) };
  }
  if (state.phase === 'switch') {
    if (t - since >= overlapMs) return { kind: 'drop-old-root', reason: 'the new intermediate has served for the overlap period' };
    return { kind: 'none', nextCheck: new Date(since + overlapMs) };
  }
  // The root must outlive a fresh intermediate plus the overlap, or it is time to rotate it.
  if (state.rootNotAfter.getTime() - t < s.renewBeforeMs + overlapMs * 2) {
    return { kind: 'start-root-rotation', reason: `the root expires on ${state.rootNotAfter.toISOString()}` };
  }
  if (state.intermediateNotAfter.getTime() - t < s.renewBeforeMs) {
    return { kind: 'renew-intermediate', reason: `the intermediate expires on ${state.intermediateNotAfter.toISOString()}` };
  }
  const next = Math.min(state.intermediateNotAfter.getTime() - s.renewBeforeMs, state.rootNotAfter.getTime() - s.renewBeforeMs - overlapMs * 2);
  return { kind: 'none', nextCheck: new Date(next) };
}
