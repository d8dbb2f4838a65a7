import { isMap } from '../../api/merge.js';
import type { Values } from '../../api/types.js';

// Small readers for the loosely typed values tree, shared by the component views (values arrive from users'
// YAML: any key may hold any type, so every read says what it expects).

export { isMap };
export const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const asMap = (v: unknown): Values => (isMap(v) ? v : {});
export const hasEntries = (v: unknown): boolean => isMap(v) && Object.keys(v).length > 0;

/** A map with every value as a string (labels, annotations), null and undefined values dropped. */
export function stringMap(m: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(asMap(m))) if (val !== null && val !== undefined) out[k] = String(val);
  return out;
}
