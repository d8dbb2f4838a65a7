import type { Values } from '../../api/types.js';
import type { RenderContext } from '../context.js';
import { renderComponentTemplates } from '../engine.js';
import type { K8sObject } from '../../api/types.js';
import { istiodAddress, ZTUNNEL_DEFAULT_NAME, ztunnelName } from '../../api/names.js';
import { gracePeriod, imageOf, networkPolicy, resourceQuota } from './nodeagent.js';
import { asList, asMap, fieldRef, hasEntries, stringMap } from './util.js';

// ztunnel (Istio's `ztunnel` chart): the ambient node proxy, a DaemonSet with its ServiceAccount and, when asked,
// a ResourceQuota and a NetworkPolicy. ztunnel gets certificates for the pods of its node from istiod, which
// trusts it by its ServiceAccount (istiod's CA_TRUSTED_NODE_ACCOUNTS, set from the same name in values.ts).

export function renderZtunnel(ctx: RenderContext): K8sObject[] {
  return renderComponentTemplates('ztunnel', { zt: ztunnelView(ctx) }, { release: ctx.release });
}

/** Everything the ztunnel templates print. Exported for tests. */
export function ztunnelView(ctx: RenderContext) {
  const values = ctx.values ?? {};
  const global: Values = values.global ?? {};
  const v: Values = values.ztunnel ?? {};
  const name = ztunnelName(values?.ztunnel?.resourceName);
  const namespace = ctx.namespace;
  const common = { 'app.kubernetes.io/name': ZTUNNEL_DEFAULT_NAME, 'app.kubernetes.io/part-of': 'istio' };
  const selector = { app: ZTUNNEL_DEFAULT_NAME };
  // The istiod of this revision serves both certificates and configuration, unless told otherwise.
  const istiod = istiodAddress(ctx.revision, ctx.istioNamespace);
  const mesh = asMap(ctx.meshConfig);

  const env: Array<Record<string, unknown>> = [
    { name: 'CA_ADDRESS', value: String(v.caAddress || global.caAddress || istiod) },
    { name: 'XDS_ADDRESS', value: String(v.xdsAddress || istiod) },
  ];
  if (v.logAsJson === true || global.logAsJson === true) env.push({ name: 'LOG_FORMAT', value: 'json' });
  const network = v.network || global.network;
  if (network) env.push({ name: 'NETWORK', value: String(network) });
  env.push(
    { name: 'RUST_LOG', value: String(v.logLevel || 'info') },
    { name: 'RUST_BACKTRACE', value: '1' },
    { name: 'ISTIO_META_CLUSTER_ID', value: String(v.multiCluster?.clusterName || global.multiCluster?.clusterName || 'Kubernetes') },
    { name: 'INPOD_ENABLED', value: 'true' },
    { name: 'TERMINATION_GRACE_PERIOD_SECONDS', value: String(gracePeriod(v)) },
    { name: 'POD_NAME', valueFrom: fieldRef('metadata.name', false) },
    { name: 'POD_NAMESPACE', valueFrom: fieldRef('metadata.namespace', false) },
    { name: 'NODE_NAME', valueFrom: fieldRef('spec.nodeName', false) },
    { name: 'INSTANCE_IP', valueFrom: fieldRef('status.podIP', false) },
    { name: 'SERVICE_ACCOUNT', valueFrom: fieldRef('spec.serviceAccountName', false) },
  );
  // Proxy metadata of the mesh (the ambient profile's ISTIO_META_ENABLE_HBONE) applies to ztunnel as to every proxy.
  for (const [k, val] of Object.entries(asMap(asMap(mesh.defaultConfig).proxyMetadata))) env.push({ name: k, value: String(val) });
  env.push({ name: 'ZTUNNEL_CPU_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1' } } });
  for (const [k, val] of Object.entries(asMap(v.env))) env.push({ name: k, value: String(val) });

  const securityContext: Record<string, unknown> = {
    // Needs root with a few capabilities to enter pods' network namespaces; never the whole of privileged.
    allowPrivilegeEscalation: true,
    privileged: false,
    capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'SYS_ADMIN', 'NET_RAW'] },
    readOnlyRootFilesystem: true,
    runAsGroup: 1337,
    runAsNonRoot: false,
    runAsUser: 0,
  };
  if (hasEntries(v.seLinuxOptions)) securityContext.seLinuxOptions = v.seLinuxOptions;

  const volumeMounts: Array<Record<string, unknown>> = [
    { mountPath: '/var/run/secrets/istio', name: 'istiod-ca-cert' },
    { mountPath: '/var/run/secrets/tokens', name: 'istio-token' },
    // The CNI agent hands ztunnel each ambient pod's network namespace over this socket.
    { mountPath: '/var/run/ztunnel', name: 'cni-ztunnel-sock-dir' },
    { mountPath: '/tmp', name: 'tmp' },
  ];
  const volumes: Array<Record<string, unknown>> = [
    { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] } },
    { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } },
    { name: 'cni-ztunnel-sock-dir', hostPath: { path: '/var/run/ztunnel', type: 'DirectoryOrCreate' } },
    { name: 'tmp', emptyDir: {} },
  ];
  if (v.peerCaCrl?.enabled === true) {
    volumeMounts.push({ mountPath: '/var/run/secrets/istio/crl', name: 'istio-ca-crl', readOnly: true });
    volumes.push({ name: 'istio-ca-crl', configMap: { name: 'istio-ca-crl', optional: true } });
  }
  volumeMounts.push(...asList(v.volumeMounts));
  volumes.push(...asList(v.volumes));

  const container: Record<string, unknown> = {
    name: 'istio-proxy',
    image: imageOf(v, global, ctx.version, 'ztunnel'),
    ...(v.imagePullPolicy || global.imagePullPolicy ? { imagePullPolicy: String(v.imagePullPolicy || global.imagePullPolicy) } : {}),
    ports: [{ containerPort: 15020, name: 'ztunnel-stats', protocol: 'TCP' }],
    resources: hasEntries(v.resources) ? v.resources : global.defaultResources,
    securityContext,
    readinessProbe: { httpGet: { port: 15021, path: '/healthz/ready' } },
    args: ['proxy', 'ztunnel'],
    env,
    volumeMounts,
  };

  const pullSecrets = [...new Set(asList(v.imagePullSecrets).concat(asList(global.imagePullSecrets)).filter((s) => typeof s === 'string' && s))];
  const labels = { ...common, ...stringMap(v.labels) };

  return {
    name,
    namespace,
    labels,
    serviceAccountName: name,
    imagePullSecrets: pullSecrets,
    annotations: stringMap(v.annotations),
    selector,
    updateStrategy: hasEntries(v.updateStrategy) ? v.updateStrategy : undefined,
    podLabels: { 'sidecar.istio.io/inject': 'false', 'istio.io/dataplane-mode': 'none', ...selector, ...common, ...stringMap(v.podLabels) },
    podAnnotations: { 'sidecar.istio.io/inject': 'false', ...stringMap(v.podAnnotations) },
    nodeSelector: { 'kubernetes.io/os': 'linux', ...stringMap(v.nodeSelector) },
    tolerations: asList(v.tolerations),
    // ztunnel drains connections for this long before the node loses its proxy.
    terminationGracePeriodSeconds: gracePeriod(v),
    dnsPolicy: v.dnsPolicy ? String(v.dnsPolicy) : undefined,
    dnsConfig: hasEntries(v.dnsConfig) ? v.dnsConfig : undefined,
    container,
    volumes,
    resourceQuota: resourceQuota(v, `${name}-resource-quota`),
    // HBONE (15008) from peers and waypoints, metrics (15020) and readiness (15021).
    networkPolicy: global.networkPolicy?.enabled === true ? networkPolicy(selector, [15008, 15020, 15021]) : undefined,
  };
}
