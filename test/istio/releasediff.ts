// "Our two revisions differ exactly as the two releases' goldens differ", made precise. Pure; unit-tested in
// test/unit/istio/releasediff.test.ts and used by test/integration/istio/canary.test.ts.
//
// A side is one release's objects: ours (what we applied for a revision of that release) or Istio's golden output
// for the same input. For two sides a (older) and b (newer) of the same kind, releaseDelta(a, b) lists every change
// from a to b as a line of text; our delta must equal the goldens' delta, line for line. The objects compared:
//   - istiod's Deployment: every field, by path. Lists of named items (containers, env, volumes, mounts) are matched
//     by name, other lists by index (test/istio/admission.ts jsonDiff). A line is `Deployment <path>: <a> -> <b>`.
//   - the injector ConfigMap: `values` (JSON) and `config` (YAML) as data, by path, except the templates. The
//     templates are Go templates we write ourselves (our text is not Istio's: it shares defines between templates,
//     for one), so their text cannot be compared line for line. What a template's text is *about* can: the data it
//     reads from istiod (`.ProxyInitImage`, `.Values.global.caAddress`: the interface whose change between releases
//     broke injection in issue #14) and the names it writes (env vars, volumes, mount paths, annotation keys). For
//     each template the lines are: it is added or removed, its text changed, and each such reference it gained or
//     lost (`template agentgateway: + name CA_ADDRESS`), counted in the part of the template that runs: its body and
//     the defines it calls (ours prepend shared defines that a given template may not call).
//   - each ClusterRole, as the permissions it grants: one (apiGroup, resource[/resourceName], verb) or
//     (nonResourceURL, verb) triple per combination its rules allow, so that rules split, merged or reordered the
//     same way are the same. A line is `ClusterRole <name>: + <verb> <group>/<resource>`.
// Before comparing, what differs between the two sides by input rather than by release is made the same on each
// side: the revision (`istiod-1-30-3` reads `istiod`, `istio.io/rev: 1-30-3` reads `default`), the Istio namespace
// (`<ns>`), the hub (`<hub>`) and the image tag (`<tag>`), Helm's bookkeeping labels (which istioctl's goldens carry
// and installs do not need) and our ownership labels (install.operator.istio.io/*, operator.istio.io/*).
import yaml from 'js-yaml';
import { jsonDiff } from './admission.js';

export type Obj = {
  apiVersion?: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: any;
};

export interface Side {
  objects: Obj[];
  /** '' for an install without a revision (the goldens). */
  revision: string;
  namespace: string;
  hub: string;
  tag: string;
}

const HELM_KEYS = new Set([
  'helm.sh/chart',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/version',
  'app.kubernetes.io/instance',
  'release',
]);
const isOurs = (k: string) => k.startsWith('install.operator.istio.io/') || k.startsWith('operator.istio.io/');

/** Every string of `v` with the side's revision, namespace, hub and tag replaced as the header says. */
function normalize<T>(v: T, s: Side): T {
  const str = (x: string): string => {
    if (s.revision && x === s.revision) return 'default';
    // The namespace first: a namespace name may contain the revision (istio-1-30-3-x), never the other way round.
    let y = x.split(s.namespace).join('<ns>');
    if (s.revision) y = y.split(`-${s.revision}`).join('').split(s.revision).join('<rev>');
    if (s.hub) y = y.split(`${s.hub}/`).join('<hub>/');
    if (x === s.hub) return '<hub>';
    if (x === s.tag) return '<tag>';
    return y.split(`:${s.tag}`).join(':<tag>');
  };
  const walk = (x: unknown): unknown => {
    if (typeof x === 'string') return str(x);
    if (Array.isArray(x)) return x.map(walk);
    if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, e]) => [str(k), walk(e)]));
    return x;
  };
  return walk(v) as T;
}

/** Labels and annotations without Helm's and our bookkeeping, everywhere in an object (metadata, pod template). */
function withoutBookkeeping(o: Record<string, any>): Record<string, any> {
  const clean = (m: Record<string, string> | undefined) =>
    m ? Object.fromEntries(Object.entries(m).filter(([k]) => !HELM_KEYS.has(k) && !isOurs(k))) : m;
  const c = structuredClone(o);
  if (c.metadata) {
    c.metadata.labels = clean(c.metadata.labels);
    c.metadata.annotations = clean(c.metadata.annotations);
  }
  if (c.spec?.template?.metadata) {
    c.spec.template.metadata.labels = clean(c.spec.template.metadata.labels);
    c.spec.template.metadata.annotations = clean(c.spec.template.metadata.annotations);
  }
  return c;
}

