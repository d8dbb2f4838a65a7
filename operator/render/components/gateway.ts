import { platformOf } from '../platforms.js';
import type { Values } from '../../api/types.js';
import { COMPONENTS, type RenderContext } from '../context.js';
import { renderComponentTemplates, truthy } from '../engine.js';
import type { K8sObject } from '../../api/types.js';
import { asList, asMap, isMap } from './util.js';
import { istiodAddress } from '../../api/names.js';

// One named ingress or egress gateway (Istio's legacy `gateways` charts): Deployment, Service, ServiceAccount,
// SDS Role/RoleBinding, HPA, PDB and, when asked, a NetworkPolicy. The templates in manifests/gateway read the
// `gw` view computed here: every name, list and condition is decided in this file, templates only lay it out.

type Env = { name: string; value: string };

/** Fallbacks for a hand-built RenderContext whose values lack a key; manifests/values.yaml normally supplies them. */
const DEFAULTS: Values = {
  rollingMaxSurge: '100%',
  rollingMaxUnavailable: '25%',
  autoscaleEnabled: true,
  autoscaleMin: 1,
  autoscaleMax: 5,
  cpu: { targetAverageUtilization: 80 },
  memory: {},
  ports: [],
  secretVolumes: [],
  configVolumes: [],
  additionalContainers: [],
  env: {},
  podAnnotations: {},
  serviceAnnotations: {},
  serviceAccount: { annotations: {} },
  nodeSelector: {},
  tolerations: [],
  podAntiAffinityLabelSelector: [],
  podAntiAffinityTermLabelSelector: [],
  runAsRoot: false,
  injectionTemplate: '',
};

export function renderGateway(ctx: RenderContext): K8sObject[] {
  if (!ctx.gateway) throw new Error('renderGateway needs ctx.gateway (one call per named gateway)');
  return renderComponentTemplates('gateway', { gw: gatewayView(ctx) }, { release: ctx.release });
}

