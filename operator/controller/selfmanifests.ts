import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import yaml from 'js-yaml';
import { InputError } from '../api/errors.js';
import { crdsDir, manifestsDir, packageRoot } from '../paths.js';
import type { K8sObject, Values } from '../api/types.js';

// The operator's own install, from one definition: manifests/operator/values.yaml (the defaults) and the
// templates beside it. `istio-operator operator manifests` renders them here; the Helm chart
// (charts/istio-operator) is generated from the same files by scripts/chart.ts, which turns each template
// into the Go template Helm runs. So the templates use only what both sides mean the same way:
//   - the context is Helm's: Values, Release.Name, Release.Namespace, Chart.AppVersion;
//   - every value is written through `toJson` (JSON is YAML, so a value can never change the structure);
//   - the helpers below, named and ordered as Sprig's/Go's and with their semantics (`if` is Go's: empty
//     maps and lists are false), and the blocks if/else, unless and each (on their own lines).
// The RBAC integration test runs the operator with exactly these rules, and a test renders the chart with
// real Helm and compares the objects with this module's.

export const SELF_COMPONENT = 'operator';
export const CHART_NAME = 'istio-operator';
export const IOP_CRD_FILE = 'install.istio.io_istiooperators.yaml';
export const VALUES_FILE = path.join(manifestsDir, SELF_COMPONENT, 'values.yaml');

export type { Values };

/** Go template truthiness, which Sprig's `empty` and `default` share. */
export function goTruthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === 'object') return Object.keys(v).length > 0;
  return !!v;
}

/** Go's fmt verbs the templates use: %s (strings only, as Go prints anything else oddly), %v, %d, %%. */
function printf(format: string, ...args: unknown[]): string {
  let i = 0;
  return format.replace(/%([svd%])/g, (_, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    if (verb === 's' && typeof a !== 'string')
      throw new Error(`printf ${JSON.stringify(format)}: %s given ${JSON.stringify(a)}, not a string (use %v)`);
    if (verb === 'd' && !Number.isInteger(a))
      throw new Error(`printf ${JSON.stringify(format)}: %d given ${JSON.stringify(a)}, not an integer`);
    return a === undefined || a === null ? '<nil>' : String(a);
  });
}

/** The helpers both sides have: JavaScript here, Go/Sprig functions of the same name and argument order in Helm. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a template may pass anything to a helper; join and printf declare what they expect (string), as Sprig's do
export const SELF_HELPERS: Record<string, (...args: any[]) => unknown> = {
  toJson: (v: unknown) => JSON.stringify(v === undefined ? null : v),
  default: (d: unknown, v: unknown) => (goTruthy(v) ? v : d),
  list: (...items: unknown[]) => items,
  join: (sep: string, l: unknown) => (Array.isArray(l) ? l.map(String).join(sep) : l === undefined || l === null ? '' : String(l)),
  printf,
  not: (v: unknown) => !goTruthy(v),
  empty: (v: unknown) => !goTruthy(v),
  eq: (a: unknown, b: unknown) => a === b,
  ne: (a: unknown, b: unknown) => a !== b,
  and: (...a: unknown[]) => a.find((x) => !goTruthy(x)) ?? a[a.length - 1],
  or: (...a: unknown[]) => a.find((x) => goTruthy(x)) ?? a[a.length - 1],
};
/** Block helpers the chart generator translates (if → if, unless → if not, each → range). */
export const SELF_BLOCKS = ['if', 'unless', 'each'] as const;

let env: typeof Handlebars | undefined;
function handlebars(): typeof Handlebars {
  if (env) return env;
  env = Handlebars.create();
  // Handlebars passes an options object last; Sprig functions know nothing of it.
  for (const [name, fn] of Object.entries(SELF_HELPERS)) env.registerHelper(name, (...args: unknown[]) => fn(...args.slice(0, -1)));
  env.registerHelper('if', function (this: unknown, cond: unknown, options: Handlebars.HelperOptions) {
    return goTruthy(cond) ? options.fn(this) : options.inverse(this);
  });
  env.registerHelper('unless', function (this: unknown, cond: unknown, options: Handlebars.HelperOptions) {
    return goTruthy(cond) ? options.inverse(this) : options.fn(this);
  });
  return env;
}

