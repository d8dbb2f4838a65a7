import { InputError, fail } from './errors.js';
import { isMap } from './merge.js';

// istioctl's `--set PATH=VALUE`: PATH is relative to spec (a leading `spec.` is accepted), dot separated,
// with list steps `[3]` (index) or `[name:istio-ingressgateway]` (the element whose field has that value),
// written either glued to a key (`ingressGateways[0]`) or as their own step (`ingressGateways.[0]`).
// A literal dot inside a key (annotation names) is written `\.`.

export type PathElem =
  | { kind: 'key'; key: string }
  | { kind: 'index'; index: number }
  | { kind: 'select'; field: string; value: string };

export interface SetFlag {
  /** The path as written (after removing a leading `spec.`). */
  path: string;
  elems: PathElem[];
  value: unknown;
}

const SYNTAX_HINT = 'PATH=VALUE, e.g. values.global.proxy.resources.requests.cpu=100m or components.ingressGateways.[name:istio-ingressgateway].k8s.replicaCount=3';

function malformed(path: string, why: string): never {
  return fail(`--set ${path}`, `malformed path: ${why}`, SYNTAX_HINT);
}

export function parsePath(path: string): PathElem[] {
  const elems: PathElem[] = [];
  let i = 0;
  const n = path.length;
  if (n === 0) malformed(path, 'empty path');
  while (i < n) {
    // One step: an optional key, then any number of [..] selectors, then '.' or end.
    let key = '';
    let sawKey = false;
    while (i < n && path[i] !== '.' && path[i] !== '[') {
      if (path[i] === '\\' && i + 1 < n) {
        key += path[i + 1];
        i += 2;
      } else {
        if (path[i] === ']') malformed(path, `unexpected "]" at position ${i + 1}`);
        key += path[i++];
      }
      sawKey = true;
    }
    if (sawKey) elems.push({ kind: 'key', key });
    let sawBracket = false;
    while (i < n && path[i] === '[') {
      const close = path.indexOf(']', i);
      if (close < 0) malformed(path, `unclosed "[" at position ${i + 1}`);
      const inner = path.slice(i + 1, close);
      elems.push(parseBracket(path, inner));
      sawBracket = true;
      i = close + 1;
    }
    if (!sawKey && !sawBracket) malformed(path, i === 0 ? 'starts with "."' : `empty step at position ${i + 1}`);
    if (i < n) {
      if (path[i] !== '.') malformed(path, `expected "." or "[" at position ${i + 1}, found "${path[i]}"`);
      i++;
      if (i === n) malformed(path, 'ends with "."');
    }
  }
  return elems;
}

function parseBracket(path: string, inner: string): PathElem {
  if (/^\d+$/.test(inner)) return { kind: 'index', index: Number(inner) };
  const colon = inner.indexOf(':');
  if (colon > 0 && colon < inner.length - 1) {
    return { kind: 'select', field: inner.slice(0, colon), value: inner.slice(colon + 1) };
  }
  return malformed(path, `"[${inner}]" is neither a list index like [0] nor a selector like [name:VALUE]`);
}

export function formatPath(elems: PathElem[]): string {
  let s = '';
  for (const e of elems) {
    if (e.kind === 'key') s += (s ? '.' : '') + e.key.replace(/\./g, '\\.');
    else if (e.kind === 'index') s += `[${e.index}]`;
    else s += `.[${e.field}:${e.value}]`;
  }
  return s;
}

// Leaves and maps whose values are strings in Istio's API even when they look like numbers or booleans.
const STRING_LEAVES = new Set([
  'tag', 'hub', 'image', 'revision', 'namespace', 'name', 'profile', 'compatibilityVersion', 'installPackagePath',
  'includeIPRanges', 'excludeIPRanges', 'includeInboundPorts', 'excludeInboundPorts', 'includeOutboundPorts',
  'excludeOutboundPorts', 'excludeInterfaces', 'cpu', 'memory', 'ephemeral-storage', 'priorityClassName',
  'istioNamespace', 'meshID', 'network', 'clusterName', 'trustDomain', 'caAddress', 'address', 'secretName',
  'value', 'imagePullPolicy', 'accessLogFile', 'accessLogFormat', 'logLevel', 'componentLogLevel',
]);
const STRING_MAPS = new Set([
  'podAnnotations', 'serviceAnnotations', 'label', 'labels', 'annotations', 'nodeSelector', 'proxyMetadata',
  'podLabels', 'deploymentLabels', 'deploymentAnnotations', 'serviceAccountAnnotations', 'defaultNodeSelector',
  // values.pilot.env and gateway env maps become container env values, which Kubernetes requires to be strings.
  'env',
]);