/** Everything the gateway templates print, computed once. Exported for tests. */
export function gatewayView(ctx: RenderContext) {
  const g = ctx.gateway!;
  const values = ctx.values ?? {};
  const global: Values = values.global ?? {};
  const proxy: Values = global.proxy ?? {};
  const v: Values = { ...DEFAULTS, ...g.values };
  const name = g.name;
  const namespace = g.namespace || ctx.namespace;
  const labels = { ...g.labels };
  // Istio's gateway charts write their own name here, one per type, whatever the gateway is called or labelled
  // (an east-west gateway is an `istio-ingressgateway` too); only the pod's canonical name is the gateway's own.
  const common = { 'app.kubernetes.io/name': `istio-${g.type}gateway`, 'app.kubernetes.io/part-of': 'istio' };
  const component = g.type === 'egress' ? COMPONENTS.egressGateways : COMPONENTS.ingressGateways;
  const runAsRoot = v.runAsRoot === true;
  const injected = typeof v.injectionTemplate === 'string' && v.injectionTemplate !== '';

  // A gateway follows the istiod of its revision: discovery and certificates come from istiod<-rev> unless the
  // install points proxies at another CA (global.caAddress, which the external CA mode sets).
  const istiod = istiodAddress(ctx.revision, ctx.istioNamespace);
  const caAddress: string = global.caAddress || (ctx.ca?.mode === 'external' && ctx.ca.address) || istiod;
  const pilotCertProvider: string = global.pilotCertProvider || 'istiod';
  const mesh = ctx.meshConfig ?? {};
  const trustDomain: string = mesh.trustDomain || values.meshConfig?.trustDomain || 'cluster.local';

  const ports = asList(v.ports).filter(isMap);
  // The user's env and the mesh's proxy metadata, in that order, after the env the template writes.
  const gwEnv = asMap(v.env);
  const extraEnv: Env[] = [];
  for (const [k, val] of Object.entries(gwEnv)) extraEnv.push({ name: k, value: String(val) });
  for (const [k, val] of Object.entries(asMap(asMap(mesh.defaultConfig).proxyMetadata))) extraEnv.push({ name: k, value: String(val) });
  // Mesh ID defaults to the trust domain, as istiod assumes for proxies that do not say.
  const meshID = global.meshID || trustDomain;

  const secretVolumes = asList(v.secretVolumes)
    .filter(isMap)
    .filter((s) => s.name);
  const configVolumes = asList(v.configVolumes)
    .filter(isMap)
    .filter((s) => s.name);

  const podLabels: Record<string, string> = { ...labels, ...common };
  // Istio keeps the Helm-2 era labels on gateways in istio-system: dashboards and old selectors still match them.
  if (namespace === 'istio-system') Object.assign(podLabels, { heritage: 'Tiller', chart: 'gateways' });
  podLabels['service.istio.io/canonical-name'] = name;
  podLabels['service.istio.io/canonical-revision'] = labels['app.kubernetes.io/version'] || labels.version || ctx.revision || 'latest';
  // A pod the injector fills in names a revision only when it has one: the default revision's webhooks select
  // sidecar.istio.io/inject=true without istio.io/rev, a revision's select its istio.io/rev.
  if (!injected) podLabels['istio.io/rev'] = ctx.rev;
  else if (ctx.revision) podLabels['istio.io/rev'] = ctx.revision;
  podLabels['operator.istio.io/component'] = component;
  podLabels['sidecar.istio.io/inject'] = injected ? 'true' : 'false';
  // A gateway is a proxy itself: ambient must not capture it (an injected one has a sidecar, which ambient skips).
  if (!injected) podLabels['istio.io/dataplane-mode'] = 'none';
  const podAnnotations: Record<string, string> = injected ? {} : { 'istio.io/rev': ctx.rev };
  if (values.meshConfig?.enablePrometheusMerge !== false && mesh.enablePrometheusMerge !== false) {
    Object.assign(podAnnotations, {
      'prometheus.io/port': '15020',
      'prometheus.io/scrape': 'true',
      'prometheus.io/path': '/stats/prometheus',
    });
  }
  if (injected)
    Object.assign(podAnnotations, { 'sidecar.istio.io/inject': 'true', 'inject.istio.io/templates': String(v.injectionTemplate) });
  else podAnnotations['sidecar.istio.io/inject'] = 'false';
  for (const [k, val] of Object.entries(asMap(v.podAnnotations))) podAnnotations[k] = String(val);

  const gwSecurity = values.gateways ?? {};
  const hub = v.hub || global.hub;
  const tag = v.tag ?? global.tag;
  const variant = proxy.variant || global.variant || '';

  const metrics: Array<{ resource: string; averageUtilization: unknown }> = [];
  for (const r of ['cpu', 'memory'] as const) {
    const u = asMap(v[r]).targetAverageUtilization;
    if (u) metrics.push({ resource: r, averageUtilization: u });
  }
  // A budget on a single replica would block every node drain; Istio renders one only when there can be two.
  const multi = v.autoscaleEnabled ? Number(v.autoscaleMin) > 1 : Number(v.replicaCount) > 1;

  return {
    name,
    namespace,
    labels,
    commonLabels: common,
    metaLabels: { ...labels, ...common },
    deploymentLabels: injected ? { ...labels, ...common } : { ...labels, ...common, 'istio.io/dataplane-mode': 'none' },
    /** With an injectionTemplate: the pod istiod's injector completes (manifests/gateway/injected-deployment.yaml.hbs). */
    injected,
    serviceAccountName: g.serviceAccountName || `${name}-service-account`,
    serviceAccountAnnotations: truthy(v.serviceAccount?.annotations) ? stringify(v.serviceAccount.annotations) : undefined,
    imagePullSecrets: asList(global.imagePullSecrets),
    sdsName: `${name}-sds`,
    replicas: !v.autoscaleEnabled && v.replicaCount ? v.replicaCount : undefined,
    rollingMaxSurge: v.rollingMaxSurge,
    rollingMaxUnavailable: v.rollingMaxUnavailable,
    podLabels,
    podAnnotations,
    runAsRoot,
    /** OpenShift assigns each namespace its own UID range: the pod names no user or group of its own. */
    openshift: platformOf(values) === 'openshift',
    /** The pod securityContext the user gave for every gateway (values.gateways.securityContext), if any. */
    podSecurityContext: truthy(gwSecurity.securityContext) ? gwSecurity.securityContext : undefined,
    seccompProfile: truthy(gwSecurity.seccompProfile) ? gwSecurity.seccompProfile : undefined,
    priorityClassName: global.priorityClassName || undefined,
    additionalContainers: asList(v.additionalContainers),
    image: imageRef(hub, proxy.image || 'proxyv2', tag, variant),
    imagePullPolicy: global.imagePullPolicy || undefined,
    /** One container port per Service port, where the Service sends it (a targetPort of 0 or none: the port). */
    containerPorts: ports.map((p) => ({ containerPort: p.targetPort || p.port, protocol: p.protocol || 'TCP' })),
    args: {
      domain: `$(POD_NAMESPACE).svc.${proxy.clusterDomain || 'cluster.local'}`,
      proxyLogLevel: proxy.logLevel || undefined,
      proxyComponentLogLevel: proxy.componentLogLevel || undefined,
      logOutputLevel: global.logging?.level || undefined,
      logAsJson: !!global.logAsJson,
      stsPort: global.sts?.servicePort || undefined,
    },
    resources: truthy(v.resources) ? v.resources : global.defaultResources,
    pilotCertProvider,
    // The root cert istiod publishes in every namespace; only meaningful when istiod signs its own serving cert.
    istiodCaCert: pilotCertProvider === 'istiod',
    caAddress,
    ownerRef: `kubernetes://apis/apps/v1/namespaces/${namespace}/deployments/${name}`,
    meshID: meshID ? String(meshID) : undefined,
    trustDomain,
    extraEnv,
    network: global.network && gwEnv.ISTIO_META_NETWORK === undefined ? String(global.network) : undefined,
    clusterID: String(global.multiCluster?.clusterName || 'Kubernetes'),
    mountMtlsCerts: !!global.mountMtlsCerts,
    /** The injected pod's own env: the injector adds the rest (identity, istiod, mesh, network, cluster). */
    injectedEnv: [
      ...(runAsRoot ? [] : [{ name: 'ISTIO_META_UNPRIVILEGED_POD', value: 'true' }]),
      ...Object.keys(gwEnv)
        .sort()
        .map((k) => ({ name: k, value: String(gwEnv[k]) })),
    ],
    secretVolumeMounts: secretVolumes.map((s) => ({ name: s.name, mountPath: s.mountPath, readOnly: true })),
    configVolumeMounts: configVolumes.filter((c) => c.mountPath).map((c) => ({ name: c.name, mountPath: c.mountPath, readOnly: true })),
    tokenAudience: global.sds?.token?.aud || 'istio-ca',
    meshConfigMapName: `istio${ctx.revSuffix}`,
    mtlsCertsSecretName: `istio.${g.serviceAccountName}`,
    secretVolumes: secretVolumes.map((s) => ({ name: s.name, secret: { secretName: s.secretName, optional: true } })),
    configVolumes: configVolumes.map((c) => ({ name: c.name, configMap: { name: c.configMapName, optional: true } })),
    affinity: buildAffinity(global, v),
    tolerations: truthy(v.tolerations) ? v.tolerations : truthy(global.defaultTolerations) ? global.defaultTolerations : undefined,
    hpa:
      v.autoscaleEnabled && v.autoscaleMin && v.autoscaleMax
        ? { minReplicas: v.autoscaleMin, maxReplicas: v.autoscaleMax, metrics }
        : undefined,
    pdb: global.defaultPodDisruptionBudget?.enabled !== false && multi,
    service:
      v.customService === true
        ? undefined
        : {
            annotations: truthy(v.serviceAnnotations) ? stringify(v.serviceAnnotations) : undefined,
            type: v.type || (g.type === 'egress' ? 'ClusterIP' : 'LoadBalancer'),
            loadBalancerIP: v.loadBalancerIP || undefined,
            loadBalancerSourceRanges: truthy(v.loadBalancerSourceRanges) ? v.loadBalancerSourceRanges : undefined,
            externalTrafficPolicy: v.externalTrafficPolicy || undefined,
            ipFamilyPolicy: v.ipFamilyPolicy || undefined,
            ipFamilies: truthy(v.ipFamilies) ? v.ipFamilies : undefined,
            ports: ports.map((p) => ({ ...p })),
          },
    networkPolicy: global.networkPolicy?.enabled === true,
    /** The gateway's own ports, as the NetworkPolicy admits them. */
    networkPolicyPorts: ports.map((p) => ({ protocol: p.protocol || 'TCP', port: p.targetPort || p.port })),
  };
}

