import { InputError, type FieldIssue } from '../api/errors.js';
import { clone, isMap } from '../api/merge.js';
import type { K8sObjectOverlay } from '../api/types.js';
import type { K8sObject } from '../api/types.js';

// k8s.overlays: the escape hatch for anything the k8s settings cannot say. Paths use Istio's syntax:
//   a.b            map keys (a literal dot in a key is written `\.`)
//   [N]  or a[N]   the N-th list element
//   [key:value]    the list element whose `key` equals `value`   (e.g. containers.[name:discovery])
//   [:value]       the element of a list of scalars equal to `value`
// A patch with a value sets (creating missing map keys on the way); one without a value deletes.

export type PathElem =
  | { t: 'key'; key: string }
  | { t: 'index'; index: number }
  | { t: 'select'; key: string; value: string };

export class PathError extends Error {}

export function parsePath(path: string): PathElem[] {
  if (typeof path !== 'string' || path.trim() === '') throw new PathError('the path is empty');
  const segments: string[] = [];
  let cur = '';
  let depth = 0;
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (ch === '\\' && path[i + 1] === '.') {
      cur += '.';
      i++;
    } else if (ch === '[') {
      depth++;
      cur += ch;
    } else if (ch === ']') {
      depth--;
      if (depth < 0) throw new PathError(`unbalanced "]" at character ${i + 1}`);
      cur += ch;
    } else if (ch === '.' && depth === 0) {
      segments.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (depth !== 0) throw new PathError('unbalanced "["');
  segments.push(cur);

  const out: PathElem[] = [];
  for (const seg of segments) {
    if (seg === '') throw new PathError('empty element (two dots in a row, or a leading/trailing dot)');
    const m = /^([^[\]]*)((?:\[[^\]]*\])*)$/.exec(seg);
    if (!m) throw new PathError(`cannot parse element "${seg}"`);
    if (m[1]) out.push({ t: 'key', key: m[1] });
    for (const b of m[2].match(/\[[^\]]*\]/g) ?? []) out.push(bracket(b.slice(1, -1), seg));
  }
  return out;
}

function bracket(inner: string, seg: string): PathElem {
  if (/^\d+$/.test(inner)) return { t: 'index', index: Number(inner) };
  const colon = inner.indexOf(':');
  if (colon < 0) throw new PathError(`"${seg}": a list element is [N], [key:value] or [:value]`);
  const key = inner.slice(0, colon).trim();
  let value = inner.slice(colon + 1).trim();
  if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
  return { t: 'select', key, value };
}

export function formatElem(e: PathElem): string {
  return e.t === 'key' ? e.key : e.t === 'index' ? `[${e.index}]` : `[${e.key}:${e.value}]`;
}

function matches(el: unknown, e: { key: string; value: string }): boolean {
  if (e.key === '') return !isMap(el) && !Array.isArray(el) && String(el) === e.value;
  return isMap(el) && el[e.key] !== undefined && el[e.key] !== null && String(el[e.key]) === e.value;
}

function describeList(list: unknown[], key: string): string {
  const vals = list.map((el) => (key === '' ? el : isMap(el) ? el[key] : undefined)).filter((v) => v !== undefined && v !== null && typeof v !== 'object');
  return vals.length ? ` (present: ${vals.map(String).join(', ')})` : ' (the list has no such elements)';
}

/**
 * `parent[k]`, made safe to change: a frozen value (shared by every render, like the CRD schemas: see
 * serialize.ts shareConstant) is replaced in `parent` by a shallow copy first, so a patch copies only the path it
 * changes and never touches what other renders share. `parent` itself is writable (the object, or a copy made here).
 */
function writable(parent: Record<string, unknown> | unknown[], k: string | number): unknown {
  const v = (parent as Record<string, unknown>)[k];
  if (typeof v !== 'object' || v === null || !Object.isFrozen(v)) return v;
  const copy = Array.isArray(v) ? [...v] : { ...v };
  (parent as Record<string, unknown>)[k] = copy;
  return copy;
}