/** The objects a delta covers, by a name that is the same on both kinds of side (revision and namespace removed). */
export function comparedObjects(s: Side): Map<string, Obj> {
  const out = new Map<string, Obj>();
  const istiod = s.revision ? `istiod-${s.revision}` : 'istiod';
  const injector = s.revision ? `istio-sidecar-injector-${s.revision}` : 'istio-sidecar-injector';
  for (const o of s.objects) {
    const c = withoutBookkeeping(o) as Obj;
    // The injector's config (YAML) and values (JSON) are compared as data, so they are parsed before normalizing.
    if (o.kind === 'ConfigMap' && o.metadata.name === injector)
      c.data = { ...c.data, config: yaml.load(c.data?.config ?? '') ?? {}, values: JSON.parse(c.data?.values ?? '{}') };
    const n = normalize(c, s);
    if (o.kind === 'Deployment' && o.metadata.name === istiod) out.set('Deployment istiod', n);
    else if (o.kind === 'ConfigMap' && o.metadata.name === injector) out.set('ConfigMap istio-sidecar-injector', n);
    else if (o.kind === 'ClusterRole') out.set(`ClusterRole ${n.metadata.name.replace(/-<ns>$/, '')}`, n);
  }
  return out;
}

/**
 * The part of a Go template that runs: its body and the `define`s it reaches through `template "name"` (directly or
 * from a reached define). Ours prepend shared defines to several templates (pilot.ts), some of which a given
 * template never calls; Istio's do not. Comments are removed.
 */
export function reachableText(text: string): string {
  const code = text.replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '');
  const actions = [...code.matchAll(/\{\{-?\s*([\s\S]*?)\s*-?\}\}/g)];
  const defines = new Map<string, string>();
  const spans: Array<[number, number]> = [];
  const stack: Array<{ kind: string; name?: string; start: number }> = [];
  for (const a of actions) {
    const body = a[1]!;
    const kw = /^(if|range|with|define|block|end)\b/.exec(body)?.[1];
    if (kw === 'end') {
      const open = stack.pop();
      if (open?.kind === 'define' && open.name) {
        const end = a.index! + a[0].length;
        defines.set(open.name, code.slice(open.start, end));
        if (!stack.some((x) => x.kind === 'define')) spans.push([open.start, end]);
      }
    } else if (kw) {
      stack.push({ kind: kw, ...(kw === 'define' ? { name: /^define\s+"([^"]+)"/.exec(body)?.[1] } : {}), start: a.index! });
    }
  }
  let main = '';
  let at = 0;
  for (const [a, b] of spans) {
    main += code.slice(at, a);
    at = b;
  }
  main += code.slice(at);
  const used = new Set<string>();
  const visit = (t: string) => {
    for (const m of t.matchAll(/\{\{-?\s*(?:template|block)\s+"([^"]+)"/g)) {
      const n = m[1]!;
      if (used.has(n) || !defines.has(n)) continue;
      used.add(n);
      visit(defines.get(n)!);
    }
  };
  visit(main);
  return [main, ...[...used].map((n) => defines.get(n)!)].join('\n');
}

/**
 * What a template reads from istiod and the names it writes, in the part of it that runs (reachableText):
 * `field .X.Y` for each data reference, `name|mountPath|path|key|audience <literal>` for each YAML line that sets one
 * to a literal, and `annotation <key>` for each annotation key it tests or writes in backquotes.
 */
export function templateReferences(text: string): Set<string> {
  const out = new Set<string>();
  let code = reachableText(text);
  // `((.Values.pilot).env).X` (nil-safe access) reads the same field as `.Values.pilot.env.X`.
  for (let prev = ''; prev !== code;) {
    prev = code;
    code = code.replace(/\(\s*(\.[A-Z][A-Za-z0-9_.]*)\s*\)(\.[A-Za-z0-9_]+)/g, '$1$2');
  }
  for (const m of code.matchAll(/(?<![\w$)\]])\.[A-Z][A-Za-z0-9]*(?:\.[A-Za-z0-9_]+)*/g)) out.add(`field ${m[0]}`);
  // A literal name in block style (`- name: x`) or flow style (`- {containerPort: 15020, name: metrics}`).
  for (const m of code.matchAll(/(?:^\s*-?\s*|[{,]\s*)(name|mountPath|path|audience|key):\s*"?([A-Za-z0-9_./-]+)"?\s*(?=[,}]|$)/gm))
    out.add(`${m[1]} ${m[2]}`);
  for (const m of code.matchAll(/`([a-z0-9.-]+\/[A-Za-z0-9.-]+)`/g)) out.add(`annotation ${m[1]}`);
  return out;
}

