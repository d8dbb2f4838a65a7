import { fail } from '../api/errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, y: 365 * 86_400_000 };

/** Go-style durations plus days and years, as people write certificate lifetimes: `8760h`, `90d`, `10y`, `1h30m`. */
export function parseDuration(text: string, path: string): number {
  const s = String(text).trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|y)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNITS[m[2]];
    matched = re.lastIndex;
  }
  if (!s || matched !== s.length || total <= 0) fail(path, `"${text}" is not a duration`, 'a positive duration such as 8760h, 90d, 10y or 1h30m');
  return total;
}
