import { platformOf } from '../platforms.js';
import yaml from 'js-yaml';
import type { Values } from '../../api/types.js';
import type { RenderContext } from '../context.js';
import { readManifestText, renderComponentTemplates } from '../engine.js';
import type { K8sObject } from '../../api/types.js';
import { tagViews } from '../revisiontag.js';
import { gateText, has, type Feature } from '../features.js';
import type { Release } from '../../api/releases.js';
import {
  DEFAULT_VALIDATOR,
  injectorConfigMapName,
  injectorWebhookName,
  istiodAddress,
  istiodClusterRoleName,
  istiodName,
  gatewayControllerRoleName,
  jwksConfigMapName,
  meshConfigMapName,
  readerClusterRoleName,
  remoteIstiodName,
  revLabel,
  validatorWebhookName,
  valuesConfigMapName,
  ztunnelName,
} from '../../api/names.js';

// istiod and everything that ships with it. The templates in manifests/pilot read a `pilot` view computed here:
// names (the one place that decides revisioned names of this component), values with fallbacks filled in, and the
// three text payloads Istio keeps as strings inside ConfigMaps (mesh config, injector config, injector values).
// Those strings are produced by serialising objects, never by pasting user text into YAML.

/** The injection templates Istio's istiod serves by default, in the order its ConfigMap lists them. */
export const INJECTION_TEMPLATES = ['sidecar', 'gateway', 'grpc-simple', 'grpc-agent', 'waypoint', 'kube-gateway', 'agentgateway'] as const;
export type InjectionTemplate = (typeof INJECTION_TEMPLATES)[number];

/** Templates a release's istiod serves; one that arrived in a later line names its feature (render/features.ts).
 *  None does among the lines supported: istioctl 1.29.6 already ships agentgateway's. */
const TEMPLATE_FEATURES: Partial<Record<InjectionTemplate, Feature>> = {};
export function injectionTemplatesOf(release: Release): InjectionTemplate[] {
  return INJECTION_TEMPLATES.filter((t) => !TEMPLATE_FEATURES[t] || has(release, TEMPLATE_FEATURES[t]!));
}

/** Kinds Istio's chart renders only when `global.resourceScope` includes the cluster scope. */
const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);

export function renderPilot(ctx: RenderContext): K8sObject[] {
  const pilot = pilotView(ctx);
  const scope = String(ctx.values.global?.resourceScope || 'all');
  const objects = renderComponentTemplates('pilot', { ...ctx, pilot }, { release: ctx.release }).filter((o) =>
    CLUSTER_SCOPED.has(o.kind) ? scope === 'all' || scope === 'cluster' : scope === 'all' || scope === 'namespace',
  );
  // The injector config (~90 KB of Go template text) and the values dumps are large strings: set them on the
  // objects rather than round-tripping them through the templates' YAML as giant quoted scalars (same
  // result, a fraction of the time).
  const configMap = (name: string) =>
    objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name) as { data?: Record<string, string> } | undefined;
  const injector = configMap(pilot.injectorConfigMapName);
  if (injector) injector.data = { config: pilot.injectorConfigText, values: pilot.injectorValuesText };
  const valuesMap = configMap(pilot.valuesConfigMapName);
  if (valuesMap) valuesMap.data = { 'merged-values': pilot.mergedValuesText, 'original-values': pilot.originalValuesText };
  return objects;
}

