import type { Values } from '../../api/types.js';
import type { RenderContext } from '../context.js';
import { renderComponentTemplates } from '../engine.js';
import type { K8sObject } from '../../api/types.js';
import { istiodAddress, ZTUNNEL_DEFAULT_NAME, ztunnelName } from '../../api/names.js';
import { gracePeriod, imageOf, resourceQuota } from './nodeagent.js';
import { asList, asMap, hasEntries, stringMap } from './util.js';
import { platformOf } from '../platforms.js';
import { has } from '../features.js';

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
  const istiod = istiodAddress(ctx.revision, ctx.istioNamespace);
  const mesh = asMap(ctx.meshConfig);

  const env = (m: unknown) => Object.entries(asMap(m)).map(([k, val]) => ({ name: k, value: String(val) }));
  const network = v.network || global.network;
  const pullSecrets = [
    ...new Set(
      asList(v.imagePullSecrets)
        .concat(asList(global.imagePullSecrets))
        .filter((s) => typeof s === 'string' && s),
    ),
  ];
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
    image: imageOf(v, global, ctx.version, 'ztunnel'),
    imagePullPolicy: v.imagePullPolicy || global.imagePullPolicy ? String(v.imagePullPolicy || global.imagePullPolicy) : undefined,
    resources: hasEntries(v.resources) ? v.resources : global.defaultResources,
    // From 1.31 ztunnel is told its own CPU limit and request, each when its values set it (features.ts; the chart
    // reads values.ztunnel.resources, which k8s.resources' CPU reaches from 1.31 too: render/values.ts).
    cpuLimitEnv: has(ctx.release, 'ztunnelCpuResourceEnv') && !!asMap(asMap(v.resources).limits).cpu,
    cpuRequestEnv: has(ctx.release, 'ztunnelCpuResourceEnv') && !!asMap(asMap(v.resources).requests).cpu,
    seLinuxOptions: hasEntries(v.seLinuxOptions) ? v.seLinuxOptions : undefined,
    // The istiod of this revision serves both certificates and configuration, unless told otherwise.
    caAddress: String(v.caAddress || global.caAddress || istiod),
    xdsAddress: String(v.xdsAddress || istiod),
    logAsJson: v.logAsJson === true || global.logAsJson === true,
    network: network ? String(network) : undefined,
    rustLog: String(v.logLevel || 'info'),
    clusterID: String(v.multiCluster?.clusterName || global.multiCluster?.clusterName || 'Kubernetes'),
    // Proxy metadata of the mesh (the ambient profile's ISTIO_META_ENABLE_HBONE) applies to ztunnel as to every proxy.
    proxyMetadataEnv: env(asMap(mesh.defaultConfig).proxyMetadata),
    userEnv: env(v.env),
    peerCaCrl: v.peerCaCrl?.enabled === true,
    userVolumeMounts: asList(v.volumeMounts),
    userVolumes: asList(v.volumes),
    // Istio's ztunnel chart names its quota after the ztunnel (the CNI's is istio-cni-resource-quota).
    resourceQuota: resourceQuota(v, name),
    // On OpenShift ztunnel runs under the privileged SecurityContextConstraints: a ClusterRole of its own allows
    // its account to use them.
    openshift: platformOf(values) === 'openshift' ? { labels: { app: ZTUNNEL_DEFAULT_NAME, ...labels } } : undefined,
    networkPolicy: global.networkPolicy?.enabled === true,
  };
}
