import { minorOf, type Release } from '../api/releases.js';

// What changed in Istio's install between the release lines we support, in one place. Each entry is a behaviour
// of Istio's charts (or of istiod, which the injection templates must match) and the first line that has it.
// Templates ask `{{#if (has "name")}}`, injection templates gate lines with `#@if name` ... `#@else` ... `#@end`,
// and views call `has(release, 'name')`. Reading this table tells what 1.29, 1.30 and 1.31 render differently.

export const FEATURES = {
  // ---- 1.30 ----
  valuesConfigMap: { since: '1.30', what: "istiod's chart ships the `values` ConfigMap (the merged values, for debugging)" },
  pdbOnlyWhenRedundant: { since: '1.30', what: 'a PodDisruptionBudget only when more than one replica can run (1.29 always renders one)' },
  namedIstiodPorts: { since: '1.30', what: "istiod's container ports are named (http-debug, grpc-xds, ...)" },
  memoryLimitOnlyGomemlimit: { since: '1.30', what: 'GOMEMLIMIT only when a memory limit is set (1.29 always sets it)' },
  resourceFieldDivisor: { since: '1.30', what: 'resourceFieldRef env vars carry divisor "1" (istiod, the injected proxies and the gateways istiod deploys)' },
  gatewayDataplaneModeNone: { since: '1.30', what: 'gateways are labelled istio.io/dataplane-mode=none (never captured by ambient)' },
  networkPolicyNoFrom: { since: '1.30', what: "istiod's NetworkPolicy ingress rules have no empty `from`" },
  istiodStatusRbac: { since: '1.30', what: 'istiod writes status of AuthorizationPolicies, Services and every Gateway API kind; reads inference pools' },
  readerConfigMaps: { since: '1.30', what: 'the reader ClusterRole reads ConfigMaps (multicluster)' },
  gatewayControllerScaling: { since: '1.30', what: "istiod's gateway controller manages HPAs and PDBs of the gateways it deploys (rendered when the Gateway's parameters ask for them)" },
  cniUnprivileged: { since: '1.30', what: 'the CNI agent runs unprivileged (SYS_PTRACE, DAC_OVERRIDE), AppArmor unconfined, no hostPort, 30 s grace, may switch to the host network namespace' },
  ztunnelCpuLimit: { since: '1.30', what: 'ztunnel reads its CPU limit (ZTUNNEL_CPU_LIMIT) and is distroless by default; explicit RollingUpdate strategy' },
  trafficExtensionsCrd: { since: '1.30', what: 'the TrafficExtension CRD (extensions.istio.io)' },
  agentgatewayTemplate: { since: '1.30', what: 'the agentgateway injection template' },
  // Injection (manifests/pilot/injection/*.tmpl): what istiod 1.30 injects differently from 1.29's.
  otelResourceAttributes: { since: '1.30', what: "the proxy gets OTEL_RESOURCE_ATTRIBUTES when a mesh OpenTelemetry provider asks for OTel service attributes (istiod's otelResourceAttributes template function)" },
  nativeSidecarPerPod: { since: '1.30', what: "native sidecars follow the pod's sidecar.istio.io/nativeSidecar annotation and istiod's node detection (1.29's template reads only istiod's ENABLE_NATIVE_SIDECARS env)" },
  tproxyRunsAs1337: { since: '1.30', what: "with TPROXY interception, istio-init's -u and the proxy's group are 1337 whatever UID/GID istiod picked for the namespace" },
  rerouteVirtualInterfaces: { since: '1.30', what: 'the istio.io/reroute-virtual-interfaces annotation (istio-init -k, copied for istio-cni), preferred to traffic.sidecar.istio.io/kubevirtInterfaces' },
  cniAlwaysIncludeInboundPorts: { since: '1.30', what: 'with istio-cni, traffic.sidecar.istio.io/includeInboundPorts is written even when empty (1.29 leaves it out)' },
  initContainersKept: { since: '1.30', what: "with interceptionMode NONE and no native sidecar the pod's own init containers are kept (1.29's template writes a null list, which the merge reads as 'delete')" },
  iptablesApplyFlags: { since: '1.30', what: 'istio-init takes --force-apply (global.proxy_init.forceApplyIptables) and --native-nftables (global.nativeNftables)' },
  proxySeccompProfile: { since: '1.30', what: 'global.proxy.seccompProfile is set on istio-init/istio-validation and istio-proxy' },
  coreDumpDropped: { since: '1.30', what: "no enable-core-dump init container (sidecar.istio.io/enableCoreDump, global.proxy.enableCoreDump); the proxy's root filesystem is always read-only" },
  workloadNameLabel: { since: '1.30', what: "the proxy's ISTIO_META_WORKLOAD_NAME comes from the pod's service.istio.io/workload-name label before the owner's name" },
  caCrl: { since: '1.30', what: 'sidecars mount the istio-ca-crl ConfigMap (pilot.crlConfigMapName) at /var/run/secrets/istio/crl' },
  trustBundleSource: { since: '1.30', what: "proxies read istiod's CA from a ClusterTrustBundle (pilot.env.ENABLE_CLUSTER_TRUST_BUNDLE_API) or the ConfigMap global.trustBundleName (1.29: always istio-ca-root-cert)" },
  gatewayDefaultContainer: { since: '1.30', what: "injected gateways name their first container as kubectl's default whenever there is one, and keep the pod's own choice (1.29: only for a single-container pod, overriding it)" },
  gatewayBootstrapOverride: { since: '1.30', what: 'injected gateways honour sidecar.istio.io/bootstrapOverride (custom Envoy bootstrap ConfigMap)' },
  // Gateways istiod deploys for Gateway API resources (waypoint, kube-gateway, agentgateway templates).
  deployedGatewayV1: { since: '1.30', what: 'objects istiod deploys for a Gateway carry the gateway.networking.k8s.io/gateway-class-name label and owner references to gateway.networking.k8s.io/v1 (1.29: v1beta1)' },
  deployedMetricsPort: { since: '1.30', what: 'waypoints and Gateway API gateways declare the agent metrics port 15020 (metrics)' },
  gatewayServiceDualStack: { since: '1.30', what: "the Service of a Gateway API gateway prefers dual stack (ipFamilyPolicy PreferDualStack; waypoints' already did)" },
  waypointScheduling: { since: '1.30', what: "waypoints take affinity, topologySpreadConstraints, nodeSelector and tolerations from global.waypoint, and Kubernetes' default termination grace period (1.29: 2 s)" },
  waypointOutlierLog: { since: '1.30', what: 'waypoints honour global.proxy.outlierLogPath' },
  waypointTrustDomain: { since: '1.30', what: 'waypoints get TRUST_DOMAIN' },
  waypointOpenshift: { since: '1.30', what: 'on OpenShift (global.platform) waypoints leave runAsUser/runAsGroup to the platform' },
  waypointControllerLabel: { since: '1.30', what: "east-west gateways are labelled managed by istio.io-eastwest-controller and ask for their network's view (ISTIO_META_REQUESTED_NETWORK_VIEW); 1.29 labels them as waypoints" },
  waypointPreferClose: { since: '1.30', what: "a waypoint's Service prefers endpoints in the caller's zone (networking.istio.io/traffic-distribution: PreferClose)" },
  remotePilotIPv6: { since: '1.30', what: "a remote's global.remotePilotAddress may be an IPv6 address (an IPv6 EndpointSlice; 1.29 writes an ExternalName Service for it)" },
  crdLabelsTrimmed: { since: '1.30', what: "CRDs no longer carry Helm 2's labels (app: istio-pilot, chart: istio, heritage: Tiller, istio: <group>)" },
  // ---- 1.31 ----
  ztunnelCpuRequest: { since: '1.31', what: 'ztunnel also reads its CPU request (ZTUNNEL_RESOURCE_CPU_REQUEST)' },
  proxyInitImage: { since: '1.31', what: "the injector's .ProxyInitImage (istio-init's own image); older istiod only has .ProxyImage" },
  agentgatewayCaAddress: { since: '1.31', what: "agentgateway is told istiod's CA address (CA_ADDRESS) and gets an xDS token apart from its istio token (1.30: one token, mounted for xDS)" },
} as const satisfies Record<string, { since: string; what: string }>;

