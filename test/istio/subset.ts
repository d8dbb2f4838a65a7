import { quantityAmount } from '../../operator/api/quantity.js';
// Whether istiod runs with what we rendered: every field of our config (e.g. the mesh config YAML) against what
// istiod reports it runs with (its /debug/mesh, the protobuf's JSON). Pure; unit-tested in test/unit/istio.

export interface Mismatch {
  path: string;
  ours: unknown;
  istiod: unknown;
}

/** A Kubernetes quantity with a unit suffix (`500m`, `2Gi`) as a number; undefined for anything else (a plain number
 *  string stays a string to compare). */
export function quantityValue(s: string): number | undefined {
  return /^[0-9.]+[a-zA-Z]+$/.test(s) ? quantityAmount(s) : undefined;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Leaves of `ours` that `theirs` does not have with the same value. Protobuf's JSON writes 64-bit integers as
 * strings and drops empty values, so a number and its decimal string are equal, and an empty list, map or string
 * of ours matches an absent field. Lists of named items (extensionProviders) compare by name, each of ours against
 * theirs of that name: istiod merges them by name onto its own defaults (pkg/config/mesh ApplyMeshConfig); other
 * lists compare by index. Fields only `theirs` has (istiod's defaults for what we leave out) are not compared.
 */
export function subsetMismatches(ours: unknown, theirs: unknown, path = ''): Mismatch[] {
  if (isObj(ours)) {
    if (theirs === undefined && Object.keys(ours).length === 0) return [];
    if (!isObj(theirs)) return [{ path: path || '.', ours, istiod: theirs }];
    return Object.entries(ours).flatMap(([k, v]) => subsetMismatches(v, theirs[k], `${path}.${k}`));
  }
  if (Array.isArray(ours)) {
    if (theirs === undefined && ours.length === 0) return [];
    const named = (xs: unknown[]) => xs.length > 0 && xs.every((x) => isObj(x) && typeof x.name === 'string');
    if (Array.isArray(theirs) && named(ours) && named(theirs)) {
      return ours.flatMap((v) => {
        const name = (v as { name: string }).name;
        return subsetMismatches(
          v,
          theirs.find((x) => (x as { name: string }).name === name),
          `${path}[name=${name}]`,
        );
      });
    }
    if (!Array.isArray(theirs) || theirs.length !== ours.length) return [{ path: path || '.', ours, istiod: theirs }];
    return ours.flatMap((v, i) => subsetMismatches(v, theirs[i], `${path}[${i}]`));
  }
  if (ours === theirs) return [];
  if (ours === '' && theirs === undefined) return [];
  // The API server writes quantities in canonical form (2048Mi is stored as 2Gi).
  if (
    typeof ours === 'string' &&
    typeof theirs === 'string' &&
    quantityValue(ours) !== undefined &&
    quantityValue(ours) === quantityValue(theirs)
  )
    return [];
  if (
    (typeof ours === 'number' || typeof ours === 'string') &&
    (typeof theirs === 'number' || typeof theirs === 'string') &&
    String(ours) === String(theirs)
  )
    return [];
  return [{ path: path || '.', ours, istiod: theirs }];
}