/** The templates of manifests/operator, in name order (the order Helm also applies them in, by kind). */
export function selfTemplateFiles(): string[] {
  return fs
    .readdirSync(path.join(manifestsDir, SELF_COMPONENT))
    .filter((f) => f.endsWith('.yaml.hbs'))
    .sort();
}

export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

export function defaultValues(): Values {
  return yaml.load(fs.readFileSync(VALUES_FILE, 'utf8')) as Values;
}

const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Helm's merge of values files: maps merge key by key, anything else (lists included) replaces. */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isMap(v) && isMap(base[k]) ? mergeValues(base[k], v) : v;
  return out;
}

/** Maps whose keys are the user's (labels, selectors, resources): not checked against the defaults' keys. */
const FREE_FORM = new Set(['resources', 'nodeSelector', 'affinity', 'podLabels', 'podAnnotations', 'metrics.serviceMonitor.labels']);
const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v === 'object' ? 'map' : typeof v);

/** Unknown keys and wrong types, against the defaults: a typo must not be dropped silently. */
export function checkValues(v: Values, defaults: Values = defaultValues(), at = ''): void {
  const issues: Array<{ path: string; message: string; hint: string }> = [];
  const walk = (val: Values, def: Values, prefix: string) => {
    for (const [k, x] of Object.entries(val)) {
      const p = prefix + k;
      if (!(k in def)) {
        issues.push({
          path: `${at}${p}`,
          message: 'is not a value of the operator install',
          hint: `valid here: ${Object.keys(def).join(', ')}`,
        });
        continue;
      }
      const want = typeOf(def[k]);
      if (x !== null && typeOf(x) !== want)
        issues.push({ path: `${at}${p}`, message: `is a ${typeOf(x)}`, hint: `a ${want}, like the default ${JSON.stringify(def[k])}` });
      else if (want === 'map' && !FREE_FORM.has(p)) walk(x as Values, def[k], `${p}.`);
    }
  };
  walk(v, defaults, '');
  if (issues.length) throw new InputError(issues);
}

/**
 * The same rules as checkValues, as the JSON schema Helm checks values against (the chart's values.schema.json):
 * the defaults' keys and types; free-form maps and lists take anything of their type.
 */
export function valuesSchema(defaults: Values = defaultValues()): object {
  const schemaOf = (v: unknown, p: string): object => {
    const t = typeOf(v);
    if (t === 'map' && !FREE_FORM.has(p)) {
      const m = v as Values;
      return {
        type: 'object',
        additionalProperties: false,
        properties: Object.fromEntries(Object.entries(m).map(([k, x]) => [k, schemaOf(x, p ? `${p}.${k}` : k)])),
      };
    }
    // null: a value may be set to null (Helm then drops it), so every type also allows null.
    return t === 'null' ? {} : { type: [t === 'map' ? 'object' : t === 'list' ? 'array' : t, 'null'] };
  };
  return { $schema: 'https://json-schema.org/draft-07/schema#', ...schemaOf(defaults, '') };
}

export interface SelfManifestOptions {
  /** The operator's namespace (Helm: the release namespace). */
  namespace?: string;
  /** The instance's name (Helm: the release name): the Deployment, ServiceAccount, and with the namespace the cluster-scoped names. */
  name?: string;
  /** Values over the defaults, as a Helm values file; the options below win over them. */
  values?: Values;
  image?: string;
  replicas?: number;
  concurrency?: number;
  /** IstioOperator namespaces to watch; empty = all. */
  watchNamespaces?: string[];
  /** Namespaces whose IstioOperators are acted on; empty = the operator's namespace and istio-system. */
  trustedNamespaces?: string[];
  includeCRD?: boolean;
}

