import yaml from 'js-yaml';
import { InputError, type FieldIssue } from '../api/errors.js';
import { clone, isMap } from '../api/merge.js';
import { formatElem, parsePath, PATH_FORMS, PathSyntaxError, selects, type PathElem } from '../api/path.js';
import type { K8sObjectOverlay, K8sObject } from '../api/types.js';
import { guardIssues, snapshotGuarded } from './rbacguard.js';

// k8s.overlays: the escape hatch for anything the k8s settings cannot say. Paths use the API's one grammar
// (api/path.ts). A patch applies as istioctl's overlays do (its tpath package):
//   - missing map keys on the way are created; a list index past the end, or [-1], appends a new element;
//   - [key:value] must find its element; [:value] finds the scalar equal to value, else the first one the value
//     matches as a regular expression (istioctl matches only by regular expression);
//   - a value replaces what is there, whatever its type (a map, a list, a scalar); a string that reads as a YAML
//     map ("key: value") is that map, as istioctl reads it;
//   - a patch without a value deletes the key or the list element.

export class PathError extends Error {}

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

function describeList(list: unknown[], e: Extract<PathElem, { kind: 'select' | 'value' }>): string {
  const vals = list
    .map((el) => (e.kind === 'value' ? el : isMap(el) ? el[e.field] : undefined))
    .filter((v) => v !== undefined && v !== null && typeof v !== 'object');
  return vals.length ? ` (present: ${vals.map(String).join(', ')})` : ' (the list has no such elements)';
}

/** The element a selector names: exact first; for [:value], else the first scalar the value matches as a regex. */
function findElement(list: unknown[], e: Extract<PathElem, { kind: 'select' | 'value' }>): number {
  const exact = list.findIndex((el) => selects(e, el));
  if (exact >= 0 || e.kind !== 'value') return exact;
  let re: RegExp;
  try {
    re = new RegExp(e.value);
  } catch {
    return -1;
  }
  return list.findIndex((el) => el !== null && typeof el !== 'object' && re.test(String(el)));
}

/** A patch value as istioctl reads it: a string that is a YAML map (and not JSON) stands for that map. */
function patchValue(value: unknown): unknown {
  if (typeof value !== 'string') return clone(value);
  const lines = value.split('\n');
  if (!((lines.length === 1 && value.includes(': ')) || (lines.length > 1 && value.includes(':')))) return value;
  try {
    JSON.parse(value);
    return value;
  } catch {
    // not JSON: maybe YAML
  }
  try {
    const m = yaml.load(value);
    return isMap(m) ? m : value;
  } catch {
    return value;
  }
}

/** Sets (or with `value` undefined/null, deletes) the node at `path` inside `obj`. Throws PathError. */
export function applyPathPatch(obj: Record<string, unknown>, path: PathElem[], value: unknown): void {
  const del = value === undefined || value === null;
  let node: unknown = obj;
  const walked: string[] = [];
  for (let i = 0; i < path.length; i++) {
    const e = path[i]!;
    const last = i === path.length - 1;
    const next = path[i + 1];
    const here = walked.length ? walked.join('.') : '(the object)';
    if (e.kind === 'key') {
      if (!isMap(node)) throw new PathError(`"${here}" is ${Array.isArray(node) ? 'a list' : 'a scalar'}, so it has no key "${e.key}"`);
      if (last) {
        if (del) delete node[e.key];
        else node[e.key] = patchValue(value);
        return;
      }
      if (node[e.key] === undefined || node[e.key] === null) {
        if (del) return; // nothing to delete
        if (next!.kind === 'select' || next!.kind === 'value')
          throw new PathError(`"${[...walked, e.key].join('.')}" does not exist, so no list element can be selected in it`);
        node[e.key] = next!.kind === 'index' ? [] : {};
      }
      node = writable(node, e.key);
    } else {
      if (!Array.isArray(node)) throw new PathError(`"${here}" is not a list, so "${formatElem(e)}" selects nothing`);
      let idx: number;
      if (e.kind === 'index') {
        idx = e.index;
        // Past the end (or -1): a new element, as istioctl creates missing list entries.
        if (idx < 0 || idx >= node.length) {
          if (del) return;
          idx = node.length;
          node.push(last ? undefined : next!.kind === 'key' ? {} : []);
        }
      } else {
        idx = findElement(node, e);
        if (idx < 0) {
          if (del) return;
          throw new PathError(
            `no element of "${here}" has ${e.kind === 'select' ? e.field : 'value'} = "${e.value}"${describeList(node, e)}`,
          );
        }
      }
      if (last) {
        if (del) node.splice(idx, 1);
        else node[idx] = patchValue(value);
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
  // Overlays may narrow, never widen, what the operator grants with its own rights (render/rbacguard.ts).
  const guarded = snapshotGuarded(objects);
  overlays.forEach((ov, i) => {
    const at = `${field}.overlays[${i}]`;
    if (!ov || !ov.kind || !ov.name) {
      issues.push({ path: at, message: 'an overlay needs kind and name', hint: 'e.g. {kind: Deployment, name: istiod, patches: [...]}' });
      return;
    }
    const targets = objects.filter(
      (o) => o.kind === ov.kind && o.metadata?.name === ov.name && (!ov.apiVersion || o.apiVersion === ov.apiVersion),
    );
    if (!targets.length) {
      const same = objects.filter((o) => o.kind === ov.kind).map((o) => o.metadata.name);
      issues.push({
        path: at,
        message: `overlay for ${ov.kind} "${ov.name}" matches no object of this component`,
        hint: same.length
          ? `${ov.kind} objects here: ${same.join(', ')}`
          : `this component renders no ${ov.kind}; kinds here: ${[...new Set(objects.map((o) => o.kind))].join(', ')}`,
      });
      return;
    }
    (ov.patches ?? []).forEach((p, j) => {
      const pat = `${at}.patches[${j}]`;
      let elems: PathElem[];
      try {
        elems = parsePath(p?.path);
      } catch (e) {
        if (!(e instanceof PathSyntaxError)) throw e;
        issues.push({ path: `${pat}.path`, message: `invalid path "${p?.path ?? ''}": ${e.message}`, hint: PATH_FORMS });
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
  if (!issues.length) issues.push(...guardIssues(guarded, field));
  if (issues.length) throw new InputError(issues);
}