/** istioctl's value typing: booleans and numbers become typed unless the field is a string in Istio's API. */
export function typeValue(elems: PathElem[], raw: string): unknown {
  const keys = elems.filter((e): e is Extract<PathElem, { kind: 'key' }> => e.kind === 'key').map((e) => e.key);
  const last = elems[elems.length - 1];
  const leaf = last?.kind === 'key' ? last.key : undefined;
  const parent = last?.kind === 'key' ? keys[keys.length - 2] : undefined;
  if ((leaf && STRING_LEAVES.has(leaf)) || (parent && STRING_MAPS.has(parent))) {
    // tag may be a number in the API (`tag: 1.30`), but a string loses nothing and stays exact.
    return raw;
  }
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(raw)) {
    const num = Number(raw);
    // Only when the number prints back the same (`1.20` or `007` stay strings).
    if (Number.isFinite(num) && String(num) === raw) return num;
  }
  return raw;
}

/** Parse one `--set` argument. */
export function parseSet(flag: string): SetFlag {
  const eq = flag.indexOf('=');
  if (eq < 0) fail(`--set ${flag}`, 'missing "=VALUE"', SYNTAX_HINT);
  let path = flag.slice(0, eq).trim();
  const raw = flag.slice(eq + 1);
  if (path.startsWith('spec.')) path = path.slice(5);
  if (path === 'spec') malformed(flag.slice(0, eq), 'set fields below spec, not spec itself');
  const elems = parsePath(path);
  return { path, elems, value: typeValue(elems, raw) };
}

/** Apply a parsed set to a spec tree in place (creating maps, list elements and `[name:X]` elements on the way). */
export function applySet(spec: Record<string, any>, set: SetFlag): void {
  setAt(spec, set.elems, set.value, set.path);
}

export function setAt(root: Record<string, any>, elems: PathElem[], value: unknown, shown = formatPath(elems)): void {
  let cur: any = root;
  for (let k = 0; k < elems.length; k++) {
    const e = elems[k];
    const isLast = k === elems.length - 1;
    const next = elems[k + 1];
    const fresh = () => (next && next.kind !== 'key' ? [] : {});
    const where = formatPath(elems.slice(0, k)) || 'spec';
    if (e.kind === 'key') {
      if (!isMap(cur)) throw new InputError([{ path: `--set ${shown}`, message: `${where} is ${describe(cur)}, cannot set key "${e.key}" in it` }]);
      if (isLast) cur[e.key] = value;
      else {
        if (cur[e.key] === undefined || cur[e.key] === null) cur[e.key] = fresh();
        cur = cur[e.key];
      }
      continue;
    }
    if (!Array.isArray(cur)) throw new InputError([{ path: `--set ${shown}`, message: `${where} is ${describe(cur)}, not a list` }]);
    let idx: number;
    if (e.kind === 'index') {
      idx = e.index;
      if (idx > cur.length) {
        throw new InputError([{ path: `--set ${shown}`, message: `index ${idx} is out of range: ${where} has ${cur.length} element(s)`, hint: `use an index up to ${cur.length}` }]);
      }
      if (idx === cur.length) cur.push(fresh());
    } else {
      idx = cur.findIndex((el: unknown) => isMap(el) && String(el[e.field]) === e.value);
      if (idx < 0) {
        cur.push({ [e.field]: e.value });
        idx = cur.length - 1;
      }
    }
    if (isLast) cur[idx] = value;
    else {
      if (cur[idx] === undefined || cur[idx] === null) cur[idx] = fresh();
      cur = cur[idx];
    }
  }
}

function describe(x: unknown): string {
  if (Array.isArray(x)) return 'a list';
  if (x === null || x === undefined) return 'empty';
  return `a ${typeof x} (${JSON.stringify(x)})`;
}