/** `repo:tag` or `repo@sha256:...` as the image values. */
export function imageValues(ref: string): Values {
  const at = ref.indexOf('@');
  if (at > 0) return { repository: ref.slice(0, at), digest: ref.slice(at + 1), tag: '' };
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { repository: ref.slice(0, colon), tag: ref.slice(colon + 1), digest: '' };
  return { repository: ref, tag: '', digest: '' };
}

/** Defaults < options.values < the named options: what both the CLI and the chart equality test render. */
export function selfValues(o: SelfManifestOptions = {}): Values {
  let v = defaultValues();
  if (o.values) {
    checkValues(o.values, v);
    v = mergeValues(v, o.values);
  }
  const flags: Values = {};
  if (o.image) flags.image = imageValues(o.image);
  if (o.replicas !== undefined) flags.replicas = o.replicas;
  if (o.concurrency !== undefined) flags.concurrency = o.concurrency;
  if (o.watchNamespaces?.length) flags.watchNamespaces = o.watchNamespaces;
  if (o.trustedNamespaces?.length) flags.trustedNamespaces = o.trustedNamespaces;
  return mergeValues(v, flags);
}

export interface SelfContext {
  Values: Values;
  Release: { Name: string; Namespace: string };
  Chart: { Name: string; Version: string; AppVersion: string };
}

export function selfContext(o: SelfManifestOptions = {}): SelfContext {
  const version = packageVersion();
  return {
    Values: selfValues(o),
    Release: { Name: o.name ?? 'istio-operator', Namespace: o.namespace ?? 'istio-operator' },
    Chart: { Name: CHART_NAME, Version: version, AppVersion: version },
  };
}

/** The objects of manifests/operator's templates for a context: exactly what the chart's templates give. */
export function renderSelfTemplates(ctx: SelfContext): K8sObject[] {
  const hb = handlebars();
  return selfTemplateFiles().flatMap((f) => {
    const src = fs.readFileSync(path.join(manifestsDir, SELF_COMPONENT, f), 'utf8');
    const text = hb.compile(src, { noEscape: true, strict: false })(ctx);
    try {
      return (yaml.loadAll(text) as unknown[]).filter((d): d is K8sObject => !!d && typeof d === 'object' && 'kind' in d);
    } catch (e) {
      throw new Error(`template manifests/${SELF_COMPONENT}/${f} produced invalid YAML: ${(e as Error).message}`);
    }
  });
}

/** The IstioOperator CRD as shipped (the chart carries the same file in crds/). */
export function iopCRD(): K8sObject[] {
  const docs = yaml.loadAll(fs.readFileSync(path.join(crdsDir, IOP_CRD_FILE), 'utf8')) as K8sObject[];
  return docs.filter((d) => d && typeof d === 'object');
}

/**
 * `operator manifests`: the CRD, the operator's Namespace (Helm leaves that to `--create-namespace`), then the
 * same objects as the chart.
 */
export function operatorManifests(o: SelfManifestOptions = {}): K8sObject[] {
  const ctx = selfContext(o);
  const ns: K8sObject = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ctx.Release.Namespace, labels: { 'app.kubernetes.io/name': 'istio-operator' } },
  };
  return [...(o.includeCRD === false ? [] : iopCRD()), ns, ...renderSelfTemplates(ctx)];
}

/** The image `operator manifests` and the chart use when none is given: the published one of this version. */
export const DEFAULT_IMAGE = `${defaultValues().image.repository}:${packageVersion()}`;

type PolicyRule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

/** Every rule of the ClusterRole and Roles, flattened (the RBAC test checks them for wildcards). */
export function operatorRules(objects: K8sObject[]): Array<{ kind: string; name: string } & PolicyRule> {
  return objects
    .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
    .flatMap((o) => ((o as { rules?: PolicyRule[] }).rules ?? []).map((r) => ({ kind: o.kind, name: o.metadata.name, ...r })));
}

/** Cluster-scoped objects of an instance are named `<name>.<namespace>` (a namespace has no dot: no two instances collide). */
export const instanceName = (name: string, namespace: string) => `${name}.${namespace}`;