export type Feature = keyof typeof FEATURES;

/** Whether `release` renders `feature`. */
export function has(release: Release, feature: Feature): boolean {
  const f = FEATURES[feature];
  if (!f) throw new Error(`unknown release feature "${feature}" (see render/features.ts)`);
  return minorOf(release) >= Number(f.since.split('.')[1]);
}

/**
 * The text of an injection template for `release`: lines between `#@if <feature>` (or `#@if !<feature>`) and
 * `#@else`/`#@end` kept or dropped, the directive lines themselves removed. Nested blocks are allowed. The
 * templates are Go templates that istiod runs, so they never pass through Handlebars: this is the one gate they get.
 */
export function gateText(text: string, release: Release, file: string): string {
  const out: string[] = [];
  const stack: Array<{ keep: boolean; sawElse: boolean }> = [];
  const active = () => stack.every((s) => s.keep);
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const m = /^\s*#@(if|else|end)\b\s*(!?)([A-Za-z0-9]*)\s*$/.exec(line);
    if (!m) {
      if (/^\s*#@/.test(line)) throw new Error(`${file}:${i + 1}: unknown gate "${line.trim()}" (use #@if <feature>, #@else, #@end)`);
      if (active()) out.push(line);
      return;
    }
    const [, kw, neg, name] = m;
    if (kw === 'if') {
      if (!(name! in FEATURES)) throw new Error(`${file}:${i + 1}: unknown release feature "${name}" (see render/features.ts)`);
      const on = has(release, name as Feature);
      stack.push({ keep: neg ? !on : on, sawElse: false });
    } else if (kw === 'else') {
      const top = stack.at(-1);
      if (!top || top.sawElse) throw new Error(`${file}:${i + 1}: #@else without #@if`);
      top.keep = !top.keep;
      top.sawElse = true;
    } else if (!stack.pop()) throw new Error(`${file}:${i + 1}: #@end without #@if`);
  });
  if (stack.length) throw new Error(`${file}: ${stack.length} #@if without #@end`);
  return out.join('\n');
}
