// Over 500 lines by choice: the leaf-by-leaf comparer, its categories and its explanation matching are one algorithm.
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import type { GoldenCase } from './cases.js';
import { goldenInputsDir, goldenOutputsDir, NEWEST_FIXTURE_RELEASE, type GoldenSet } from '../helpers/fixtures.js';

// Field-by-field comparison of our render against Istio's golden outputs.
// The golden object is the reference: every leaf it has is one vote; fields only we render are not counted
// (our ownership labels add `operator.istio.io/version`, for example). The result says which leaves differ,
// grouped into the categories the issue names, so a regression is visible as a number and a path.

export type Obj = {
  apiVersion?: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
};

/** The newest release's inputs and outputs, which single-release tests use. */
export const inputsDir = goldenInputsDir();
export const outputsDir = goldenOutputsDir();

export const CATEGORIES = [
  'names',
  'labels',
  'selectors',
  'ports',
  'env',
  'args',
  'volumes',
  'rbac rules',
  'webhook rules',
  'hpa/pdb',
  'mesh config',
  'injector config',
  'values configmap',
  'other',
  'crd schema',
  'descriptions',
  'template text',
] as const;
/** Categories reported apart from the core share: CRD schemas may stay schemaless under `spec` (the issue allows
 *  it), and descriptions (CRD fields, `kubernetes.io/description` annotations) are prose we must write in our own
 *  words, so they can never match. */
// 'template text': the injection templates are Go templates we write ourselves, so their text differs line by line
// even where the pods they produce are the same; test/injection executes ours and Istio's in Go and compares the
// output, which is the behavioural check. The line agreement here is only a hint.
export const NON_CORE: readonly Category[] = ['crd schema', 'descriptions', 'template text'];
export type Category = (typeof CATEGORIES)[number];

/** Helm's bookkeeping: what `helm install` records about itself, not what Istio needs. */
// endpointslice.kubernetes.io/managed-by names the manager of a hand-made EndpointSlice (a remote's istiod): Istio's
// chart writes Helm's name there (.Release.Service), we write ours; either keeps Kubernetes' controllers off it.
const HELM_KEYS = new Set([
  'helm.sh/chart',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/version',
  'app.kubernetes.io/instance',
  'release',
  'endpointslice.kubernetes.io/managed-by',
]);

export const ABSENT = Symbol('absent');
export type Ours = unknown | typeof ABSENT;

export interface LeafDiff {
  object: string;
  path: string;
  category: Category;
  golden: unknown;
  ours: Ours;
}

export interface Tally {
  leaves: number;
  agree: number;
}

export interface ObjectResult extends Tally {
  key: string;
  present: boolean;
  /** Its leaves outside the NON_CORE categories. */
  core: Tally;
}

export interface CaseResult extends Tally {
  name: string;
  /** The render threw: message (objects then all count as missing). */
  error?: string;
  warnings: string[];
  objects: ObjectResult[];
  missing: string[];
  /** Objects we render inside the case's select that the golden does not have. */
  extra: string[];
  byCategory: Record<Category, Tally>;
  diffs: LeafDiff[];
  /** `<object> <path>` of fields ours has where the golden has none (not counted in the share). */
  extraFields: string[];
  /** Count of objects we rendered in total (before the select). */
  rendered: number;
  /** Istio's own cases with a live golden of the same case (golden/live): `<object> <path>` of our differences
   *  from the vendored golden where the vendored golden differs from what the release's istioctl renders and we
   *  render what istioctl renders (the vendored golden is stale there; see staleRefs). */
  stale?: string[];
}

export function objectKey(o: Obj): string {
  return `${o.kind}:${o.metadata?.namespace ?? ''}:${o.metadata?.name ?? ''}`;
}

