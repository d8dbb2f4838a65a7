import type { FieldIssue } from './errors.js';
import { isMap } from './merge.js';

// The small schema language validation is written in: a schema per field (types, bounds, enums, closed or open
// mappings, lists, custom checks), and the checker that walks a value with it and collects every issue with its path.

export type Check = (v: unknown, path: string, out: FieldIssue[]) => void;
export type S =
  | { t: 'string' | 'bool' | 'number' | 'intOrString' | 'stringOrNumber' | 'any' | 'object' }
  | { t: 'int'; min?: number; max?: number; hint?: string }
  | { t: 'enum'; values: string[] }
  | { t: 'fields'; fields: Record<string, S>; open?: boolean; check?: Check }
  | { t: 'map'; of: S }
  | { t: 'list'; of: S; check?: Check }
  | { t: 'custom'; base: S; check: Check };

export const str: S = { t: 'string' };
export const bool: S = { t: 'bool' };
export const num: S = { t: 'number' };
export const int: S = { t: 'int' };
export const nonNeg: S = { t: 'int', min: 0 };
export const ios: S = { t: 'intOrString' };
export const sOrN: S = { t: 'stringOrNumber' };
export const anyValue: S = { t: 'any' };
export const obj: S = { t: 'object' };
export const strMap: S = { t: 'map', of: str };
export const fields = (f: Record<string, S>, open = false, check?: Check): S => ({
  t: 'fields',
  fields: f,
  open,
  ...(check ? { check } : {}),
});
export const list = (of: S, check?: Check): S => ({ t: 'list', of, ...(check ? { check } : {}) });
export const oneOf = (...values: string[]): S => ({ t: 'enum', values });
export const custom = (base: S, check: Check): S => ({ t: 'custom', base, check });

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

export function check(s: S, v: unknown, path: string, out: FieldIssue[]): void {
  if (v === undefined || v === null) return;
  const bad = (expected: string, hint?: string): void => {
    out.push({ path, message: `must be ${expected}, got ${typeName(v)}`, ...(hint ? { hint } : {}) });
  };
  switch (s.t) {
    case 'any':
      return;
    case 'object':
      if (!isMap(v)) bad('a mapping');
      return;
    case 'string':
      if (typeof v !== 'string') bad('a string', typeof v === 'number' || typeof v === 'boolean' ? `quote it: "${String(v)}"` : undefined);
      return;
    case 'bool':
      if (typeof v !== 'boolean') bad('true or false');
      return;
    case 'number':
      if (typeof v !== 'number') bad('a number');
      return;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) bad('an integer', s.hint);
      else if (s.min !== undefined && v < s.min)
        out.push({ path, message: `${v} is below the minimum`, hint: s.hint ?? `must be >= ${s.min}` });
      else if (s.max !== undefined && v > s.max)
        out.push({ path, message: `${v} is above the maximum`, hint: s.hint ?? `must be <= ${s.max}` });
      return;
    case 'intOrString':
      if (typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) bad('an integer or a string (quantity)');
      return;
    case 'stringOrNumber':
      if (typeof v !== 'string' && typeof v !== 'number') bad('a string or a number');
      return;
    case 'enum':
      if (typeof v !== 'string' || !s.values.includes(v)) {
        out.push({ path, message: `${JSON.stringify(v)} is not valid`, hint: `one of: ${s.values.filter((x) => x).join(', ')}` });
      }
      return;
    case 'custom':
      {
        const before = out.length;
        check(s.base, v, path, out);
        if (out.length === before) s.check(v, path, out);
      }
      return;
    case 'map':
      if (!isMap(v)) return bad('a mapping');
      for (const [k, x] of Object.entries(v)) check(s.of, x, `${path}.${k}`, out);
      return;
    case 'list':
      if (!Array.isArray(v)) return bad('a list');
      v.forEach((x, i) => check(s.of, x, `${path}[${i}]`, out));
      s.check?.(v, path, out);
      return;
    case 'fields': {
      if (!isMap(v)) return bad('a mapping');
      const known = Object.keys(s.fields);
      for (const [k, x] of Object.entries(v)) {
        const f = s.fields[k];
        if (f) check(f, x, `${path}.${k}`, out);
        else if (!s.open) {
          const near = didYouMean(k, known);
          out.push({
            path: `${path}.${k}`,
            message: 'unknown field',
            hint: near ? `did you mean "${near}"?` : known.length <= 20 ? `valid: ${known.join(', ')}` : unknownHint(path),
          });
        }
      }
      s.check?.(v, path, out);
      return;
    }
  }
}

export function unknownHint(parent: string): string {
  return parent.includes('.values')
    ? `not a known field of ${parent}; check the spelling, or put settings Istio's values do not define under spec.unvalidatedValues (or use --force)`
    : `not a known field of ${parent}`;
}

export function didYouMean(word: string, candidates: string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === w ? 0 : distance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 4)) ? best : undefined;
}

export function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}
