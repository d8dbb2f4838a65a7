import { fail } from './errors.js';

// One reading of durations for the whole project: CLI flags (--timeout), spec fields
// (components.ca lifetimes) and validation all agree on what `90d` or `1h30m` means.
const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  y: 365 * 86_400_000,
};
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|y)/gy;
export const DURATION_HINT = 'a duration such as 90s, 5m, 1h30m, 8760h, 90d or 10y';

/** Milliseconds, or undefined when `text` is not a duration. Go's units plus days and years, as people write certificate lifetimes. */
export function durationMs(text: string, opts: { bareSeconds?: boolean } = {}): number | undefined {
  const s = String(text).trim();
  if (opts.bareSeconds && /^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  PART.lastIndex = 0;
  let total = 0;
  let pos = 0;
  for (let m = PART.exec(s); m; m = PART.exec(s)) {
    total += Number(m[1]) * UNITS[m[2]];
    pos = PART.lastIndex;
  }
  return s !== '' && pos === s.length ? total : undefined;
}

/** Like durationMs, but a positive duration or an InputError naming `path`. */
export function parseDuration(text: string, path: string, opts: { bareSeconds?: boolean } = {}): number {
  const ms = durationMs(text, opts);
  if (ms === undefined || ms <= 0) fail(path, `${JSON.stringify(text)} is not a duration`, DURATION_HINT);
  return ms;
}
