import { FIELD_MANAGER } from './owner.js';
import type { K8sObject } from '../api/types.js';
import type { FieldsV1, LiveObject } from '../api/live.js';
import { quantityAmount } from '../api/quantity.js';

// A read-only shortcut for "would this apply change anything?", to skip the dry-run round trip.
//
// A server-side apply by manager M with body B changes the object only by (1) setting the fields of B to
// B's values, or (2) removing fields M owned before that are not in B (and nobody else owns). So it is a
// no-op when (1) every field of B already holds B's value in the live object, and (2) the set of fields
// M owns (its Apply entry in managedFields) is exactly the set of fields in B. Both are checked here by
// walking M's fieldsV1 tree and B together, and the live object alongside for values.
//
// The check only ever answers "certainly unchanged" or "not sure": anything it cannot prove (a list item
// whose key the server defaulted, an atomic value the server normalised or defaulted, ordering) answers
// "not sure", and the caller falls back to the exact dry-run comparison. So it can cost a dry-run, never
// skip a needed write.

type Json = unknown;
type Fields = FieldsV1;

const isMap = (v: Json): v is Record<string, Json> => !!v && typeof v === 'object' && !Array.isArray(v);
const zero = (v: Json): boolean => v === '' || v === 0 || v === false || emptyish(v) || (Array.isArray(v) && v.length === 0);
const emptyish = (v: Json): boolean => v === null || (isMap(v) && Object.keys(v).length === 0);

function deepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Walks our owned-field tree `f`, the desired value `d` and the live value `l` together. */
function walk(f: Fields, d: Json, l: Json, path = '', why: string[] = []): boolean {
  const no = (r: string) => (why.push(`${path || '.'}: ${r}`), false);
  const entries = Object.keys(f).filter((k) => k !== '.');
  // A leaf: the whole value is owned as one (scalar or atomic). It must be live exactly as desired.
  // Zero values of omitempty fields are owned but not stored: owned + absent + zero desired is equal.
  if (entries.length === 0) {
    if (deepEqual(d, l) || (zero(d) && (l === undefined || emptyish(l)))) return true;
    // Resource quantities are stored canonicalised (2048Mi → 2Gi): equal amounts are equal.
    if (/\.resources\.(limits|requests)\.[^.]+$/.test(path) && sameQuantity(d, l)) return true;
    return no('live value differs');
  }
  if (isMap(d)) {
    if (!isMap(l)) return no('live is not a map');
    // `{}` and null in a body set nothing: the server neither records them as owned nor keeps them.
    const keys = Object.keys(d).filter((k) => f[`f:${k}`] || !emptyish(d[k]));
    if (entries.length !== keys.length) return no(`owned ${entries.join(',')} vs desired ${keys.join(',')}`);
    for (const k of keys) {
      const sub = f[`f:${k}`];
      if (!sub) return no(`not owned: ${k}`);
      if (!walk(sub, d[k], l[k], `${path}.${k}`, why)) return false;
    }
    return true;
  }
  if (Array.isArray(d)) {
    if (!Array.isArray(l) || entries.length !== d.length) return no(`list: owned ${entries.length} vs desired ${d.length}`);
    let lastLive = -1;
    const used = new Set<string>();
    for (const item of d) {
      const entry = entries.find((e) => !used.has(e) && entryMatches(e, item));
      if (!entry) return no(`no owned entry for item ${JSON.stringify(item).slice(0, 80)} among ${entries.join(' ')}`);
      used.add(entry);
      const li = l.findIndex((x) => entryMatches(entry, x));
      // Our items must appear in the live list in our order: an apply would reorder them otherwise.
      if (li <= lastLive) return no(`order or missing live item ${entry}`);
      lastLive = li;
      if (!walk(f[entry]!, item, l[li], `${path}[${entry}]`, why)) return false;
    }
    return true;
  }
  return no('owned subtree for a scalar');
}

function entryMatches(entry: string, item: Json): boolean {
  if (entry.startsWith('k:')) {
    let key: Record<string, Json>;
    try {
      key = JSON.parse(entry.slice(2));
    } catch {
      return false;
    }
    return isMap(item) && Object.entries(key).every(([k, v]) => deepEqual(item[k], v));
  }
  if (entry.startsWith('v:')) {
    try {
      return deepEqual(JSON.parse(entry.slice(2)), item);
    } catch {
      return false;
    }
  }
  return false;
}

/** True only when a server-side apply of `desired` by our field manager certainly changes nothing in `live`. */
export function certainlyUnchanged(desired: K8sObject, live: LiveObject, why: string[] = []): boolean {
  const mf = live.metadata?.managedFields ?? [];
  const ours = mf.filter((m) => m.manager === FIELD_MANAGER && m.operation === 'Apply' && !m.subresource);
  if (ours.length !== 1 || ours[0]!.fieldsType !== 'FieldsV1') return (why.push(`${ours.length} Apply entries of ${FIELD_MANAGER}`), false);
  const f: Fields = structuredClone(ours[0]!.fieldsV1 ?? {});
  // apiVersion/kind/name/namespace identify the object; they are in the body but not tracked as owned fields.
  const d = structuredClone(desired) as Partial<Omit<K8sObject, 'metadata'>> & { metadata?: Partial<K8sObject['metadata']> };
  delete d.apiVersion;
  delete d.kind;
  if (d.metadata) {
    delete d.metadata.name;
    delete d.metadata.namespace;
    if (!Object.keys(d.metadata).length) delete d.metadata;
  }
  if (live.apiVersion !== desired.apiVersion) return (why.push('apiVersion differs'), false);
  return walk(f, d, live, '', why);
}

/** Kubernetes quantities with equal amounts (`500m` = `0.5`, `1024Mi` = `1Gi`). */
export function sameQuantity(a: Json, b: Json): boolean {
  const x = quantityAmount(a);
  const y = quantityAmount(b);
  return x !== undefined && y !== undefined && Math.abs(x - y) <= Math.abs(x) * 1e-12;
}
