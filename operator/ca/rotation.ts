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
  /** During a root rotation: when the old root expires (an intermediate from it cannot outlive it). */
  previousRootNotAfter?: Date;
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
    // Workloads may not trust the new root yet, so an intermediate about to expire is renewed from the old
    // root (whose key is kept until the rotation ends) rather than switched early.
    if (state.intermediateNotAfter.getTime() - t < s.renewBeforeMs) {
      const old = state.previousRootNotAfter?.getTime();
      if (old !== undefined && old - t < s.renewBeforeMs) {
        return {
          kind: 'switch-intermediate',
          reason: `the old root expires on ${new Date(old).toISOString()}, so the intermediate cannot be renewed from it`,
        };
      }
      return {
        kind: 'renew-intermediate',
        reason: `the intermediate expires on ${state.intermediateNotAfter.toISOString()}, before the overlap ends`,
      };
    }
    return { kind: 'none', nextCheck: new Date(Math.min(since + overlapMs, state.intermediateNotAfter.getTime() - s.renewBeforeMs)) };
  }
  if (state.phase === 'switch') {
    if (t - since >= overlapMs) return { kind: 'drop-old-root', reason: 'the new intermediate has served for the overlap period' };
    if (state.intermediateNotAfter.getTime() - t < s.renewBeforeMs) {
      return { kind: 'renew-intermediate', reason: `the intermediate expires on ${state.intermediateNotAfter.toISOString()}` };
    }
    return { kind: 'none', nextCheck: new Date(Math.min(since + overlapMs, state.intermediateNotAfter.getTime() - s.renewBeforeMs)) };
  }
  // The root must outlive a fresh intermediate plus the overlap, or it is time to rotate it.
  if (state.rootNotAfter.getTime() - t < s.renewBeforeMs + overlapMs * 2) {
    return { kind: 'start-root-rotation', reason: `the root expires on ${state.rootNotAfter.toISOString()}` };
  }
  if (state.intermediateNotAfter.getTime() - t < s.renewBeforeMs) {
    return { kind: 'renew-intermediate', reason: `the intermediate expires on ${state.intermediateNotAfter.toISOString()}` };
  }
  const next = Math.min(
    state.intermediateNotAfter.getTime() - s.renewBeforeMs,
    state.rootNotAfter.getTime() - s.renewBeforeMs - overlapMs * 2,
  );
  return { kind: 'none', nextCheck: new Date(next) };
}

/**
 * The overlap actually used: the requested one (a day by default), but at most a quarter of what a fresh root
 * lives beyond `renewBefore`, so that a new root is never due for rotation the moment it is made (short
 * lifetimes are for tests; a real root lives years and gets the full overlap).
 */
export function overlapFor(s: CaSettings, requestedMs: number): number {
  return Math.max(1, Math.min(requestedMs, Math.floor((s.rootLifetimeMs - s.renewBeforeMs) / 4)));
}