/** Sets (or with `value` undefined/null, deletes) the node at `path` inside `obj`. Throws PathError. */
export function applyPathPatch(obj: Record<string, unknown>, path: PathElem[], value: unknown): void {
  const del = value === undefined || value === null;
  let node: unknown = obj;
  const walked: string[] = [];
  for (let i = 0; i < path.length; i++) {
    const e = path[i];
    const last = i === path.length - 1;
    const here = walked.length ? walked.join('.') : '(the object)';
    if (e.t === 'key') {
      if (!isMap(node)) throw new PathError(`"${here}" is ${Array.isArray(node) ? 'a list' : 'a scalar'}, so it has no key "${e.key}"`);
      if (last) {
        if (del) delete node[e.key];
        else node[e.key] = clone(value);
        return;
      }
      if (node[e.key] === undefined || node[e.key] === null) {
        if (del) return; // nothing to delete
        if (path[i + 1].t !== 'key') throw new PathError(`"${[...walked, e.key].join('.')}" does not exist, so no list element can be selected in it`);
        node[e.key] = {};
      }
      node = writable(node, e.key);
    } else {
      if (!Array.isArray(node)) throw new PathError(`"${here}" is not a list, so "${formatElem(e)}" selects nothing`);
      let idx: number;
      if (e.t === 'index') {
        idx = e.index;
        if (idx >= node.length) throw new PathError(`"${here}" has ${node.length} element(s); index ${idx} is out of range`);
      } else {
        idx = node.findIndex((el) => matches(el, e));
        if (idx < 0) throw new PathError(`no element of "${here}" has ${e.key || 'value'} = "${e.value}"${describeList(node, e.key)}`);
      }
      if (last) {
        if (del) node.splice(idx, 1);
        else node[idx] = clone(value);
        return;
      }
      node = writable(node, idx);
    }
    walked.push(formatElem(e));
  }
}

/**
 * Applies a component's overlays to its objects, in place. `field` is the k8s block's path
 * (`components.pilot.k8s`). Every problem is collected and thrown as one InputError naming the overlay.
 */
export function applyOverlays(objects: K8sObject[], overlays: K8sObjectOverlay[] | undefined, field: string): void {
  if (!overlays?.length) return;
  const issues: FieldIssue[] = [];
  overlays.forEach((ov, i) => {
    const at = `${field}.overlays[${i}]`;
    if (!ov || !ov.kind || !ov.name) {
      issues.push({ path: at, message: 'an overlay needs kind and name', hint: 'e.g. {kind: Deployment, name: istiod, patches: [...]}' });
      return;
    }
    const targets = objects.filter((o) => o.kind === ov.kind && o.metadata?.name === ov.name && (!ov.apiVersion || o.apiVersion === ov.apiVersion));
    if (!targets.length) {
      const same = objects.filter((o) => o.kind === ov.kind).map((o) => o.metadata.name);
      issues.push({
        path: at,
        message: `overlay for ${ov.kind} "${ov.name}" matches no object of this component`,
        hint: same.length ? `${ov.kind} objects here: ${same.join(', ')}` : `this component renders no ${ov.kind}; kinds here: ${[...new Set(objects.map((o) => o.kind))].join(', ')}`,
      });
      return;
    }
    (ov.patches ?? []).forEach((p, j) => {
      const pat = `${at}.patches[${j}]`;
      let elems: PathElem[];
      try {
        elems = parsePath(p?.path);
      } catch (e) {
        issues.push({ path: `${pat}.path`, message: `invalid path "${p?.path ?? ''}": ${(e as Error).message}`, hint: 'keys separated by ".", list elements as [N], [key:value] or [:value]' });
        return;
      }
      for (const t of targets) {
        try {
          applyPathPatch(t, elems, p.value);
        } catch (e) {
          if (!(e instanceof PathError)) throw e;
          issues.push({ path: `${pat}.path`, message: `"${p.path}" on ${ov.kind} "${ov.name}": ${e.message}` });
        }
      }
    });
  });
  if (issues.length) throw new InputError(issues);
}
