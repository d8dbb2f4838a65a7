import type { Values } from '../../api/types.js';
import { COMPONENTS, type RenderContext } from '../context.js';
import { renderComponentTemplates, truthy } from '../engine.js';
import type { K8sObject } from '../../api/types.js';
import { asList, asMap, fieldRef, isMap } from './util.js';
import { istiodAddress } from '../../api/names.js';

// One named ingress or egress gateway (Istio's legacy `gateways` charts): Deployment, Service, ServiceAccount,
// SDS Role/RoleBinding, HPA, PDB and, when asked, a NetworkPolicy. The templates in manifests/gateway read the
// `gw` view computed here: every name, list and condition is decided in this file, templates only lay it out.

type Env = { name: string; value?: string; valueFrom?: Record<string, unknown> };

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
  // Istio names the app after the gateway's `app` label, so a second gateway sharing the default labels also shares
  // the default's app name; only the pod's canonical name is the gateway's own.
  const appName = labels.app || name;
  const common = { 'app.kubernetes.io/name': appName, 'app.kubernetes.io/part-of': 'istio' };
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
  const env: Env[] = [
    { name: 'PILOT_CERT_PROVIDER', value: pilotCertProvider },
    { name: 'CA_ADDR', value: caAddress },
    { name: 'NODE_NAME', valueFrom: fieldRef('spec.nodeName') },
    { name: 'POD_NAME', valueFrom: fieldRef('metadata.name') },
    { name: 'POD_NAMESPACE', valueFrom: fieldRef('metadata.namespace') },
    { name: 'INSTANCE_IP', valueFrom: fieldRef('status.podIP') },
    { name: 'HOST_IP', valueFrom: fieldRef('status.hostIP') },
    { name: 'ISTIO_CPU_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1' } } },
    { name: 'SERVICE_ACCOUNT', valueFrom: fieldRef('spec.serviceAccountName', false) },
    { name: 'ISTIO_META_WORKLOAD_NAME', value: name },
    { name: 'ISTIO_META_OWNER', value: `kubernetes://apis/apps/v1/namespaces/${namespace}/deployments/${name}` },
  ];
  // Mesh ID defaults to the trust domain, as istiod assumes for proxies that do not say.
  const meshID = global.meshID || trustDomain;
  if (meshID) env.push({ name: 'ISTIO_META_MESH_ID', value: String(meshID) });
  env.push({ name: 'TRUST_DOMAIN', value: trustDomain });
  if (!runAsRoot) env.push({ name: 'ISTIO_META_UNPRIVILEGED_POD', value: 'true' });
  const gwEnv = asMap(v.env);
  for (const [k, val] of Object.entries(gwEnv)) env.push({ name: k, value: String(val) });
  for (const [k, val] of Object.entries(asMap(asMap(mesh.defaultConfig).proxyMetadata))) env.push({ name: k, value: String(val) });
  if (global.network && gwEnv.ISTIO_META_NETWORK === undefined) env.push({ name: 'ISTIO_META_NETWORK', value: String(global.network) });
  env.push({ name: 'ISTIO_META_CLUSTER_ID', value: String(global.multiCluster?.clusterName || 'Kubernetes') });
  env.push({ name: 'ISTIO_META_NODE_NAME', valueFrom: fieldRef('spec.nodeName', false) });

  const args = ['proxy', 'router', '--domain', `$(POD_NAMESPACE).svc.${proxy.clusterDomain || 'cluster.local'}`];
  if (proxy.logLevel) args.push(`--proxyLogLevel=${proxy.logLevel}`);
  if (proxy.componentLogLevel) args.push(`--proxyComponentLogLevel=${proxy.componentLogLevel}`);
  if (global.logging?.level) args.push(`--log_output_level=${global.logging.level}`);
  if (global.logAsJson) args.push('--log_as_json');
  if (global.sts?.servicePort) args.push(`--stsPort=${global.sts.servicePort}`);

  const containerPorts: Array<Record<string, unknown>> = ports.map((p) => ({ containerPort: p.targetPort ?? p.port, protocol: p.protocol || 'TCP' }));
  containerPorts.push({ containerPort: 15090, protocol: 'TCP', name: 'http-envoy-prom' });

  const volumeMounts: Array<Record<string, unknown>> = [
    { name: 'workload-socket', mountPath: '/var/run/secrets/workload-spiffe-uds' },
    { name: 'credential-socket', mountPath: '/var/run/secrets/credential-uds' },
    { name: 'workload-certs', mountPath: '/var/run/secrets/workload-spiffe-credentials' },
    { name: 'istio-envoy', mountPath: '/etc/istio/proxy' },
    { name: 'config-volume', mountPath: '/etc/istio/config' },
  ];
  // The root cert istiod publishes in every namespace; only meaningful when istiod signs its own serving cert.
  if (pilotCertProvider === 'istiod') volumeMounts.push({ name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio' });
  volumeMounts.push({ name: 'istio-token', mountPath: '/var/run/secrets/tokens', readOnly: true });
  if (global.mountMtlsCerts) volumeMounts.push({ name: 'istio-certs', mountPath: '/etc/certs', readOnly: true });
  volumeMounts.push({ name: 'istio-data', mountPath: '/var/lib/istio/data' }, { name: 'podinfo', mountPath: '/etc/istio/pod' });
  const secretVolumes = asList(v.secretVolumes).filter((s) => isMap(s) && s.name);
  const configVolumes = asList(v.configVolumes).filter((s) => isMap(s) && s.name);
  for (const s of secretVolumes) volumeMounts.push({ name: s.name, mountPath: s.mountPath, readOnly: true });
  for (const c of configVolumes) if (c.mountPath) volumeMounts.push({ name: c.name, mountPath: c.mountPath, readOnly: true });

  const volumes: Array<Record<string, unknown>> = [
    { name: 'workload-socket', emptyDir: {} },
    { name: 'credential-socket', emptyDir: {} },
    { name: 'workload-certs', emptyDir: {} },
  ];
  if (pilotCertProvider === 'istiod') volumes.push({ name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } });
  volumes.push(
    { name: 'podinfo', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } }] } },
    { name: 'istio-envoy', emptyDir: {} },
    { name: 'istio-data', emptyDir: {} },
    { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { path: 'istio-token', expirationSeconds: 43200, audience: global.sds?.token?.aud || 'istio-ca' } }] } },
    // Mesh config of this gateway's revision; optional so a gateway can start before istiod's first install.
    { name: 'config-volume', configMap: { name: `istio${ctx.revSuffix}`, optional: true } },
  );
  if (global.mountMtlsCerts) volumes.push({ name: 'istio-certs', secret: { secretName: `istio.${g.serviceAccountName}`, optional: true } });
  for (const s of secretVolumes) volumes.push({ name: s.name, secret: { secretName: s.secretName, optional: true } });
  for (const c of configVolumes) volumes.push({ name: c.name, configMap: { name: c.configMapName, optional: true } });

  const podLabels: Record<string, string> = { ...labels, ...common };
  // Istio keeps the Helm-2 era labels on gateways in istio-system: dashboards and old selectors still match them.
  if (namespace === 'istio-system') Object.assign(podLabels, { heritage: 'Tiller', chart: 'gateways' });
  Object.assign(podLabels, {
    'service.istio.io/canonical-name': name,
    'service.istio.io/canonical-revision': ctx.revision || 'latest',
    'istio.io/rev': ctx.rev,
    'operator.istio.io/component': component,
    'sidecar.istio.io/inject': injected ? 'true' : 'false',
    // A gateway is a proxy itself: ambient must not capture it.
    'istio.io/dataplane-mode': 'none',
  });
  const podAnnotations: Record<string, string> = { 'istio.io/rev': ctx.rev };
  if (values.meshConfig?.enablePrometheusMerge !== false && mesh.enablePrometheusMerge !== false) {
    Object.assign(podAnnotations, { 'prometheus.io/port': '15020', 'prometheus.io/scrape': 'true', 'prometheus.io/path': '/stats/prometheus' });
  }
  if (injected) podAnnotations['inject.istio.io/templates'] = v.injectionTemplate;
  else podAnnotations['sidecar.istio.io/inject'] = 'false';
  for (const [k, val] of Object.entries(asMap(v.podAnnotations))) podAnnotations[k] = String(val);

  const gwSecurity = values.gateways ?? {};
  const podSecurityContext = truthy(gwSecurity.securityContext) ? gwSecurity.securityContext : runAsRoot ? undefined : { runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true };
  const containerSecurityContext = runAsRoot
    ? undefined
    : {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        privileged: false,
        readOnlyRootFilesystem: true,
        ...(truthy(gwSecurity.seccompProfile) ? { seccompProfile: gwSecurity.seccompProfile } : {}),
      };

  const hub = v.hub || global.hub;
  const tag = v.tag ?? global.tag;
  const variant = proxy.variant || global.variant || '';
  const image = injected ? 'auto' : imageRef(hub, proxy.image || 'proxyv2', tag, variant);

  const replicas = !v.autoscaleEnabled && v.replicaCount ? v.replicaCount : undefined;
  const tolerations = truthy(v.tolerations) ? v.tolerations : truthy(global.defaultTolerations) ? global.defaultTolerations : undefined;
  const affinity = buildAffinity(global, v);

  const metrics: unknown[] = [];
  for (const r of ['cpu', 'memory'] as const) {
    const u = asMap(v[r]).targetAverageUtilization;
    if (u) metrics.push({ type: 'Resource', resource: { name: r, target: { type: 'Utilization', averageUtilization: u } } });
  }
  const hpa = v.autoscaleEnabled && v.autoscaleMin && v.autoscaleMax
    ? { minReplicas: v.autoscaleMin, maxReplicas: v.autoscaleMax, scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name }, ...(metrics.length ? { metrics } : {}) }
    : undefined;
  // A budget on a single replica would block every node drain; Istio renders one only when there can be two.
  const multi = v.autoscaleEnabled ? Number(v.autoscaleMin) > 1 : Number(v.replicaCount) > 1;
  const pdb = global.defaultPodDisruptionBudget?.enabled !== false && multi ? { minAvailable: 1, selector: { matchLabels: labels } } : undefined;

  const service = v.customService === true
    ? undefined
    : {
        annotations: truthy(v.serviceAnnotations) ? stringify(v.serviceAnnotations) : undefined,
        spec: compact({
          type: v.type || (g.type === 'egress' ? 'ClusterIP' : 'LoadBalancer'),
          loadBalancerIP: v.loadBalancerIP || undefined,
          loadBalancerSourceRanges: truthy(v.loadBalancerSourceRanges) ? v.loadBalancerSourceRanges : undefined,
          externalTrafficPolicy: v.externalTrafficPolicy || undefined,
          ipFamilyPolicy: v.ipFamilyPolicy || undefined,
          ipFamilies: truthy(v.ipFamilies) ? v.ipFamilies : undefined,
          selector: labels,
          ports: ports.map((p) => ({ ...p })),
        }),
      };

  const networkPolicy = global.networkPolicy?.enabled === true
    ? {
        podSelector: { matchLabels: labels },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          // Health checks of load balancers and kubelet.
          { ports: [{ protocol: 'TCP', port: 15021 }] },
          // Metrics scraping (merged app metrics and Envoy's own).
          { ports: [{ protocol: 'TCP', port: 15020 }, { protocol: 'TCP', port: 15090 }] },
          ...(ports.length ? [{ ports: ports.map((p) => ({ protocol: p.protocol || 'TCP', port: p.targetPort ?? p.port })) }] : []),
        ],
        // A gateway forwards to any workload and reaches istiod; its egress is not restricted here.
        egress: [{}],
      }
    : undefined;

  return {
    name,
    namespace,
    labels,
    commonLabels: common,
    metaLabels: { ...labels, ...common },
    deploymentLabels: { ...labels, ...common, 'istio.io/dataplane-mode': 'none' },
    serviceAccountName: g.serviceAccountName || `${name}-service-account`,
    serviceAccountAnnotations: truthy(v.serviceAccount?.annotations) ? stringify(v.serviceAccount.annotations) : undefined,
    imagePullSecrets: asList(global.imagePullSecrets),
    sdsName: `${name}-sds`,
    replicas,
    strategy: { rollingUpdate: { maxSurge: v.rollingMaxSurge, maxUnavailable: v.rollingMaxUnavailable } },
    podLabels,
    podAnnotations,
    podSecurityContext,
    priorityClassName: global.priorityClassName || undefined,
    additionalContainers: asList(v.additionalContainers),
    container: compact({
      name: 'istio-proxy',
      image,
      imagePullPolicy: global.imagePullPolicy || undefined,
      ports: containerPorts,
      args,
      securityContext: containerSecurityContext,
      readinessProbe: { failureThreshold: 30, httpGet: { path: '/healthz/ready', port: 15021, scheme: 'HTTP' }, initialDelaySeconds: 1, periodSeconds: 2, successThreshold: 1, timeoutSeconds: 1 },
      resources: truthy(v.resources) ? v.resources : global.defaultResources,
      env,
      volumeMounts,
    }),
    volumes,
    affinity,
    tolerations,
    service,
    hpa,
    pdb,
    networkPolicy,
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

function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
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
  if (required.length) nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms: [{ matchExpressions: required }] };
  if (arch.length) {
    nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution = arch.map(([a, w]) => ({ weight: Number(w), preference: { matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'In', values: [a] }] } }));
  }
  if (Object.keys(nodeAffinity).length) out.nodeAffinity = nodeAffinity;

  const term = (item: Record<string, any>) => {
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
    if (soft.length) anti.preferredDuringSchedulingIgnoredDuringExecution = soft.map((i) => {
      const { namespaces: _n, ...t } = term(i);
      return { podAffinityTerm: t, weight: 100 };
    });
    out.podAntiAffinity = anti;
  }
  return Object.keys(out).length ? out : undefined;
}
