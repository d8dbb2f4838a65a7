import { InputError, fail } from './errors.js';
import { isMap } from './merge.js';
import { formatPath, parsePath as parseAnyPath, PathSyntaxError, selects, type PathElem } from './path.js';
import type { Values } from './types.js';

// istioctl's `--set PATH=VALUE`: PATH is relative to spec (a leading `spec.` is accepted) and uses the one path
// grammar of api/path.ts. Setting creates maps, list elements (`[N]` one past the end, `[-1]`, or a `[name:X]` that
// is not there yet) on the way.

export type { PathElem } from './path.js';
export { formatPath } from './path.js';

export interface SetFlag {
  /** The path as written (after removing a leading `spec.`). */
  path: string;
  elems: PathElem[];
  value: unknown;
}

const SYNTAX_HINT =
  'PATH=VALUE, e.g. values.global.proxy.resources.requests.cpu=100m or components.ingressGateways.[name:istio-ingressgateway].k8s.replicaCount=3';

/** A `--set` path, parsed; a syntax error names the flag. */
export function parsePath(path: string): PathElem[] {
  try {
    return parseAnyPath(path);
  } catch (e) {
    if (e instanceof PathSyntaxError) return fail(`--set ${path}`, `malformed path: ${e.message}`, SYNTAX_HINT);
    throw e;
  }
}

// Leaves and maps whose values are strings in Istio's API even when they look like numbers or booleans.
const STRING_LEAVES = new Set([
  'tag',
  'hub',
  'image',
  'revision',
  'namespace',
  'name',
  'profile',
  'compatibilityVersion',
  'installPackagePath',
  'includeIPRanges',
  'excludeIPRanges',
  'includeInboundPorts',
  'excludeInboundPorts',
  'includeOutboundPorts',
  'excludeOutboundPorts',
  'excludeInterfaces',
  'cpu',
  'memory',
  'ephemeral-storage',
  'priorityClassName',
  'istioNamespace',
  'meshID',
  'network',
  'clusterName',
  'trustDomain',
  'caAddress',
  'address',
  'secretName',
  'value',
  'imagePullPolicy',
  'accessLogFile',
  'accessLogFormat',
  'logLevel',
  'componentLogLevel',
]);
const STRING_MAPS = new Set([
  'podAnnotations',
  'serviceAnnotations',
  'label',
  'labels',
  'annotations',
  'nodeSelector',
  'proxyMetadata',
  'podLabels',
  'deploymentLabels',
  'deploymentAnnotations',
  'serviceAccountAnnotations',
  'defaultNodeSelector',
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
  if (path === 'spec') fail(`--set ${flag.slice(0, eq)}`, 'malformed path: set fields below spec, not spec itself', SYNTAX_HINT);
  const elems = parsePath(path);
  return { path, elems, value: typeValue(elems, raw) };
}

/** Apply a parsed set to a spec tree in place (creating maps, list elements and `[name:X]` elements on the way). */
export function applySet(spec: Values, set: SetFlag): void {
  setAt(spec, set.elems, set.value, set.path);
}

export function setAt(root: Values, elems: PathElem[], value: unknown, shown = formatPath(elems)): void {
  let cur: unknown = root;
  for (let k = 0; k < elems.length; k++) {
    const e = elems[k];
    const isLast = k === elems.length - 1;
    const next = elems[k + 1];
    const fresh = () => (next && next.kind !== 'key' ? [] : {});
    const where = formatPath(elems.slice(0, k)) || 'spec';
    if (e.kind === 'key') {
      if (!isMap(cur))
        throw new InputError([{ path: `--set ${shown}`, message: `${where} is ${describe(cur)}, cannot set key "${e.key}" in it` }]);
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
      idx = e.index < 0 ? cur.length : e.index;
      if (idx > cur.length) {
        throw new InputError([
          {
            path: `--set ${shown}`,
            message: `index ${idx} is out of range: ${where} has ${cur.length} element(s)`,
            hint: `use an index up to ${cur.length}`,
          },
        ]);
      }
      if (idx === cur.length) cur.push(fresh());
    } else {
      idx = cur.findIndex((el: unknown) => selects(e, el));
      if (idx < 0 && e.kind === 'value') {
        throw new InputError([
          {
            path: `--set ${shown}`,
            message: `${where} has no element "${e.value}"`,
            hint: `present: ${cur.map(String).join(', ') || 'none'}`,
          },
        ]);
      }
      if (idx < 0 && e.kind === 'select') {
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