/** Everything the pilot templates need beyond the RenderContext. Exported for tests. */
export function pilotView(ctx: RenderContext) {
  // Defaults come from manifests/values.yaml through ctx.values; nothing here invents one.
  const values = ctx.values;
  const v: Values = values.pilot ?? {};
  const g: Values = values.global ?? {};
  const rev = ctx.revision;
  const name = istiodName(rev);
  const ns = ctx.namespace;
  const revValue = revLabel(rev);
  const chartText = prettyJson(chartValues(values, ctx));

  return {
    values,
    v,
    name,
    serviceAccountName: name,
    meshConfigMapName: meshConfigMapName(rev),
    injectorConfigMapName: injectorConfigMapName(rev),
    valuesConfigMapName: valuesConfigMapName(rev),
    jwksConfigMapName: jwksConfigMapName(rev),
    clusterRoleName: istiodClusterRoleName(rev, ns),
    gatewayControllerRoleName: gatewayControllerRoleName(rev, ns),
    readerRoleName: readerClusterRoleName(rev, ns),
    mutatingWebhookName: injectorWebhookName(rev, ns),
    tags: tagViews(values.revisionTags, ns),
    defaultValidatorName: DEFAULT_VALIDATOR,
    validatingWebhookName: validatorWebhookName(rev, ctx.istioNamespace),
    revValue,
    /** Revisioned installs select their own pods by revision so the default istiod never picks up a canary's pods. */
    podSelector: rev ? { app: 'istiod', 'istio.io/rev': rev } : { istio: 'pilot' },
    serviceSelector: rev ? { app: 'istiod', 'istio.io/rev': rev } : { app: 'istiod', istio: 'pilot' },
    pdbSelector: rev ? { app: 'istiod', 'istio.io/rev': rev } : { app: 'istiod', istio: 'pilot' },
    podIstioLabel: rev ? 'istiod' : 'pilot',
    image: { hub: v.hub || g.hub, name: v.image || 'pilot', tag: v.tag || g.tag || ctx.version, variant: v.variant || g.variant },
    replicas: !v.autoscaleEnabled && v.replicaCount ? v.replicaCount : undefined,
    ztunnelAccount: `${v.trustedZtunnelNamespace || ns}/${v.trustedZtunnelName || 'ztunnel'}`,
    /** values.global.platform (or values.platform), told to istiod as PLATFORM; '' for none. */
    platform: platformOf(values),
    traceSampling: v.traceSampling ? String(v.traceSampling) : undefined,
    env: Object.entries(v.env ?? {}).map(([k, val]) => ({ name: k, value: String(val) })),
    resources: hasEntries(v.resources) ? v.resources : g.defaultResources,
    injectorWebhookAnnotations: v.sidecarInjectorWebhookAnnotations ?? values.sidecarInjectorWebhookAnnotations,
    memoryLimit: !!v.resources?.limits?.memory,
    tolerations: [{ key: 'cni.istio.io/not-ready', operator: 'Exists' }, ...(v.tolerations ?? [])],
    cacerts: cacertsVolume(ctx),
    externalCA:
      ctx.ca.mode === 'external'
        ? [
            { name: 'EXTERNAL_CA', value: ctx.ca.externalCA || 'ISTIOD_RA_KUBERNETES_API' },
            { name: 'CA_ADDR', value: ctx.ca.address ?? '' },
            { name: 'ENABLE_CA_SERVER', value: 'false' },
          ]
        : [],
    hpa: v.autoscaleEnabled && v.autoscaleMin && v.autoscaleMax ? hpaSpec(name, v) : undefined,
    pdb: pdbSpec(values),
    meshText: yaml.dump(meshConfig(ctx, values), { lineWidth: -1, noRefs: true, sortKeys: true }).trimEnd(),
    meshNetworksText: yaml
      .dump({ networks: g.meshNetworks ?? {} }, { lineWidth: -1, noRefs: true, sortKeys: true, flowLevel: 1 })
      .trimEnd(),
    injectorConfigText: injectorConfigText(values, ctx.release),
    injectorValuesText: prettyJson(injectorValues(values, rev)),
    // We do not keep the user's values apart from the merged ones; both keys carry the values this istiod used.
    mergedValuesText: chartText,
    originalValuesText: chartText,
    webhookService: { name, namespace: ns, path: values.istiodRemote?.injectionPath || '/inject', port: 443 },
    injectionURL: values.istiodRemote?.injectionURL || undefined,
    injectionCABundle: values.istiodRemote?.injectionCABundle || undefined,
    validationURL: values.base?.validationURL || undefined,
    validationCABundle: values.base?.validationCABundle || undefined,
    remote: remoteView(values),
    istiodIdentity: istiodIdentity(values),
    remotePilot: remotePilotView(values, rev, ctx.release),
  };
}

/** A remote cluster (profile remote) runs no istiod of its own (no Deployment, local Service, HPA, PDB): its proxies
 *  and webhooks reach one elsewhere. A remote with a local injector istiod (istiodRemote.enabledLocalInjectorIstiod)
 *  runs one for injection. */
function remoteView(values: Values) {
  const r = values.istiodRemote ?? {};
  return r.enabled && !r.enabledLocalInjectorIstiod ? true : undefined;
}

