import fs from 'node:fs';
import path from 'node:path';
import { cachedParse } from '../buildcache.js';
import { manifestsDir } from '../paths.js';
import { InputError, type FieldIssue, type Warning } from '../api/errors.js';
import { clone, isMap, mergeSpec } from '../api/merge.js';
import type { CaMode, CaSpec, ComponentSpec, ComponentsSpec, GatewaySpec, Values } from '../api/types.js';
import type { ResolvedInstall } from '../api/install.js';
import { revLabel, revSuffix } from '../api/names.js';
import type { CaContext, ComponentKey, GatewayContext, RenderContext } from './context.js';
import { compatibilityValues, compatibilityVersions, VALUE_PROFILES } from './valueProfiles.js';
import { platformOf, platformsOf, platformValues } from './platforms.js';
import { ztunnelName } from '../api/names.js';
import type { Release } from '../api/releases.js';
import { has } from './features.js';

// From a merged IstioOperator to one RenderContext per thing to render. This is the one place where
// spec-level settings become values, so templates never look at the IstioOperator itself.

/** One unit of rendering: a component, or one named gateway. */
export interface ComponentRender {
  component: ComponentKey;
  /** Field path of this component's spec, for messages: `components.pilot`, `components.ingressGateways[1]`. */
  field: string;
  spec: ComponentSpec;
  ctx: RenderContext;
}

export interface Contexts {
  values: Values;
  meshConfig: Record<string, unknown>;
  renders: ComponentRender[];
  warnings: Warning[];
}

let defaultsCache: Values | undefined;

/** The defaults of manifests/values.yaml (parsed once; callers get a copy). */
export function defaultValues(): Values {
  if (!defaultsCache) {
    const file = path.join(manifestsDir, 'values.yaml');
    // Parsed by the build when unchanged (dist/operator/cache), as yaml.load would.
    defaultsCache = (cachedParse('yaml', fs.readFileSync(file, 'utf8')) ?? {}) as Values;
  }
  return clone(defaultsCache);
}

const merge = (a: unknown, b: unknown): Values => mergeSpec(a ?? {}, b ?? {}, 'values');

const GATEWAY_TYPES = {
  ingressGateways: { type: 'ingress', valuesKey: 'istio-ingressgateway', istio: 'ingressgateway' },
  egressGateways: { type: 'egress', valuesKey: 'istio-egressgateway', istio: 'egressgateway' },
} as const;

