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
  resourceFieldDivisor: { since: '1.30', what: 'resourceFieldRef env vars carry divisor "1"' },
  gatewayDataplaneModeNone: { since: '1.30', what: 'gateways are labelled istio.io/dataplane-mode=none (never captured by ambient)' },
  networkPolicyNoFrom: { since: '1.30', what: "istiod's NetworkPolicy ingress rules have no empty `from`" },
  istiodStatusRbac: { since: '1.30', what: 'istiod writes status of AuthorizationPolicies, Services and every Gateway API kind; reads inference pools' },
  readerConfigMaps: { since: '1.30', what: 'the reader ClusterRole reads ConfigMaps (multicluster)' },
  gatewayControllerScaling: { since: '1.30', what: "istiod's gateway controller manages HPAs and PDBs of the gateways it deploys" },
  cniUnprivileged: { since: '1.30', what: 'the CNI agent runs unprivileged (SYS_PTRACE, DAC_OVERRIDE), AppArmor unconfined, no hostPort, 30 s grace, may switch to the host network namespace' },
  ztunnelCpuLimit: { since: '1.30', what: 'ztunnel reads its CPU limit (ZTUNNEL_CPU_LIMIT) and is distroless by default; explicit RollingUpdate strategy' },
  trafficExtensionsCrd: { since: '1.30', what: 'the TrafficExtension CRD (extensions.istio.io)' },
  agentgatewayTemplate: { since: '1.30', what: 'the agentgateway injection template' },
  crdLabelsTrimmed: { since: '1.30', what: "CRDs no longer carry Helm 2's labels (app: istio-pilot, chart: istio, heritage: Tiller, istio: <group>)" },
  // ---- 1.31 ----
  proxyInitImage: { since: '1.31', what: "the injector's .ProxyInitImage (istio-init's own image); older istiod only has .ProxyImage" },
  grpcAgentCaAddress: { since: '1.31', what: 'the grpc-agent template sets CA_ADDRESS and mounts the xds token separately from the istio token' },
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