function imageRef(hub: unknown, name: string, tag: unknown, variant: string): string {
  if (name.includes('/')) return name;
  return `${String(hub ?? '')}/${name}:${String(tag ?? '')}${variant ? `-${variant}` : ''}`;
}

/** Label and annotation values are strings in Kubernetes; a YAML `true` or `21` from the user must not break the object. */
function stringify(m: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) if (v !== null && v !== undefined) out[k] = String(v);
  return out;
}

/** Node affinity from global.arch weights and the gateway's nodeSelector, pod anti-affinity from its selectors,
 *  as Istio's gateway charts build them. Absent when there is nothing to say. */
function buildAffinity(global: Values, v: Values): Record<string, unknown> | undefined {
  const arch = Object.entries(asMap(global.arch)).filter(([, w]) => Number(w) > 0);
  const nodeSelector = truthy(v.nodeSelector) ? asMap(v.nodeSelector) : asMap(global.defaultNodeSelector);
  const out: Record<string, unknown> = {};
  const nodeAffinity: Record<string, unknown> = {};
  const required: unknown[] = [];
  if (arch.length) required.push({ key: 'kubernetes.io/arch', operator: 'In', values: arch.map(([a]) => a) });
  for (const [k, val] of Object.entries(nodeSelector)) required.push({ key: k, operator: 'In', values: [String(val)] });
  if (required.length)
    nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms: [{ matchExpressions: required }] };
  if (arch.length) {
    nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution = arch.map(([a, w]) => ({
      weight: Number(w),
      preference: { matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'In', values: [a] }] },
    }));
  }
  if (Object.keys(nodeAffinity).length) out.nodeAffinity = nodeAffinity;

  const term = (item: Values) => {
    const expr: Record<string, unknown> = { key: item.key, operator: item.operator };
    if (item.values) expr.values = String(item.values).split(',');
    const t: Record<string, unknown> = { labelSelector: { matchExpressions: [expr] }, topologyKey: item.topologyKey };
    if (item.namespaces) t.namespaces = String(item.namespaces).split(',');
    return t;
  };
  const hard = asList(v.podAntiAffinityLabelSelector).filter(isMap);
  const soft = asList(v.podAntiAffinityTermLabelSelector).filter(isMap);
  if (hard.length || soft.length) {
    const anti: Record<string, unknown> = {};
    if (hard.length) anti.requiredDuringSchedulingIgnoredDuringExecution = hard.map(term);
    if (soft.length)
      anti.preferredDuringSchedulingIgnoredDuringExecution = soft.map((i) => {
        const { namespaces: _n, ...t } = term(i);
        return { podAffinityTerm: t, weight: 100 };
      });
    out.podAntiAffinity = anti;
  }
  return Object.keys(out).length ? out : undefined;
}
