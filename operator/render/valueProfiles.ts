import type { Values } from '../api/types.js';
import { minorOf, type Release } from '../api/releases.js';

// Values that Istio layers over the chart defaults when `values.profile` or `compatibilityVersion` is set.
// IstioOperator profiles such as `demo` only say `values.profile: demo`; the values behind that name live here.
// Written as data in our own shape: keys are our unified values tree (istiod's flattened root keys such
// as `configMap` are placed under `pilot`, where our templates read them).

const SMALL_REQUESTS = { requests: { cpu: '10m', memory: '40Mi' } };

export const VALUE_PROFILES: Record<string, Values> = {
  // Profiles that exist as IstioOperator profiles but add no values of their own.
  default: {},
  minimal: {},
  empty: {},
  demo: {
    meshConfig: {
      accessLogFile: '/dev/stdout',
      extensionProviders: [
        { name: 'otel', envoyOtelAls: { service: 'opentelemetry-collector.observability.svc.cluster.local', port: 4317 } },
        { name: 'skywalking', skywalking: { service: 'tracing.istio-system.svc.cluster.local', port: 11800 } },
        { name: 'otel-tracing', opentelemetry: { port: 4317, service: 'opentelemetry-collector.observability.svc.cluster.local' } },
        { name: 'jaeger', opentelemetry: { port: 4317, service: 'jaeger-collector.istio-system.svc.cluster.local' } },
      ],
    },
    cni: { resources: SMALL_REQUESTS },
    ztunnel: { resources: SMALL_REQUESTS },
    global: {
      proxy: { resources: SMALL_REQUESTS },
      waypoint: { resources: SMALL_REQUESTS },
    },
    pilot: {
      autoscaleEnabled: false,
      traceSampling: 100,
      resources: { requests: { cpu: '10m', memory: '100Mi' } },
    },
    gateways: {
      'istio-egressgateway': { autoscaleEnabled: false, resources: SMALL_REQUESTS },
      'istio-ingressgateway': {
        autoscaleEnabled: false,
        // Demo opens the TCP and TLS passthrough ports too.
        ports: [
          { port: 15021, targetPort: 15021, name: 'status-port' },
          { port: 80, targetPort: 8080, name: 'http2' },
          { port: 443, targetPort: 8443, name: 'https' },
          { port: 31400, targetPort: 31400, name: 'tcp' },
          { port: 15443, targetPort: 15443, name: 'tls' },
        ],
        resources: SMALL_REQUESTS,
      },
    },
  },
  // Remote cluster: istiod runs elsewhere; only the injector webhook and its support objects are rendered here.
  remote: {
    istiodRemote: { enabled: true },
    pilot: { configMap: false },
    telemetry: { enabled: false },
    global: { omitSidecarInjectorConfigMap: true },
  },
  // Ambient mode: istiod serves ztunnel, the CNI agent redirects ambient pods, proxies speak HBONE.
  ambient: {
    meshConfig: {
      defaultConfig: { proxyMetadata: { ISTIO_META_ENABLE_HBONE: 'true' } },
      serviceScopeConfigs: [
        { servicesSelector: { matchExpressions: [{ key: 'istio.io/global', operator: 'In', values: ['true'] }] }, scope: 'GLOBAL' },
      ],
    },
    global: { variant: 'distroless' },
    pilot: { env: { PILOT_ENABLE_AMBIENT: 'true' } },
    cni: { ambient: { enabled: true } },
  },
  preview: {
    meshConfig: { defaultConfig: { proxyMetadata: { ISTIO_META_DNS_CAPTURE: 'true' } } },
  },
  stable: {
    experimental: { stableValidationPolicy: true },
  },
};

// Behaviour changes of istiod, each with the release that introduced it. `compatibilityVersion: X` keeps
// the behaviour of release X by turning off every change introduced after X. Facts from Istio's
// compatibility profiles; versions listed are those Istio still accepts.
const PILOT_BEHAVIOUR_CHANGES: Array<{ since: string; env: string }> = [
  { since: '1.27', env: 'ENABLE_NATIVE_SIDECARS' },
  { since: '1.28', env: 'DISABLE_SHADOW_HOST_SUFFIX' },
  { since: '1.28', env: 'PILOT_SPAWN_UPSTREAM_SPAN_FOR_GATEWAY' },
  { since: '1.29', env: 'DISABLE_TRACK_REMAINING_CB_METRICS' },
  { since: '1.30', env: 'PILOT_SIDECAR_PICK_BEST_SERVICE_NAMESPACE' },
  { since: '1.31', env: 'PILOT_ENABLE_STRICT_GATEWAY_MERGING' },
  { since: '1.31', env: 'PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS' },
];

/** The oldest behaviour any supported release can restore. */
const OLDEST_COMPATIBILITY = 25;

function minor(v: string): number {
  return Number(v.split('.')[1]);
}

/** The compatibility versions a release accepts: every older minor back to 1.25 (1.30 accepts 1.25 to 1.29). */
export function compatibilityVersions(release: Release): string[] {
  const out: string[] = [];
  for (let m = OLDEST_COMPATIBILITY; m < minorOf(release); m++) out.push(`1.${m}`);
  return out;
}

/**
 * The values that restore release `version`'s behaviour in `release`, or undefined if `release` does not accept
 * that version: every behaviour change after `version` that `release` has is turned off.
 */
export function compatibilityValues(version: string, release: Release): Values | undefined {
  const v = String(version).replace(/^v/, '').split('.').slice(0, 2).join('.');
  if (!compatibilityVersions(release).includes(v)) return undefined;
  const env: Record<string, string> = {};
  for (const c of PILOT_BEHAVIOUR_CHANGES) if (minor(c.since) > minor(v) && minor(c.since) <= minorOf(release)) env[c.env] = 'false';
  // Istio 1.31's profile for 1.30 also pins the upstream span change, which it re-counted under 1.31.
  if (v === '1.30' && minorOf(release) >= 31) env.PILOT_SPAWN_UPSTREAM_SPAN_FOR_GATEWAY = 'false';
  const out: Values = { pilot: { env } };
  // Behaviours of the CNI agent in ambient mode (Istio's profiles spell the second one at the top level, which is
  // the CNI chart's root: here it is values.cni).
  const ambient: Values = {};
  if (minor(v) <= 28) ambient.reconcileIptablesOnStartup = false;
  if (minor(v) <= 25) ambient.shareHostNetworkNamespace = true;
  if (Object.keys(ambient).length) out.cni = { ambient };
  return out;
}