const CA_MODES: CaMode[] = ['istiod', 'operator', 'provided', 'external'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function buildContexts(install: ResolvedInstall): Contexts {
  const spec = install.iop.spec;
  const warnings: Warning[] = [];
  const issues: FieldIssue[] = [];
  const user = merge(spec.values, spec.unvalidatedValues);

  // Layers under the user's values: chart defaults, then the values profile and compatibility version.
  let values = defaultValues();
  const profile = user.profile ?? user.global?.profile;
  if (profile !== undefined && profile !== null && profile !== '') {
    const p = VALUE_PROFILES[String(profile)];
    if (!p)
      issues.push({
        path: 'values.profile',
        message: `unknown values profile "${profile}"`,
        hint: `one of: ${Object.keys(VALUE_PROFILES).join(', ')}`,
      });
    else values = merge(values, p);
  }
  const compat = spec.compatibilityVersion ?? user.compatibilityVersion;
  if (compat !== undefined && compat !== null && compat !== '') {
    const c = compatibilityValues(String(compat), install.release);
    if (!c) {
      issues.push({
        path: spec.compatibilityVersion !== undefined ? 'compatibilityVersion' : 'values.compatibilityVersion',
        message: `unknown compatibility version "${compat}"`,
        hint: `Istio ${install.release.line} accepts: ${compatibilityVersions(install.release).join(', ')}`,
      });
    } else values = merge(values, c);
  }
  // The platform's values come after the compatibility version and before the user's, as in Istio's charts.
  const platform = platformOf(user);
  if (platform !== '') {
    const p = platformValues(platform, install.release);
    if (!p) {
      issues.push({
        path: user.platform ? 'values.platform' : 'values.global.platform',
        message: `unknown platform "${platform}"`,
        hint: `Istio ${install.release.line} knows ${platformsOf(install.release).join(', ')} (case-sensitive); leave it empty for none`,
      });
    } else values = merge(values, p);
  }
  values = merge(values, user);

  // Spec-level settings win over the same thing said in values, as istioctl does.
  const comps = spec.components ?? {};
  const set = (p: string, v: unknown) => {
    if (v === undefined || v === null || v === '') return;
    setPath(values, p, v);
  };
  set('global.hub', spec.hub);
  // The tag resolve chose: the user's (spec.tag over values.global.tag), or the release's newest patch.
  set('global.tag', install.tag);
  // The install's revision and Istio namespace, decided once (api/install.ts), are what the templates read.
  set('global.istioNamespace', install.istioNamespace);
  set('revision', install.revision);
  if (spec.compatibilityVersion) set('compatibilityVersion', String(spec.compatibilityVersion));
  set('pilot.hub', comps.pilot?.hub);
  set('pilot.tag', comps.pilot?.tag === undefined ? undefined : String(comps.pilot.tag));
  setPath(values, 'pilot.enabled', comps.pilot?.enabled === true);
  if (values.pilot) values.pilot = mergeSpec(values.pilot, k8sValues(comps.pilot, install.release, true));
  setPath(values, 'base.enabled', comps.base?.enabled === true);
  nodeAgentValues(values, user, comps, install.release);
  warnings.push(...ambientWarnings(values, comps));

  const meshConfig = merge(values.meshConfig, spec.meshConfig) as Record<string, unknown>;
  values.meshConfig = meshConfig;

  const revision = install.revision;
  const istioNamespace = install.istioNamespace;
  const version = install.version;
  warnings.push(...trustedZtunnelWarnings(values, comps, istioNamespace, platform));
  const ca = caContext(spec.components?.ca, values, issues);

  const base = {
    values,
    meshConfig,
    revision,
    rev: revLabel(revision),
    revSuffix: revSuffix(revision),
    istioNamespace,
    version,
    release: install.release,
    ca,
  };

  const renders: ComponentRender[] = [];
  if (comps.base?.enabled === true) {
    renders.push({
      component: 'base',
      field: 'components.base',
      spec: comps.base,
      ctx: { ...base, namespace: comps.base.namespace || istioNamespace },
    });
  }
  if (comps.pilot?.enabled === true) {
    renders.push({
      component: 'pilot',
      field: 'components.pilot',
      spec: comps.pilot,
      ctx: { ...base, namespace: comps.pilot.namespace || istioNamespace },
    });
  }

  // The node agents: one DaemonSet each, cluster-wide, beside istiod (or in their own namespace, e.g. kube-system on GKE).
  for (const key of ['cni', 'ztunnel'] as const) {
    const c = comps[key];
    if (c?.enabled === true)
      renders.push({ component: key, field: `components.${key}`, spec: c, ctx: { ...base, namespace: c.namespace || istioNamespace } });
  }

  const seen = new Map<string, string>();
  for (const key of ['ingressGateways', 'egressGateways'] as const) {
    const t = GATEWAY_TYPES[key];
    const list: GatewaySpec[] = (comps[key] ?? []).map((g) => ({ ...g }));
    // `values.gateways.istio-egressgateway.enabled` is the old switch for the default gateway of a type;
    // istioctl maps it onto components.<type>Gateways[name=istio-<type>gateway].enabled, both ways.
    const legacy = user.gateways?.[t.valuesKey]?.enabled;
    if (typeof legacy === 'boolean') {
      const i = list.findIndex((g) => (g.name || t.valuesKey) === t.valuesKey);
      if (i >= 0) list[i] = { ...list[i], enabled: legacy };
      else if (legacy) list.push({ name: t.valuesKey, enabled: true });
    }
    list.forEach((g, i) => {
      const field = `components.${key}[${i}]`;
      if (g.enabled !== true) return;
      const name = g.name || t.valuesKey;
      if (!DNS_LABEL.test(name) || name.length > 63) {
        issues.push({
          path: `${field}.name`,
          message: `"${name}" is not a valid gateway name`,
          hint: 'a DNS-1123 label: lower case letters, digits and "-", at most 63 characters',
        });
        return;
      }
      const namespace = g.namespace || istioNamespace;
      const where = `${namespace}/${name}`;
      const prior = seen.get(where);
      if (prior) {
        issues.push({
          path: `${field}.name`,
          message: `gateway "${name}" in namespace "${namespace}" is also defined at ${prior}`,
          hint: 'give each enabled gateway a unique name per namespace',
        });
        return;
      }
      seen.set(where, field);
      renders.push({
        component: key,
        field,
        spec: g,
        ctx: { ...base, namespace, gateway: gatewayContext(values, t, g, name, namespace, install.release) },
      });
    });
  }

  if (issues.length) throw new InputError(issues);
  return { values, meshConfig, renders, warnings };
}

/**
 * What enabling the node agents means for the rest of the values, as istioctl translates it: components.<agent>.hub/tag
 * become the agent's image settings; with the CNI agent installed, injected pods rely on it instead of a privileged
 * init container (pilot.cni.enabled); and istiod trusts the ztunnel that is actually rendered (its name and namespace).
 */
function nodeAgentValues(values: Values, user: Values, comps: ComponentsSpec, release: Release): void {
  for (const key of ['cni', 'ztunnel'] as const) {
    const c = comps[key];
    if (!c) continue;
    const k8s = k8sValues(c, release, false);
    if (k8s.resources) setPath(values, `${key}.resources`, mergeSpec(values[key]?.resources ?? {}, k8s.resources));
    if (c.hub) setPath(values, `${key}.hub`, c.hub);
    if (c.tag !== undefined && c.tag !== null && c.tag !== '') setPath(values, `${key}.tag`, String(c.tag));
  }
  if (comps.cni?.enabled === true && user.pilot?.cni?.enabled === undefined) setPath(values, 'pilot.cni.enabled', true);
  if (comps.ztunnel?.enabled === true) {
    if (!values.pilot?.trustedZtunnelName) setPath(values, 'pilot.trustedZtunnelName', ztunnelName(values.ztunnel?.resourceName));
    if (!values.pilot?.trustedZtunnelNamespace && comps.ztunnel.namespace)
      setPath(values, 'pilot.trustedZtunnelNamespace', comps.ztunnel.namespace);
  }
}

/**
 * istiod issues ambient pods' certificates only to the ztunnel it trusts (CA_TRUSTED_NODE_ACCOUNTS). A platform
 * (openshift: kube-system) or the user may name that namespace apart from where ztunnel is rendered, and istioctl
 * renders it so: say so rather than install an ambient mesh whose ztunnel is refused.
 */
function trustedZtunnelWarnings(values: Values, comps: ComponentsSpec, istioNamespace: string, platform: string): Warning[] {
  if (comps.ztunnel?.enabled !== true) return [];
  const trusted = values.pilot?.trustedZtunnelNamespace;
  const actual = comps.ztunnel.namespace || istioNamespace;
  if (!trusted || trusted === actual) return [];
  const from = platform === 'openshift' && trusted === 'kube-system' ? ' (the openshift platform sets it)' : '';
  return [
    {
      path: 'components.ztunnel.namespace',
      message: `ztunnel is rendered in ${actual} but istiod trusts only the ztunnel of ${trusted} (values.pilot.trustedZtunnelNamespace${from}): ambient pods would get no certificates; set components.ztunnel.namespace: ${trusted}${platform === 'openshift' ? ' (as the openshift-ambient profile does)' : ''}`,
    },
  ];
}

/** ztunnel without ambient mode does nothing: say what is missing rather than install a node proxy no pod will use. */
function ambientWarnings(values: Values, comps: ComponentsSpec): Warning[] {
  if (comps.ztunnel?.enabled !== true) return [];
  // Only what this IstioOperator installs is checked: the CNI agent or istiod may come from another one.
  const missing: string[] = [];
  if (comps.cni?.enabled === true && values.cni?.ambient?.enabled !== true) missing.push('values.cni.ambient.enabled: true');
  if (comps.pilot?.enabled === true && String(values.pilot?.env?.PILOT_ENABLE_AMBIENT ?? '') !== 'true')
    missing.push('values.pilot.env.PILOT_ENABLE_AMBIENT: "true"');
  if (!missing.length) return [];
  return [
    {
      path: 'components.ztunnel',
      message: `ztunnel is enabled but ambient mode is not: no pod will be redirected to it without ${missing.join(', ')} (the ambient profile sets them)`,
    },
  ];
}

function gatewayContext(
  values: Values,
  t: (typeof GATEWAY_TYPES)[keyof typeof GATEWAY_TYPES],
  g: GatewaySpec,
  name: string,
  namespace: string,
  release: Release,
): GatewayContext {
  const typeValues = (values.gateways?.[t.valuesKey] ?? {}) as Values;
  // As in Istio, every gateway of a type starts from that type's labels (app/istio), then adds its own:
  // a second ingress gateway without its own `istio` label shares the default's selector.
  const labels: Record<string, string> = {
    app: t.valuesKey,
    istio: t.istio,
    ...stringMap(typeValues.labels),
    ...stringMap(g.label),
  };
  const own: Values = { name, namespace, labels, enabled: true, ...k8sValues(g, release, true) };
  // As istioctl does, the Service ports a gateway's k8s settings list become the gateway's `ports` value, replacing
  // the type's defaults: the chart makes its Service ports, container ports and NetworkPolicy from that value.
  const servicePorts = g.k8s?.service?.ports;
  if (Array.isArray(servicePorts) && servicePorts.length) own.ports = servicePorts.map((p) => (isMap(p) ? { ...p } : p));
  if (g.hub) own.hub = g.hub;
  if (g.tag !== undefined && g.tag !== null && g.tag !== '') own.tag = String(g.tag);
  return {
    name,
    namespace,
    type: t.type,
    labels,
    values: merge(typeValues, own),
    serviceAccountName: `${name}-service-account`,
  };
}

function caContext(ca: CaSpec | undefined, values: Values, issues: FieldIssue[]): CaContext {
  const mode: CaMode = ca?.mode ?? 'istiod';
  if (!CA_MODES.includes(mode)) {
    issues.push({ path: 'components.ca.mode', message: `unknown CA mode "${mode}"`, hint: `one of: ${CA_MODES.join(', ')}` });
  }
  const out: CaContext = { mode, secretName: ca?.secretName || 'cacerts' };
  if (mode === 'external') {
    if (ca?.address) {
      out.address = String(ca.address);
      // Proxies must send their CSRs to the external signer too, unless the user pointed them elsewhere.
      if (!values.global?.caAddress) setPath(values, 'global.caAddress', out.address);
    }
    if (ca?.externalCA) out.externalCA = String(ca.externalCA);
  }
  return out;
}

// From 1.31 istioctl carries some k8s settings into the component's values before rendering, not only patches them
// on after (operator/pkg/render/manifest.go), so the templates' guards see them (features.ts k8sSettingsAsValues):
// replica settings of a Deployment (HPA bounds, and a PDB only when more than one replica can run) and the CPU of
// k8s.resources (ztunnel's ZTUNNEL_RESOURCE_CPU_* env). 1.29 and 1.30 render from values alone.
function k8sValues(c: ComponentSpec | undefined, release: Release, deployment: boolean): Values {
  const out: Values = {};
  const k = c?.k8s;
  if (!k || !has(release, 'k8sSettingsAsValues')) return out;
  if (deployment) {
    if (typeof k.hpaSpec?.minReplicas === 'number') out.autoscaleMin = k.hpaSpec.minReplicas;
    if (typeof k.hpaSpec?.maxReplicas === 'number' && k.hpaSpec.maxReplicas > 0) out.autoscaleMax = k.hpaSpec.maxReplicas;
    if (typeof k.replicaCount === 'number' && k.replicaCount > 0) out.replicaCount = k.replicaCount;
  }
  const cpu = (m: unknown) =>
    isMap(m) && m.cpu !== undefined && m.cpu !== null && String(m.cpu) !== '' && String(m.cpu) !== '0' ? String(m.cpu) : undefined;
  const limit = cpu(k.resources?.limits);
  const request = cpu(k.resources?.requests);
  if (limit || request)
    out.resources = { ...(limit ? { limits: { cpu: limit } } : {}), ...(request ? { requests: { cpu: request } } : {}) };
  return out;
}

function stringMap(m: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isMap(m)) for (const [k, v] of Object.entries(m)) if (v !== null && v !== undefined) out[k] = String(v);
  return out;
}

/** Sets a dotted path, creating maps on the way (replacing scalars that stand in the way). */
export function setPath(root: Values, p: string, v: unknown): void {
  const parts = p.split('.');
  let cur: Values = root;
  for (const part of parts.slice(0, -1)) {
    if (!isMap(cur[part])) cur[part] = {};
    cur = cur[part];
  }
  cur[parts[parts.length - 1]] = v;
}