/**
 * Whether istiod's own identity ships here: its ServiceAccount, (Cluster)Roles and bindings and its validating
 * webhook. A plain remote has no istiod to hold them: the primary's istiod reads the remote through the reader
 * account. A config cluster (global.configCluster: its Istio config is read by an external istiod, which runs as
 * this account) and a remote with a local injector istiod keep them, as Istio's charts do.
 */
function istiodIdentity(values: Values): boolean {
  const r = values.istiodRemote ?? {};
  return !r.enabled || !!values.global?.configCluster || !!r.enabledLocalInjectorIstiod;
}

const IPV4 = /^([0-9]*\.){3}[0-9]*$/;
const IPV6 = /^([0-9a-fA-F]*:)+[0-9a-fA-F]*$/;

/**
 * A remote's stand-in for the primary's istiod (global.remotePilotAddress): a Service of istiod's name (`-remote`
 * beside a local injector istiod) whose endpoints are the primary's address, so proxies and the webhook reach
 * `istiod.<ns>.svc` as on a primary. An IP address gets an EndpointSlice (the Service has no selector), a host name
 * an ExternalName Service. IPv6 addresses are addresses from 1.30 on; 1.29 treats them as host names.
 */
function remotePilotView(values: Values, rev: string, release: Release) {
  const r = values.istiodRemote ?? {};
  const address = String(values.global?.remotePilotAddress ?? '');
  if (!r.enabled || !address) return undefined;
  const ipv6 = has(release, 'remotePilotIPv6') && IPV6.test(address);
  const addressType = IPV4.test(address) ? 'IPv4' : ipv6 ? 'IPv6' : undefined;
  return {
    name: remoteIstiodName(rev, !!r.enabledLocalInjectorIstiod),
    address,
    addressType,
    externalName: addressType ? undefined : address,
  };
}

function cacertsVolume(ctx: RenderContext) {
  // `operator` and `provided` depend on the plug-in CA secret: a required mount keeps istiod from starting (and
  // minting its own self-signed root) before the secret exists. Otherwise Istio's optional mount stays as is.
  if (ctx.ca.mode === 'operator' || ctx.ca.mode === 'provided') return { secretName: ctx.ca.secretName || 'cacerts', optional: false };
  return { secretName: 'cacerts', optional: true };
}

function hpaSpec(name: string, v: Values) {
  const metrics: unknown[] = [];
  const util = (resource: string, target: unknown) => ({
    type: 'Resource',
    resource: { name: resource, target: { type: 'Utilization', averageUtilization: target } },
  });
  if (v.cpu?.targetAverageUtilization) metrics.push(util('cpu', v.cpu.targetAverageUtilization));
  if (v.memory?.targetAverageUtilization) metrics.push(util('memory', v.memory.targetAverageUtilization));
  return {
    maxReplicas: v.autoscaleMax,
    minReplicas: v.autoscaleMin,
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
    ...(metrics.length ? { metrics } : {}),
    ...(hasEntries(v.autoscaleBehavior) ? { behavior: v.autoscaleBehavior } : {}),
  };
}

function pdbSpec(values: Values) {
  if (!values.global?.defaultPodDisruptionBudget?.enabled) return undefined;
  const v: Values = values.pilot ?? {};
  // One replica with minAvailable 1 would block every node drain (kubernetes#93476): Istio only guards real redundancy
  // (every supported line; its older charts rendered the budget whatever the replicas).
  const redundant = v.autoscaleEnabled ? Number(v.autoscaleMin) > 1 : Number(v.replicaCount) > 1;
  if (!redundant) return undefined;
  const pdb: Values = v.pdb ?? values.pdb ?? {};
  const spec: Record<string, unknown> = {};
  if (pdb.maxUnavailable !== undefined && pdb.maxUnavailable !== null && pdb.maxUnavailable !== '')
    spec.maxUnavailable = pdb.maxUnavailable;
  else spec.minAvailable = pdb.minAvailable ?? 1;
  if (pdb.unhealthyPodEvictionPolicy) spec.unhealthyPodEvictionPolicy = pdb.unhealthyPodEvictionPolicy;
  return spec;
}