/** Permission triples a ClusterRole grants. */
export function permissions(role: Obj): Set<string> {
  const out = new Set<string>();
  for (const r of (role.rules ?? []) as Array<Record<string, string[] | undefined>>) {
    for (const verb of r.verbs ?? []) {
      for (const url of r.nonResourceURLs ?? []) out.add(`${verb} ${url}`);
      for (const g of r.apiGroups ?? []) {
        for (const res of r.resources ?? []) {
          const names = r.resourceNames?.length ? r.resourceNames : [undefined];
          for (const n of names) out.add(`${verb} ${g || 'core'}/${res}${n ? `/${n}` : ''}`);
        }
      }
    }
  }
  return out;
}

/** JSON with keys sorted: the same value reads the same on both sides, whatever order its keys were written in. */
function stable(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stable(o[k])}`)
    .join(',')}}`;
}
const show = (v: unknown) => (v === undefined ? '(absent)' : stable(v));
const setDelta = (prefix: string, a: Set<string>, b: Set<string>) => [
  ...[...b].filter((x) => !a.has(x)).map((x) => `${prefix}+ ${x}`),
  ...[...a].filter((x) => !b.has(x)).map((x) => `${prefix}- ${x}`),
];

/** Every change from side a to side b, one line each, sorted (see the header). */
export function releaseDelta(a: Side, b: Side): string[] {
  const oa = comparedObjects(a);
  const ob = comparedObjects(b);
  const out: string[] = [];
  for (const key of [...new Set([...oa.keys(), ...ob.keys()])].sort()) {
    const x = oa.get(key);
    const y = ob.get(key);
    if (!x || !y) {
      out.push(`${key}: ${x ? 'removed' : 'added'}`);
      continue;
    }
    if (key.startsWith('ClusterRole ')) {
      out.push(...setDelta(`${key}: `, permissions(x), permissions(y)));
      continue;
    }
    if (key.startsWith('ConfigMap ')) {
      const parse = (o: Obj) => {
        const { templates = {}, ...rest } = o.data.config as { templates?: Record<string, string> };
        return {
          templates,
          rest,
          values: o.data.values as unknown,
          other: { ...o, data: Object.fromEntries(Object.entries(o.data ?? {}).filter(([k]) => k !== 'config' && k !== 'values')) },
        };
      };
      const p = parse(x);
      const q = parse(y);
      for (const d of jsonDiff(p.other, q.other)) out.push(`${key} ${d.path}: ${show(d.left)} -> ${show(d.right)}`);
      for (const d of jsonDiff(p.rest, q.rest, '.data.config')) out.push(`${key} ${d.path}: ${show(d.left)} -> ${show(d.right)}`);
      for (const d of jsonDiff(p.values, q.values, '.data.values')) out.push(`${key} ${d.path}: ${show(d.left)} -> ${show(d.right)}`);
      for (const name of [...new Set([...Object.keys(p.templates), ...Object.keys(q.templates)])].sort()) {
        const s = p.templates[name];
        const t = q.templates[name];
        const at = `${key} template ${name}: `;
        if (s === undefined || t === undefined) out.push(`${at}${s === undefined ? 'added' : 'removed'}`);
        else if (s.trimEnd() !== t.trimEnd()) {
          out.push(`${at}text changed`);
          out.push(...setDelta(at, templateReferences(s), templateReferences(t)));
        }
      }
      continue;
    }
    for (const d of jsonDiff(x, y)) out.push(`${key} ${d.path}: ${show(d.left)} -> ${show(d.right)}`);
  }
  return out.sort();
}

/** Lines in one delta and not the other. */
export function compareDeltas(ours: string[], golden: string[]): { onlyOurs: string[]; onlyGolden: string[] } {
  const g = new Set(golden);
  const o = new Set(ours);
  return { onlyOurs: ours.filter((l) => !g.has(l)), onlyGolden: golden.filter((l) => !o.has(l)) };
}
