// Deep merge with Istio's overlay semantics: maps merge key by key, lists replace, and an explicit `null`
// in the overlay removes the key (so `values: { pilot: { autoscaleEnabled: } }` means "unset", never a crash).
//
// One exception, because Istio's IstioOperator type declares it with a merge key: the gateway lists
// `components.ingressGateways` / `components.egressGateways` merge element-wise by `name`, so a user file
// that lists `istio-ingressgateway` with only `k8s` settings keeps the profile's `enabled: true`. An explicitly
// empty list replaces, as istioctl's merge does: `ingressGateways: []` means no gateway of that kind (a canary
// revision that leaves the gateways to the running one).

import type { Values } from './types.js';

export function isMap(x: unknown): x is Values {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function clone<T>(x: T): T {
  if (Array.isArray(x)) return x.map(clone) as T;
  if (isMap(x)) {
    const out: Values = {};
    for (const [k, v] of Object.entries(x)) out[k] = clone(v);
    return out as T;
  }
  return x;
}

const MERGE_BY_NAME = new Set(['components.ingressGateways', 'components.egressGateways']);

/**
 * Merge `overlay` onto `base` (neither is modified). `path` is the dotted location of `base` below spec.
 * With `keepNulls` (used to stack user files before the profile is known) a null is carried along so it can
 * still unset what the profile sets. The result has the shape of its inputs: `T` is the caller's name for it.
 */
export function mergeSpec<T = Values>(base: unknown, overlay: unknown, path = '', keepNulls = false): T {
  return merged(base, overlay, path, keepNulls) as T;
}

function merged(base: unknown, overlay: unknown, path: string, keepNulls: boolean): unknown {
  if (overlay === undefined) return clone(base);
  if (!isMap(base) || !isMap(overlay)) {
    if (Array.isArray(base) && Array.isArray(overlay) && MERGE_BY_NAME.has(path)) return mergeByName(base, overlay, path, keepNulls);
    return keepNulls ? clone(overlay) : stripNulls(overlay);
  }
  const out: Values = clone(base);
  for (const [k, v] of Object.entries(overlay)) {
    if (v === null) {
      if (keepNulls) out[k] = null;
      else delete out[k];
      continue;
    }
    out[k] = k in out && out[k] !== null ? merged(out[k], v, path ? `${path}.${k}` : k, keepNulls) : keepNulls ? clone(v) : stripNulls(v);
  }
  return out;
}

function mergeByName(base: unknown[], overlay: unknown[], path: string, keepNulls: boolean): unknown[] {
  if (overlay.length === 0) return [];
  const out = base.map(clone);
  for (const item of overlay) {
    const name = isMap(item) ? item.name : undefined;
    const i = typeof name === 'string' ? out.findIndex((b) => isMap(b) && b.name === name) : -1;
    if (i >= 0) out[i] = merged(out[i], item, path, keepNulls);
    else out.push(keepNulls ? clone(item) : stripNulls(item));
  }
  return out;
}

/** Remove map keys whose value is null (they mean "unset"), recursively. List elements are kept as written. */
export function stripNulls<T>(x: T): T {
  if (Array.isArray(x)) return x.map(stripNulls) as T;
  if (isMap(x)) {
    const out: Values = {};
    for (const [k, v] of Object.entries(x)) if (v !== null) out[k] = stripNulls(v);
    return out as T;
  }
  return x;
}