/** Istio's mesh defaults for this istiod, under the user's mesh config (which wins field by field). */
export function meshConfig(ctx: RenderContext, values: Values): Record<string, unknown> {
  const g: Values = values.global ?? {};
  const defaultConfig: Record<string, unknown> = { discoveryAddress: istiodAddress(ctx.revision, ctx.namespace) };
  if (g.meshID) defaultConfig.meshId = g.meshID;
  const variant = g.proxy?.variant || g.variant;
  if (variant) defaultConfig.image = { imageType: variant };
  const tracing = tracingConfig(g);
  if (tracing) defaultConfig.tracing = tracing;

  const base: Record<string, unknown> = {
    defaultConfig,
    trustDomain: 'cluster.local',
    rootNamespace: ctx.istioNamespace,
    enablePrometheusMerge: true,
  };
  const t = values.telemetry ?? {};
  if (t.enabled && t.v2?.enabled) {
    const metrics = [t.v2.prometheus?.enabled ? 'prometheus' : '', t.v2.stackdriver?.enabled ? 'stackdriver' : ''].filter(Boolean);
    if (metrics.length) base.defaultProviders = { metrics };
  }
  return mergeDefaults(mergeDefaults(base, values.meshConfig ?? {}), ctx.meshConfig ?? {});
}

function tracingConfig(g: Values): Record<string, unknown> | undefined {
  const tracer = g.proxy?.tracer;
  const t = g.tracer ?? {};
  switch (tracer) {
    case 'zipkin':
      return { zipkin: { address: t.zipkin?.address || `zipkin.${g.istioNamespace}:9411` } };
    case 'datadog':
      return { datadog: { address: t.datadog?.address || '$(HOST_IP):8126' } };
    case 'lightstep':
      return { lightstep: { address: t.lightstep?.address, accessToken: t.lightstep?.accessToken } };
    case 'stackdriver':
      return {
        stackdriver: {
          debug: !!t.stackdriver?.debug,
          maxNumberOfAttributes: t.stackdriver?.maxNumberOfAttributes ?? 200,
          maxNumberOfAnnotations: t.stackdriver?.maxNumberOfAnnotations ?? 200,
          maxNumberOfMessageEvents: t.stackdriver?.maxNumberOfMessageEvents ?? 200,
        },
      };
    case 'openCensusAgent':
      return {};
    default:
      return undefined;
  }
}

/** Shared defines each injection template carries (istiod parses every template on its own). */
const TEMPLATE_PARTS: Record<(typeof INJECTION_TEMPLATES)[number], string[]> = {
  sidecar: ['_proxy.tmpl', 'sidecar.tmpl'],
  gateway: ['_proxy.tmpl', 'gateway.tmpl'],
  'grpc-simple': ['grpc-simple.tmpl'],
  'grpc-agent': ['_proxy.tmpl', 'grpc-agent.tmpl'],
  waypoint: ['_deployed.tmpl', 'waypoint.tmpl'],
  'kube-gateway': ['_deployed.tmpl', 'kube-gateway.tmpl'],
  agentgateway: ['_deployed.tmpl', 'agentgateway.tmpl'],
};

const templateCache = new Map<string, string>();
/**
 * The Go template text of one built-in injection template as `release`'s istiod runs it: read raw (it must never
 * pass through Handlebars), its `#@if <feature>` blocks kept or dropped for the release (render/features.ts).
 */
export function injectionTemplate(name: InjectionTemplate, release: Release): string {
  const key = `${release.line}/${name}`;
  let t = templateCache.get(key);
  if (t === undefined) {
    t =
      TEMPLATE_PARTS[name]
        .map((f) => gateText(readManifestText('pilot', `injection/${f}`), release, `manifests/pilot/injection/${f}`).trimEnd())
        .join('\n') + '\n';
    templateCache.set(key, t);
  }
  return t;
}

/**
 * The built-in injection templates, each already written as an entry of the `templates:` map (~90 KB of YAML block
 * scalars). They do not depend on the input, so they are written once per process, like the templates are read once.
 */
const builtinTemplateEntries = new Map<string, string>();
function templateEntry(name: string, text: string): string {
  // Dumped as `templates: {name: text}` minus its first line: exactly the lines that entry has inside the whole map.
  return yaml.dump({ templates: { [name]: text } }, { lineWidth: -1, noRefs: true, sortKeys: false }).slice('templates:\n'.length);
}
function builtinEntry(name: InjectionTemplate, release: Release): string {
  const key = `${release.line}/${name}`;
  let e = builtinTemplateEntries.get(key);
  if (e === undefined) {
    e = templateEntry(name, injectionTemplate(name, release));
    builtinTemplateEntries.set(key, e);
  }
  return e;
}