function globMatch(pattern: string, s: string): boolean {
  if (pattern === '*') return true;
  const re = new RegExp(
    '^' +
      pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
  return re.test(s);
}

/** `Kind:namespace:name` patterns with `*`; a bare `*` selects everything. */
export function selects(patterns: string[], o: Obj): boolean {
  return patterns.some((p) => {
    if (p === '*') return true;
    const [k = '*', ns = '*', n = '*'] = p.split(':');
    return globMatch(k, o.kind) && globMatch(ns, o.metadata?.namespace ?? '') && globMatch(n, o.metadata?.name ?? '');
  });
}

export function loadYamlObjects(text: string): Obj[] {
  return (yaml.loadAll(text) as unknown[]).filter((d): d is Obj => !!d && typeof d === 'object' && 'kind' in (d as object));
}

/** A golden output of `release` (a fixture folder: 1.29.6, 1.30.3, 1.31.0-rc.0), of Istio's own cases or of `set`. */
export function loadGolden(file: string, release = NEWEST_FIXTURE_RELEASE, set?: GoldenSet): Obj[] {
  return loadYamlObjects(fs.readFileSync(path.join(goldenOutputsDir(release, set), file), 'utf8'));
}

/** `registry.istio.io/testing/pilot:latest` → `pilot`: the hub and tag are the installer's choice, the repository is not. */
export function imageRepo(image: string): string {
  const noDigest = image.split('@')[0] ?? image;
  const last = noDigest.split('/').pop() ?? noDigest;
  return last.split(':')[0] ?? last;
}

const isPlain = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** The key that identifies items of a list regardless of order: `name` (containers, env, volumes, webhooks),
 *  else the port number (container ports often have no name). Undefined: match by index. */
export function listKey(list: unknown[]): string | undefined {
  for (const k of ['name', 'containerPort', 'port']) {
    if (!list.length || !list.every((i) => isPlain(i) && (typeof i[k] === 'string' || typeof i[k] === 'number'))) continue;
    if (new Set(list.map((i) => (i as Record<string, unknown>)[k])).size === list.length) return k;
  }
  return undefined;
}

/** ConfigMap data that holds YAML or JSON (mesh, meshNetworks, config, values, merged-values) is compared as data. */
function parseEmbedded(s: string): unknown {
  if (!/[:\n{[]/.test(s)) return undefined;
  try {
    const v = yaml.load(s);
    return v && typeof v === 'object' ? v : undefined;
  } catch {
    return undefined;
  }
}

export function categorize(kind: string, objName: string, p: string): Category {
  if (p === 'metadata.name' || p === 'metadata.namespace') return 'names';
  // A multi-line description is compared line by line (`…description:L3`): still a description.
  if (kind === 'CustomResourceDefinition' && /(^|\.)description(:L\d+)?$/.test(p)) return 'descriptions';
  if (/\.annotations\.kubernetes\.io\/description$/.test(p)) return 'descriptions';
  if (kind === 'CustomResourceDefinition' && /\.schema\./.test(p)) return 'crd schema';
  if (/(^|\.)(labels|annotations)(\.|$)/.test(p)) return 'labels';
  if ((kind === 'Role' || kind === 'ClusterRole') && /^(rules|aggregationRule)/.test(p)) return 'rbac rules';
  if ((kind === 'RoleBinding' || kind === 'ClusterRoleBinding') && /^(roleRef|subjects)/.test(p)) return 'rbac rules';
  if (/WebhookConfiguration$/.test(kind) && p.startsWith('webhooks')) return 'webhook rules';
  if ((kind === 'HorizontalPodAutoscaler' || kind === 'PodDisruptionBudget') && p.startsWith('spec')) return 'hpa/pdb';
  if (kind === 'ConfigMap' && /^data\.(mesh|meshNetworks)(\.|$|:)/.test(p)) return 'mesh config';
  if (kind === 'ConfigMap' && objName.startsWith('istio-sidecar-injector') && /^data\.config\.templates\./.test(p)) return 'template text';
  if (kind === 'ConfigMap' && objName.startsWith('istio-sidecar-injector')) return 'injector config';
  if (kind === 'ConfigMap' && /^values(-|$)/.test(objName)) return 'values configmap';
  if (/selector|matchLabels|matchExpressions/i.test(p)) return 'selectors';
  if (/(^|\.)(env|envFrom)(\[|\.|$)/.test(p)) return 'env';
  if (/(^|\.)(args|command)(\[|\.|$)/.test(p)) return 'args';
  if (/(^|\.)(volumes|volumeMounts)(\[|\.|$)/.test(p)) return 'volumes';
  if (/(^|\.)ports(\[|\.|$)/.test(p) || /port$/i.test(p.split('.').pop() ?? '')) return 'ports';
  if (/(^|\.)(name|namespace|serviceAccountName|secretName)$/.test(p)) return 'names';
  return 'other';
}

interface Walk {
  kind: string;
  objName: string;
  object: string;
  tally: Tally;
  byCategory: Record<Category, Tally>;
  diffs: LeafDiff[];
  /** The object is missing: every leaf counts against, even a golden `null` that absence would match. */
  missing?: boolean;
  /** Fields only ours has (informational: the share counts golden leaves). */
  extraFields: string[];
}

/** Our ownership labels go on every object by design (operator.istio.io/version is not in Istio's goldens at all). */
const OWNERSHIP_LABELS = new Set([
  'operator.istio.io/component',
  'install.operator.istio.io/owning-resource',
  'install.operator.istio.io/owning-resource-namespace',
  'operator.istio.io/version',
  'istio.io/rev',
]);

function vote(w: Walk, p: string, agree: boolean, golden: unknown, ours: Ours, n = 1): void {
  const c = categorize(w.kind, w.objName, p);
  if (w.missing) agree = false;
  w.tally.leaves += n;
  w.byCategory[c].leaves += n;
  if (agree) {
    w.tally.agree += n;
    w.byCategory[c].agree += n;
  } else {
    w.diffs.push({ object: w.object, path: p, category: c, golden, ours });
  }
}

const join = (p: string, seg: string) => (p ? (seg.startsWith('[') ? p + seg : `${p}.${seg}`) : seg);

/** Lines of a text leaf (an injection template, a script) compared as a longest common subsequence,
 *  so one changed line costs one vote rather than the whole template. */
function compareLines(w: Walk, p: string, golden: string, ours: Ours): void {
  const g = golden.split('\n').map((l) => l.trimEnd());
  const o = typeof ours === 'string' ? ours.split('\n').map((l) => l.trimEnd()) : [];
  const matched = new Array<boolean>(g.length).fill(false);
  const n = g.length;
  const m = o.length;
  if (n * m <= 25_000_000) {
    // dp[i][j] = LCS of g[i..] and o[j..]; walk forward to mark matched golden lines.
    const dp = new Uint16Array((n + 1) * (m + 1));
    const at = (i: number, j: number) => i * (m + 1) + j;
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        dp[at(i, j)] = g[i] === o[j] ? dp[at(i + 1, j + 1)]! + 1 : Math.max(dp[at(i + 1, j)]!, dp[at(i, j + 1)]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (g[i] === o[j]) {
        matched[i] = true;
        i++;
        j++;
      } else if (dp[at(i + 1, j)]! >= dp[at(i, j + 1)]!) i++;
      else j++;
    }
  } else {
    const pool = new Map<string, number>();
    for (const l of o) pool.set(l, (pool.get(l) ?? 0) + 1);
    g.forEach((l, i) => {
      const c = pool.get(l) ?? 0;
      if (c > 0) {
        matched[i] = true;
        pool.set(l, c - 1);
      }
    });
  }
  g.forEach((line, i) => vote(w, `${p}:L${i + 1}`, matched[i]!, line, typeof ours === 'string' ? '(line not found)' : ours));
}

function walk(w: Walk, p: string, key: string, g: unknown, o: Ours): void {
  if (g === null || g === undefined) {
    // null and absent mean the same to the API server.
    vote(w, p, o === ABSENT || o === null || o === undefined, g, o);
    return;
  }
  if (Array.isArray(g)) {
    if (g.length === 0) {
      vote(w, p, o === ABSENT || o === null || (Array.isArray(o) && o.length === 0), g, o);
      return;
    }
    const ol = Array.isArray(o) ? o : undefined;
    const k = listKey(g);
    if (k) {
      const goldenKeys = new Set(g.map((i) => (i as Record<string, unknown>)[k]));
      for (const item of g as Array<Record<string, unknown>>) {
        const mine = ol?.find((x) => isPlain(x) && x[k] === item[k]);
        walk(w, join(p, `[${k}=${item[k]}]`), key, item, mine === undefined ? ABSENT : mine);
      }
      // An item only we render (an extra env var, port, volume) is a difference too: one vote each.
      for (const x of ol ?? []) {
        if (isPlain(x) && !goldenKeys.has(x[k])) vote(w, join(p, `[${k}=${String(x[k])}]`), false, ABSENT, x);
      }
    } else {
      g.forEach((item, i) => walk(w, join(p, `[${i}]`), key, item, ol && i < ol.length ? ol[i] : ABSENT));
      for (let i = g.length; i < (ol?.length ?? 0); i++) vote(w, join(p, `[${i}]`), false, ABSENT, ol![i]);
    }
    return;
  }
  if (isPlain(g)) {
    const keys = Object.keys(g);
    if (keys.length === 0) {
      // `annotations: {}` and no annotations are the same object to the API server (so for labels); elsewhere an
      // empty map can mean something (`emptyDir: {}`), so it must be there.
      const none = (key === 'labels' || key === 'annotations') && (o === ABSENT || o === null || o === undefined);
      vote(w, p, none || (isPlain(o) && Object.keys(o).length === 0), g, o);
      return;
    }
    const oo = isPlain(o) ? o : undefined;
    const bookkeeping = key === 'labels' || key === 'annotations';
    if (oo) {
      for (const k of Object.keys(oo)) {
        const v = oo[k];
        if (k in g || v === null || v === undefined) continue;
        if ((Array.isArray(v) && !v.length) || (isPlain(v) && !Object.keys(v).length)) continue; // same as absent
        if (key === 'labels' && OWNERSHIP_LABELS.has(k)) continue;
        w.extraFields.push(`${w.object} ${join(p, k)}`);
      }
    }
    for (const k of keys) {
      if (bookkeeping && HELM_KEYS.has(k)) continue;
      if (k === 'hub' || k === 'tag') continue; // image hub/tag (values ConfigMaps): the installer's choice
      walk(w, join(p, k), k, g[k], oo && k in oo ? oo[k] : ABSENT);
    }
    return;
  }
  if (typeof g === 'string') {
    if (key === 'image') {
      vote(w, p, typeof o === 'string' && imageRepo(o) === imageRepo(g), g, o);
      return;
    }
    if (w.kind === 'ConfigMap' && /^data\.[^.]+$/.test(p)) {
      const parsed = parseEmbedded(g);
      if (parsed !== undefined) {
        const mine = typeof o === 'string' ? parseEmbedded(o) : undefined;
        walk(w, p, key, parsed, mine === undefined ? (typeof o === 'string' ? o : ABSENT) : mine);
        return;
      }
    }
    if (g.includes('\n')) {
      compareLines(w, p, g, o);
      return;
    }
  }
  vote(w, p, o !== ABSENT && o === g, g, o);
}

function emptyCategories(): Record<Category, Tally> {
  return Object.fromEntries(CATEGORIES.map((c) => [c, { leaves: 0, agree: 0 }])) as Record<Category, Tally>;
}

export interface CompareOptions {
  name?: string;
  select?: string[];
  skip?: string[];
  error?: string;
  warnings?: string[];
}

/** Compares every golden object with ours (matched by kind/namespace/name). */
export function compareObjects(golden: Obj[], ours: Obj[], opts: CompareOptions = {}): CaseResult {
  const skip = opts.skip ?? [];
  const wanted = golden.filter((g) => !selects(skip, g));
  const byKey = new Map(ours.map((o) => [objectKey(o), o]));
  const byCategory = emptyCategories();
  const diffs: LeafDiff[] = [];
  const total: Tally = { leaves: 0, agree: 0 };
  const objects: ObjectResult[] = [];
  const extraFields: string[] = [];
  for (const g of wanted) {
    const key = objectKey(g);
    const mine = byKey.get(key);
    const own = emptyCategories();
    const w: Walk = {
      kind: g.kind,
      objName: g.metadata?.name ?? '',
      object: key,
      tally: { leaves: 0, agree: 0 },
      byCategory: own,
      diffs,
      extraFields,
    };
    // A missing object still counts its leaves (all disagreeing) but lists one diff, not thousands.
    const sink: LeafDiff[] = [];
    if (!mine) {
      w.diffs = sink;
      w.missing = true;
    }
    walk(w, '', '', g, mine ?? ABSENT);
    if (!mine) diffs.push({ object: key, path: '', category: 'names', golden: key, ours: ABSENT });
    const core: Tally = { leaves: 0, agree: 0 };
    for (const c of CATEGORIES) {
      byCategory[c].leaves += own[c].leaves;
      byCategory[c].agree += own[c].agree;
      if (!NON_CORE.includes(c)) {
        core.leaves += own[c].leaves;
        core.agree += own[c].agree;
      }
    }
    objects.push({ key, present: !!mine, ...w.tally, core });
    total.leaves += w.tally.leaves;
    total.agree += w.tally.agree;
  }
  const goldenKeys = new Set(golden.map(objectKey));
  const extra = ours.filter((o) => selects(opts.select ?? [], o) && !goldenKeys.has(objectKey(o)) && !selects(skip, o)).map(objectKey);
  return {
    name: opts.name ?? '',
    ...(opts.error ? { error: opts.error } : {}),
    warnings: opts.warnings ?? [],
    objects,
    missing: objects.filter((o) => !o.present).map((o) => o.key),
    extra,
    byCategory,
    diffs,
    extraFields,
    rendered: ours.length,
    ...total,
  };
}

export function share(t: Tally): number {
  return t.leaves === 0 ? 1 : t.agree / t.leaves;
}

/** Leaves outside the NON_CORE categories: the behaviour a running Istio depends on. */
export function coreTally(r: CaseResult): Tally {
  const t = { leaves: r.leaves, agree: r.agree };
  for (const c of NON_CORE) {
    t.leaves -= r.byCategory[c].leaves;
    t.agree -= r.byCategory[c].agree;
  }
  return t;
}

// ---- rendering a case with the project's own pipeline ------------------------------------------------------

export interface Rendered {
  objects: Obj[];
  warnings: string[];
}

/** Render the way `istio-operator render [-f input] [--set ...] [--force]` does, in process. Imported lazily so the
 *  comparer itself works (and is tested) even when the render modules are missing or broken. */
export async function renderInput(
  input: { files?: Array<{ name: string; text: string }>; sets?: string[]; force?: boolean; revision?: string },
  release = NEWEST_FIXTURE_RELEASE,
): Promise<Rendered> {
  const { resolveIstioOperator } = await import('../../operator/api/resolve.js');
  const { render } = await import('../../operator/render/index.js');
  // As istioctl of `release` renders an input: its own manifests, whatever image tag the input names (Istio's test
  // inputs pin tag 1.1.4). The release annotation says exactly that (api/releases.ts).
  const resolved = resolveIstioOperator({ ...input, release });
  const out = render(resolved.install);
  const warnings = [...resolved.warnings, ...out.warnings].map((w) => `${w.path ? w.path + ': ' : ''}${w.message}`);
  return { objects: out.objects as Obj[], warnings };
}

export function caseFiles(c: GoldenCase, release = NEWEST_FIXTURE_RELEASE): Array<{ name: string; text: string }> {
  return c.input ? [{ name: c.input, text: fs.readFileSync(path.join(goldenInputsDir(release, c.set), c.input), 'utf8') }] : [];
}

/** Whether `release`'s fixtures hold this case (pilot_hpa_pdb exists from 1.31 on, for example). */
export function caseExists(c: GoldenCase, release: string): boolean {
  const out = (f?: string) => !f || fs.existsSync(path.join(goldenOutputsDir(release, c.set), f));
  return (!c.input || fs.existsSync(path.join(goldenInputsDir(release, c.set), c.input))) && out(c.golden) && out(c.refused);
}

/** What istioctl printed when it refused the input of a `refused` case. */
export function refusal(c: GoldenCase, release = NEWEST_FIXTURE_RELEASE): string {
  return fs.readFileSync(path.join(goldenOutputsDir(release, c.set), c.refused!), 'utf8').trim();
}

/** The command-line flags of a case of ours (`<flags>` under the set's inputs: istioctl's arguments one per line,
 *  as scripts/live-goldens.sh gave them) as our render takes them: `--set`/`-s` values and `--force`. The charts
 *  path istioctl got for installPackagePath (`@CHARTS@`) becomes ours, which any value leaves alone. */
export function caseFlags(c: GoldenCase, release = NEWEST_FIXTURE_RELEASE): { sets: string[]; force: boolean } {
  const sets = [...(c.sets ?? [])];
  let force = !!c.force;
  if (!c.flags) return { sets, force };
  const file = path.join(goldenInputsDir(release, c.set), c.flags);
  if (!fs.existsSync(file)) return { sets, force };
  const args = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--force') force = true;
    else if (a === '-s' || a === '--set') sets.push(args[++i]!.replace('@CHARTS@', 'manifests'));
    else throw new Error(`${file}: flag ${a} is not one our render takes`);
  }
  return { sets, force };
}

/**
 * Where Istio's vendored golden of one of its own cases is stale: it comes from its test's chart snapshot, which can
 * lag the release (cases.ts), while golden/live holds what the release's own istioctl renders for the same input and
 * flags. A difference of ours from the vendored golden is stale when the live golden differs from the vendored one at
 * the same object and path and ours does not differ from the live golden there (for a missing object: istioctl does
 * not render it either). Checked leaf by leaf, so nothing is waved through that the live golden does not show.
 * Of a CRD only what the live goldens' stubs keep counts (its schema is checked against the release's
 * crd-all.gen.yaml, crdschemas.test.ts); the non-core categories are left out (template text is compared by line
 * number, which two goldens do not share).
 */
/** What the live goldens keep of a CRD (scripts/crd-stubs.mjs); '' is the object itself. */
const CRD_STUB_PATH =
  /^$|^metadata\.(labels|annotations)(\.|$)|^spec\.(group|scope)$|^spec\.versions\[name=[^\]]+\]\.(name|served|storage)$/;

export function staleRefs(c: GoldenCase, release: string, vendored: Obj[], result: CaseResult, ours: Obj[]): string[] | undefined {
  if (c.set) return undefined;
  const file = path.join(goldenOutputsDir(release, 'live'), `${c.name}.golden.yaml`);
  if (!fs.existsSync(file)) return undefined;
  const live = loadYamlObjects(fs.readFileSync(file, 'utf8'));
  const ref = (d: LeafDiff) => `${d.object} ${d.path}`;
  const wanted = new Set(vendored.map(objectKey));
  const moved = new Set(compareObjects(vendored, live, { skip: c.skip ?? [] }).diffs.map(ref));
  const againstLive = new Set(
    compareObjects(
      live.filter((o) => wanted.has(objectKey(o))),
      ours,
      { skip: c.skip ?? [] },
    ).diffs.map(ref),
  );
  return result.diffs
    .filter((d) => !NON_CORE.includes(d.category) && (!d.object.startsWith('CustomResourceDefinition:') || CRD_STUB_PATH.test(d.path)))
    .map(ref)
    .filter((r) => moved.has(r) && !againstLive.has(r));
}

export async function runCase(c: GoldenCase, release = NEWEST_FIXTURE_RELEASE): Promise<CaseResult> {
  const golden = c.golden ? loadGolden(c.golden, release, c.set) : [];
  let rendered: Rendered = { objects: [], warnings: [] };
  let error: string | undefined;
  try {
    const { sets, force } = caseFlags(c, release);
    rendered = await renderInput({ files: caseFiles(c, release), sets, force }, release);
  } catch (e) {
    error = (e as Error).message;
  }
  const result = compareObjects(golden, rendered.objects, {
    name: c.name,
    select: c.select,
    skip: c.skip ?? [],
    ...(error ? { error } : {}),
    warnings: rendered.warnings,
  });
  const stale = error ? undefined : staleRefs(c, release, golden, result, rendered.objects);
  return stale ? { ...result, stale } : result;
}

/** Core leaves of a result but those the live golden shows stale: the vendored golden's figure that counts. */
export function currentCoreTally(r: CaseResult): Tally {
  const t = coreTally(r);
  const stale = new Set(r.stale ?? []);
  const n = r.diffs.filter((d) => d.path !== '' && stale.has(`${d.object} ${d.path}`)).length;
  // A missing object counts all its leaves against the share; stale, it counts none.
  const gone = r.objects.filter((o) => !o.present && stale.has(`${o.key} `)).reduce((a, o) => a + o.core.leaves, 0);
  return { leaves: t.leaves - n - gone, agree: t.agree };
}
