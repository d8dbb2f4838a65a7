import { clone, isMap } from '../api/merge.js';

// A small strategic merge patch, enough for the fields `components.<c>.k8s` touches: Istio applies those
// settings with Kubernetes' strategic merge, so `env` merges by name (a user's POD_NAME replaces ours in
// place, new variables follow it), `volumeMounts` by mountPath, Service `ports` by port, and lists without
// a merge key (tolerations, HPA metrics, args) are replaced whole. An explicit null removes a field.

/** The merge key of a list, from the field names leading to it (list indices omitted); undefined: replace. */
export function listMergeKey(fieldPath: string[]): string | undefined {
  const last = fieldPath[fieldPath.length - 1];
  const parent = fieldPath[fieldPath.length - 2];
  switch (last) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'volumeDevices':
      return 'devicePath';
    case 'hostAliases':
      return 'ip';
    case 'topologySpreadConstraints':
      return 'topologyKey';
    case 'ports':
      // Container ports merge by containerPort; a Service's by port.
      return parent === 'containers' ? 'containerPort' : 'port';
    default:
      return undefined;
  }
}

/** Returns `original` with `patch` merged in (neither is modified). `fieldPath` locates `original`. */
export function strategicMerge(original: unknown, patch: unknown, fieldPath: string[] = []): unknown {
  if (patch === undefined) return clone(original);
  if (isMap(original) && isMap(patch)) {
    if (patch.$patch === 'replace') {
      const { $patch: _, ...rest } = patch;
      return dropNulls(rest);
    }
    const out: Record<string, unknown> = clone(original);
    for (const [k, v] of Object.entries(patch)) {
      if (k === '$patch') continue;
      if (v === null) delete out[k];
      else out[k] = k in out ? strategicMerge(out[k], v, [...fieldPath, k]) : dropNulls(v);
    }
    return out;
  }
  if (Array.isArray(original) && Array.isArray(patch)) {
    const key = listMergeKey(fieldPath);
    if (key) return mergeKeyedList(original, patch, key, fieldPath);
  }
  return dropNulls(patch);
}

function keyOf(x: unknown, key: string): string | undefined {
  return isMap(x) && x[key] !== undefined && x[key] !== null ? JSON.stringify(x[key]) : undefined;
}

// Same element order as Kubernetes' merge: patch elements keep the patch's order; an original element that
// the patch does not mention stays where it was relative to the patch elements it preceded.
function mergeKeyedList(original: unknown[], patch: unknown[], key: string, fieldPath: string[]): unknown[] {
  const serverOrder = original.map((o) => keyOf(o, key));
  const patched: unknown[] = [];
  const deleted = new Set<string>();
  const mentioned = new Set<string>();
  for (const p of patch) {
    const k = keyOf(p, key);
    if (k === undefined) {
      patched.push(dropNulls(p));
      continue;
    }
    mentioned.add(k);
    if (isMap(p) && p.$patch === 'delete') {
      deleted.add(k);
      continue;
    }
    const i = serverOrder.indexOf(k);
    patched.push(i >= 0 ? strategicMerge(original[i], p, fieldPath) : dropNulls(p));
  }
  const serverOnly = original.filter((o) => {
    const k = keyOf(o, key);
    return k === undefined || (!mentioned.has(k) && !deleted.has(k));
  });
  const idx = (x: unknown) => {
    const k = keyOf(x, key);
    return k === undefined ? -1 : serverOrder.indexOf(k);
  };
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < patched.length) {
    if (j >= patched.length) out.push(clone(serverOnly[i++]));
    else if (i >= serverOnly.length) out.push(patched[j++]);
    else {
      const l = idx(serverOnly[i]);
      const r = idx(patched[j]);
      if (l >= 0 && r >= 0 && l < r) out.push(clone(serverOnly[i++]));
      else out.push(patched[j++]);
    }
  }
  return out;
}

function dropNulls(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(dropNulls);
  if (isMap(x)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) if (v !== null && k !== '$patch') out[k] = dropNulls(v);
    return out;
  }
  return x;
}
