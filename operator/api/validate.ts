import type { FieldIssue, Warning } from './errors.js';
import { isMap } from './merge.js';
import type { Values } from './types.js';
import { anyValue, type Check, bool, check, custom, fields, int, list, oneOf, sOrN, str, typeName } from './schema.js';
import { DNS1123_SUBDOMAIN, checkDnsLabel, dnsLabel, dnsSubdomain, duration, hub, k8s, labelMap } from './k8sfields.js';
import { meshConfig, valuesSchema } from './valuesschema.js';

// Structural validation of a (merged, legacy-translated) IstioOperator spec. Every issue is collected.
// `values` issues are kept apart because `--force` turns them into warnings, as istioctl does.

// A tag that equals a revision name would make `istio.io/rev=<name>` mean two control planes.
function crossRevisionTags(spec: unknown, root: string, out: FieldIssue[]): void {
  if (!isMap(spec) || !isMap(spec.values) || !Array.isArray(spec.values.revisionTags)) return;
  const rev = typeof spec.revision === 'string' && spec.revision ? spec.revision : 'default';
  const seen = new Set<string>();
  spec.values.revisionTags.forEach((tag: unknown, i: number) => {
    const path = `${root}.values.revisionTags[${i}]`;
    if (tag === rev)
      out.push({
        path,
        message: `"${tag}" is the revision this IstioOperator installs`,
        hint: 'a tag is another name for a revision; pick a name that is not a revision',
      });
    else if (typeof tag === 'string' && seen.has(tag)) out.push({ path, message: `"${tag}" is listed twice` });
    if (typeof tag === 'string') seen.add(tag);
  });
}

// ---- IstioOperator spec ----

const componentFields = { enabled: bool, namespace: dnsLabel('namespace name'), hub, tag: sOrN, k8s };
const component = fields(componentFields);
const gateway = fields({ ...componentFields, name: dnsLabel('gateway name'), label: labelMap }, false, (v, p, o) => {
  if (isMap(v) && (typeof v.name !== 'string' || v.name === ''))
    o.push({ path: `${p}.name`, message: 'is required', hint: 'a DNS-1123 label such as istio-ingressgateway' });
});
const uniqueNames: Check = (v, p, o) => {
  if (!Array.isArray(v)) return;
  const seen = new Set<string>();
  v.forEach((g, i) => {
    if (isMap(g) && typeof g.name === 'string') {
      if (seen.has(g.name))
        o.push({
          path: `${p}[${i}].name`,
          message: `duplicate gateway name ${JSON.stringify(g.name)}`,
          hint: 'each gateway in a list needs its own name',
        });
      seen.add(g.name);
    }
  });
};
const ca = fields(
  {
    mode: oneOf('istiod', 'operator', 'provided', 'external'),
    secretName: dnsSubdomain,
    keyType: oneOf('RSA', 'ECDSA'),
    keySize: int,
    rootLifetime: duration,
    intermediateLifetime: duration,
    renewBefore: duration,
    address: str,
    externalCA: str,
  },
  false,
  (v, p, o) => {
    if (!isMap(v) || typeof v.keySize !== 'number') return;
    const ok = v.keyType === 'ECDSA' ? [256, 384] : [2048, 3072, 4096];
    if (!ok.includes(v.keySize))
      o.push({
        path: `${p}.keySize`,
        message: `${v.keySize} is not supported for ${v.keyType ?? 'RSA'} keys`,
        hint: `one of: ${ok.join(', ')}`,
      });
  },
);

const revision = custom(str, (v, p, o) => {
  if (typeof v !== 'string' || v === '') return;
  checkDnsLabel(v, p, o, 'revision');
  if (v === 'default')
    o.push({
      path: p,
      message: '"default" names the default revision, it cannot be a revision name',
      hint: 'leave revision empty for the default revision',
    });
});

const specSchema = fields({
  profile: str,
  installPackagePath: str,
  hub,
  tag: sOrN,
  namespace: dnsLabel('namespace name'),
  revision,
  compatibilityVersion: custom(str, (v, p, o) => {
    if (typeof v === 'string' && v !== '' && !/^1\.\d+$/.test(v))
      o.push({ path: p, message: `${JSON.stringify(v)} is not a version`, hint: 'MAJOR.MINOR such as 1.29' });
  }),
  meshConfig,
  components: fields({
    base: component,
    pilot: component,
    cni: component,
    ztunnel: component,
    ingressGateways: list(gateway, uniqueNames),
    egressGateways: list(gateway, uniqueNames),
    ca,
  }),
  values: anyValue, // validated separately: its issues may be forced into warnings
  unvalidatedValues: anyValue,
});

// An ingress and an egress gateway with the same name in the same namespace would render the same Deployment.
function crossGatewayNames(spec: unknown, root: string, out: FieldIssue[]): void {
  if (!isMap(spec) || !isMap(spec.components)) return;
  const c = spec.components;
  const ns = (g: Values) => (typeof g.namespace === 'string' && g.namespace) || spec.namespace || 'istio-system';
  const seen = new Map<string, string>();
  for (const key of ['ingressGateways', 'egressGateways']) {
    if (!Array.isArray(c[key])) continue;
    c[key].forEach((g: unknown, i: number) => {
      if (!isMap(g) || typeof g.name !== 'string' || g.enabled === false) return;
      const id = `${ns(g)}/${g.name}`;
      const prev = seen.get(id);
      if (prev && !prev.startsWith(`${root}.components.${key}[`)) {
        out.push({
          path: `${root}.components.${key}[${i}].name`,
          message: `${JSON.stringify(g.name)} is also the name of ${prev} in namespace ${ns(g)}`,
          hint: 'give ingress and egress gateways different names or namespaces',
        });
      }
      seen.set(id, `${root}.components.${key}[${i}]`);
    });
  }
}

/** metadata.name and namespace end up in the ownership label values, so they must be valid label values too. */
export function validateMetadata(meta: unknown): FieldIssue[] {
  const out: FieldIssue[] = [];
  if (meta === undefined || meta === null) return out;
  if (!isMap(meta)) return [{ path: 'metadata', message: 'must be a mapping' }];
  if (meta.name !== undefined) {
    if (typeof meta.name !== 'string') out.push({ path: 'metadata.name', message: `must be a string, got ${typeName(meta.name)}` });
    else if (meta.name.length > 63 || !DNS1123_SUBDOMAIN.test(meta.name)) {
      out.push({
        path: 'metadata.name',
        message: `${JSON.stringify(meta.name)} is not a valid IstioOperator name`,
        hint: 'at most 63 lowercase letters, digits, "-" and ".", since it becomes the value of the install.operator.istio.io/owning-resource label',
      });
    }
  }
  if (meta.namespace !== undefined) checkDnsLabel(meta.namespace, 'metadata.namespace', out, 'namespace name');
  return out;
}

export interface Validation {
  /** Issues in the IstioOperator API itself (never forceable). */
  issues: FieldIssue[];
  /** Suspicious but accepted input (unknown MeshConfig fields). */
  warnings: Warning[];
  /** Issues inside spec.values (`force` turns them into warnings). */
  valueIssues: FieldIssue[];
}

export function validateSpec(spec: unknown, root = 'spec'): Validation {
  const issues: FieldIssue[] = [];
  const valueIssues: FieldIssue[] = [];
  check(specSchema, spec, root, issues);
  crossGatewayNames(spec, root, issues);
  crossRevisionTags(spec, root, issues);
  if (isMap(spec) && spec.values !== undefined && spec.values !== null) check(valuesSchema, spec.values, `${root}.values`, valueIssues);
  return { issues, valueIssues, warnings: [] };
}
