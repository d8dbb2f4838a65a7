import { minorOf, type Release } from '../api/releases.js';

// What changed in Istio's install between the release lines we support, in one place. Each entry is a behaviour
// of Istio's charts (or of istiod, which the injection templates must match) and the first line that has it.
// Templates ask `{{#if (has "name")}}`, injection templates gate lines with `#@if name` ... `#@else` ... `#@end`,
// and views call `has(release, 'name')`. Reading this table tells what 1.29, 1.30 and 1.31 render differently.
//
// The truth is what each release's own istioctl renders (test/fixtures/istio/releases/<tag>/golden/live, from
// scripts/live-goldens.sh), not Istio's vendored goldens, which its test renders from an older chart snapshot: by
// those, 1.29 lacked much that istioctl 1.29.6 renders (istiod's named ports, values ConfigMap, status RBAC and
// budget rule, trimmed CRD labels, the CNI and ztunnel settings, and 1.30's injection templates but
// OTEL_RESOURCE_ATTRIBUTES and agentgateway's CA address). Those behaviours are every supported line's and have no
// entry; a behaviour gets one only where the live goldens (or, for what they do not exercise, the releases'
// charts) differ between lines.

export const FEATURES = {
  // ---- 1.30 ----
  networkPolicyNoFrom: { since: '1.30', what: "istiod's NetworkPolicy ingress rules have no empty `from`" },
  listenerSetsV1: {
    since: '1.30',
    what: "istiod writes the status of Gateway API's ListenerSets (gateway.networking.k8s.io listenersets/status; 1.29: the experimental gateway.networking.x-k8s.io xlistenersets/status)",
  },
  trafficExtensionsCrd: { since: '1.30', what: 'the TrafficExtension CRD (extensions.istio.io)' },
  remotePilotIPv6: {
    since: '1.30',
    what: "a remote's global.remotePilotAddress may be an IPv6 address (an IPv6 EndpointSlice; 1.29 writes an ExternalName Service for it)",
  },
  // Injection (manifests/pilot/injection/*.tmpl): what istiod 1.30 injects differently from 1.29's.
  otelResourceAttributes: {
    since: '1.30',
    what: "the proxy gets OTEL_RESOURCE_ATTRIBUTES when a mesh OpenTelemetry provider asks for OTel service attributes (istiod's otelResourceAttributes template function)",
  },
  agentgatewayCaAddress: {
    since: '1.30',
    what: "agentgateway is told istiod's CA address (CA_ADDRESS) and gets an xDS token apart from its istio token (1.29: one token, mounted for xDS)",
  },
  // ---- 1.31 ----
  k8sSettingsAsValues: {
    since: '1.31',
    what: "istioctl carries a component's k8s replica settings (Deployments: hpaSpec min/max, replicaCount) and k8s.resources CPU into its values before rendering, so the charts' guards see them (1.30: k8s settings only patch the rendered objects)",
  },
  ztunnelCpuResourceEnv: {
    since: '1.31',
    what: 'ztunnel is told its own CPU limit and request (ZTUNNEL_RESOURCE_CPU_LIMIT, ZTUNNEL_RESOURCE_CPU_REQUEST) when its values set them',
  },
  proxyInitImage: { since: '1.31', what: "the injector's .ProxyInitImage (istio-init's own image); older istiod only has .ProxyImage" },
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