/** The `config` key of istio-sidecar-injector: the injector's policy and its Go templates (ours plus the user's). */
export function injectorConfigText(values: Values, release: Release): string {
  const sw = values.sidecarInjectorWebhook ?? {};
  const config = {
    defaultTemplates: sw.defaultTemplates?.length ? sw.defaultTemplates : ['sidecar'],
    policy: values.global?.proxy?.autoInject,
    alwaysInjectSelector: sw.alwaysInjectSelector ?? [],
    neverInjectSelector: sw.neverInjectSelector ?? [],
    injectedAnnotations: hasEntries(sw.injectedAnnotations) ? sw.injectedAnnotations : null,
    // A pod rendered with this placeholder means the injector and the ConfigMap disagree on version: fail loudly.
    template: '{{ Template_Version_And_Istio_Version_Mismatched_Check_Installation }}',
  };
  // The user's templates replace a built-in one of the same name in its place, and follow the built-ins otherwise.
  const user: Record<string, unknown> = isMap(sw.templates) ? sw.templates : {};
  const builtins: readonly string[] = injectionTemplatesOf(release);
  let text = yaml.dump(config, { lineWidth: -1, noRefs: true, sortKeys: false }) + 'templates:\n';
  for (const name of injectionTemplatesOf(release))
    text += name in user ? templateEntry(name, user[name] as string) : builtinEntry(name, release);
  for (const name of Object.keys(user)) if (!builtins.includes(name)) text += templateEntry(name, user[name] as string);
  return text.trimEnd();
}

/** The `values` key of istio-sidecar-injector: the part of the values the injection templates read as `.Values`. */
export function injectorValues(values: Values, revision: string): Values {
  const pick = (o: Values | undefined, keys: string[]) => Object.fromEntries(keys.filter((k) => o && k in o).map((k) => [k, o![k]]));
  return {
    gateways: pick(values.gateways, ['securityContext', 'seccompProfile']),
    global: values.global ?? {},
    pilot: pick(values.pilot, ['cni', 'env']),
    revision,
    sidecarInjectorWebhook: values.sidecarInjectorWebhook,
  };
}

/** The values as the istiod chart sees them (pilot.* at the top), kept for debugging in the `values` ConfigMap. */
function chartValues(values: Values, ctx: RenderContext): Values {
  // cni and ztunnel are the node agents' own values; istiod's chart knows only its CNI switch (pilot.cni, hoisted
  // to the root) and the name of the ztunnel it trusts.
  const { pilot = {}, gateways = {}, cni: _agent, ztunnel: _ztunnel, ...rest } = values;
  return {
    ...pilot,
    ...rest,
    ztunnel: { resourceName: ztunnelName(values.ztunnel?.resourceName) },
    // Gateway values belong to the gateway components; istiod itself reads only these two.
    gateways: {
      securityContext: gateways.securityContext ?? {},
      seccompProfile: gateways.seccompProfile ?? {},
      'istio-ingressgateway': {},
      'istio-egressgateway': {},
    },
    meshConfig: ctx.meshConfig,
    pilot: { enabled: pilot.enabled ?? true, cni: { enabled: !!pilot.cni?.enabled } },
    revision: ctx.revision,
  };
}

/** Like Go's json.MarshalIndent over maps: keys sorted, two-space indent. */
export function prettyJson(v: unknown): string {
  return JSON.stringify(sortKeysDeep(v), null, 2);
}

// A loop rather than Object.fromEntries over mapped pairs: the same object, without an array per key (it runs
// over the whole values tree twice per render).
function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const val = sortKeysDeep((v as Record<string, unknown>)[k]);
      // An own `__proto__` key, as fromEntries made it (assigning would set the prototype instead).
      if (k === '__proto__') Object.defineProperty(out, k, { value: val, enumerable: true, writable: true, configurable: true });
      else out[k] = val;
    }
    return out;
  }
  return v;
}

function hasEntries(v: unknown): boolean {
  return !!v && typeof v === 'object' && Object.keys(v as object).length > 0;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** `over` merged onto `base`: maps merge key by key, anything else (lists too) from `over` replaces. */
function mergeDefaults(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, val] of Object.entries(over)) {
    if (val === undefined) continue;
    out[k] = isMap(val) && isMap(base[k]) ? mergeDefaults(base[k] as Values, val as Values) : val;
  }
  return out;
}
