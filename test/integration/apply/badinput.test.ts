// Over 500 lines by choice: a corpus, one case per bad input, each a short test.
// Issue #18 item 6: a corpus of bad IstioOperators, one test each. Every case is refused by `istio-operator install`
// (exit 1, the field named on stderr, nothing on stdout) and, where the CRD can express the rule, by `kubectl apply`
// of the IstioOperator (the API server names the field). Nothing is applied: the case's Istio namespace is never
// created and the IstioOperator does not exist afterwards.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { cli } from './_util.js';
import { kubectl, uniqueName } from '../helpers/cluster.js';
import { ensureCRD } from '../controller/harness.js';

interface Case {
  /** What is wrong, in words (the test title). */
  what: string;
  /** The class of Build 6 it covers. */
  cls: 'quantity' | 'percentage' | 'port' | 'hub' | 'profile' | 'meshConfig field' | 'meshConfig type' | 'proxy setting';
  spec: Record<string, unknown>;
  /** The field path both refusals must name. */
  field: string;
  /** Whether the CRD refuses it at `kubectl apply` (false: render time only, e.g. release-dependent meshConfig). */
  crd: boolean;
}

const gw = (k8s: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  components: { ingressGateways: [{ name: 'istio-ingressgateway', enabled: true, ...extra, k8s }] },
});
const pilotK8s = (k8s: Record<string, unknown>) => ({ components: { pilot: { k8s } } });
const proxy = (p: Record<string, unknown>) => ({ values: { global: { proxy: p } } });
const port = (p: Record<string, unknown>) => gw({ service: { ports: [{ name: 'http2', port: 80, targetPort: 8080, ...p }] } });

const CASES: Case[] = [
  // quantities
  {
    cls: 'quantity',
    what: 'a CPU request that is not a quantity',
    spec: pilotK8s({ resources: { requests: { cpu: 'abc' } } }),
    field: 'spec.components.pilot.k8s.resources.requests.cpu',
    crd: true,
  },
  {
    cls: 'quantity',
    what: 'a memory request in MB (not a Kubernetes suffix)',
    spec: pilotK8s({ resources: { requests: { memory: '128MB' } } }),
    field: 'spec.components.pilot.k8s.resources.requests.memory',
    crd: true,
  },
  {
    cls: 'quantity',
    what: 'a negative CPU limit',
    spec: pilotK8s({ resources: { limits: { cpu: '-1' } } }),
    field: 'spec.components.pilot.k8s.resources.limits.cpu',
    crd: true,
  },
  {
    cls: 'quantity',
    what: 'a negative memory limit written as a number',
    spec: pilotK8s({ resources: { limits: { memory: -5 } } }),
    field: 'spec.components.pilot.k8s.resources.limits.memory',
    crd: false,
  },
  {
    cls: 'quantity',
    what: 'a CPU request with words in it',
    spec: pilotK8s({ resources: { requests: { cpu: '1.5 cores' } } }),
    field: 'spec.components.pilot.k8s.resources.requests.cpu',
    crd: true,
  },
  {
    cls: 'quantity',
    what: "a gateway's memory limit that is not a quantity",
    spec: gw({ resources: { limits: { memory: 'lots' } } }),
    field: 'spec.components.ingressGateways[0].k8s.resources.limits.memory',
    crd: true,
  },
  {
    cls: 'quantity',
    what: "the proxies' CPU request that is not a quantity",
    spec: proxy({ resources: { requests: { cpu: 'x' } } }),
    field: 'spec.values.global.proxy.resources.requests.cpu',
    crd: false,
  },
  {
    cls: 'quantity',
    what: "istiod's memory limit with a space",
    spec: { values: { pilot: { resources: { limits: { memory: '1 GiB' } } } } },
    field: 'spec.values.pilot.resources.limits.memory',
    crd: false,
  },
  {
    cls: 'quantity',
    what: 'a negative default CPU request',
    spec: { values: { global: { defaultResources: { requests: { cpu: '-100m' } } } } },
    field: 'spec.values.global.defaultResources.requests.cpu',
    crd: false,
  },
  {
    cls: 'quantity',
    what: 'an egress gateway memory request in Mib',
    spec: {
      components: {
        egressGateways: [{ name: 'istio-egressgateway', enabled: true, k8s: { resources: { requests: { memory: '12Mib' } } } }],
      },
    },
    field: 'spec.components.egressGateways[0].k8s.resources.requests.memory',
    crd: true,
  },
  {
    cls: 'quantity',
    what: "the CNI agent's CPU request spelled out",
    spec: { components: { cni: { enabled: true, k8s: { resources: { requests: { cpu: 'one' } } } } } },
    field: 'spec.components.cni.k8s.resources.requests.cpu',
    crd: true,
  },
  {
    cls: 'quantity',
    what: "ztunnel's CPU limit with an unknown suffix",
    spec: { components: { ztunnel: { enabled: true, k8s: { resources: { limits: { cpu: '1x' } } } } } },
    field: 'spec.components.ztunnel.k8s.resources.limits.cpu',
    crd: true,
  },
  // percentages
  {
    cls: 'percentage',
    what: 'maxUnavailable over 100%',
    spec: pilotK8s({ strategy: { rollingUpdate: { maxUnavailable: '150%' } } }),
    field: 'spec.components.pilot.k8s.strategy.rollingUpdate.maxUnavailable',
    crd: true,
  },
  {
    cls: 'percentage',
    what: 'a disruption budget minAvailable over 100%',
    spec: pilotK8s({ podDisruptionBudget: { minAvailable: '101%' } }),
    field: 'spec.components.pilot.k8s.podDisruptionBudget.minAvailable',
    crd: true,
  },
  {
    cls: 'percentage',
    what: 'a disruption budget maxUnavailable over 100%',
    spec: pilotK8s({ podDisruptionBudget: { maxUnavailable: '200%' } }),
    field: 'spec.components.pilot.k8s.podDisruptionBudget.maxUnavailable',
    crd: true,
  },
  {
    cls: 'percentage',
    what: 'maxSurge that is neither a number nor a percentage',
    spec: pilotK8s({ strategy: { rollingUpdate: { maxSurge: 'ten' } } }),
    field: 'spec.components.pilot.k8s.strategy.rollingUpdate.maxSurge',
    crd: true,
  },
  {
    cls: 'percentage',
    what: "istiod's rollingMaxUnavailable over 100%",
    spec: { values: { pilot: { rollingMaxUnavailable: '120%' } } },
    field: 'spec.values.pilot.rollingMaxUnavailable',
    crd: true,
  },
  {
    cls: 'percentage',
    what: 'a trace sampling over 100 percent',
    spec: { values: { pilot: { traceSampling: 150 } } },
    field: 'spec.values.pilot.traceSampling',
    crd: true,
  },
  {
    cls: 'percentage',
    what: 'a negative trace sampling',
    spec: { values: { pilot: { traceSampling: -1 } } },
    field: 'spec.values.pilot.traceSampling',
    crd: true,
  },
  {
    cls: 'percentage',
    what: 'a negative disruption budget minAvailable',
    spec: pilotK8s({ podDisruptionBudget: { minAvailable: -1 } }),
    field: 'spec.components.pilot.k8s.podDisruptionBudget.minAvailable',
    crd: true,
  },
  {
    cls: 'percentage',
    what: 'a percentage without its % sign',
    spec: pilotK8s({ strategy: { rollingUpdate: { maxUnavailable: '50' } } }),
    field: 'spec.components.pilot.k8s.strategy.rollingUpdate.maxUnavailable',
    crd: true,
  },
  {
    cls: 'percentage',
    what: "istiod's rollingMaxSurge that is not a percentage",
    spec: { values: { pilot: { rollingMaxSurge: 'x%' } } },
    field: 'spec.values.pilot.rollingMaxSurge',
    crd: false,
  },
  {
    cls: 'percentage',
    what: "a gateway's maxUnavailable over 100%",
    spec: gw({ strategy: { rollingUpdate: { maxUnavailable: '101%' } } }),
    field: 'spec.components.ingressGateways[0].k8s.strategy.rollingUpdate.maxUnavailable',
    crd: true,
  },
  // ports
  {
    cls: 'port',
    what: 'a Service port above 65535',
    spec: port({ port: 70000 }),
    field: 'spec.components.ingressGateways[0].k8s.service.ports[0].port',
    crd: true,
  },
  {
    cls: 'port',
    what: 'a Service port 0',
    spec: port({ port: 0 }),
    field: 'spec.components.ingressGateways[0].k8s.service.ports[0].port',
    crd: true,
  },
  {
    cls: 'port',
    what: 'a targetPort above 65535',
    spec: port({ targetPort: 99999 }),
    field: 'spec.components.ingressGateways[0].k8s.service.ports[0].targetPort',
    crd: true,
  },
  {
    cls: 'port',
    what: 'a targetPort name that is not a port name',
    spec: port({ targetPort: 'Http_Port' }),
    field: 'spec.components.ingressGateways[0].k8s.service.ports[0].targetPort',
    crd: true,
  },
  {
    cls: 'port',
    what: 'a nodePort above 65535',
    spec: port({ nodePort: 70000 }),
    field: 'spec.components.ingressGateways[0].k8s.service.ports[0].nodePort',
    crd: true,
  },
  {
    cls: 'port',
    what: 'a Service port written as a string',
    spec: port({ port: '80' }),
    field: 'spec.components.ingressGateways[0].k8s.service.ports[0].port',
    crd: true,
  },
  {
    cls: 'port',
    what: "the proxies' status port 0",
    spec: proxy({ statusPort: 0 }),
    field: 'spec.values.global.proxy.statusPort',
    crd: true,
  },
  {
    cls: 'port',
    what: "the proxies' status port above 65535",
    spec: proxy({ statusPort: 65536 }),
    field: 'spec.values.global.proxy.statusPort',
    crd: true,
  },
  {
    cls: 'port',
    what: 'a mesh proxyListenPort above 65535',
    spec: { meshConfig: { proxyListenPort: 70000 } },
    field: 'spec.meshConfig.proxyListenPort',
    crd: true,
  },
  {
    cls: 'port',
    what: 'a proxy admin port above 65535',
    spec: { meshConfig: { defaultConfig: { proxyAdminPort: 70000 } } },
    field: 'spec.meshConfig.defaultConfig.proxyAdminPort',
    crd: false,
  },
  {
    cls: 'port',
    what: 'a gateway values port 0',
    spec: { values: { gateways: { 'istio-ingressgateway': { ports: [{ name: 'http2', port: 0 }] } } } },
    field: 'spec.values.gateways.istio-ingressgateway.ports[0].port',
    crd: false,
  },
  {
    cls: 'port',
    what: 'a negative mesh proxyHttpPort',
    spec: { meshConfig: { proxyHttpPort: -1 } },
    field: 'spec.meshConfig.proxyHttpPort',
    crd: true,
  },
  // image hubs
  { cls: 'hub', what: 'a hub that is a URL', spec: { hub: 'https://docker.io/istio' }, field: 'spec.hub', crd: true },
  { cls: 'hub', what: 'a hub with an uppercase path', spec: { hub: 'docker.io/Istio' }, field: 'spec.hub', crd: true },
  { cls: 'hub', what: 'a hub with a tag in it', spec: { hub: 'docker.io/istio:1.30' }, field: 'spec.hub', crd: true },
  { cls: 'hub', what: 'a hub with a space', spec: { hub: 'my registry/istio' }, field: 'spec.hub', crd: true },
  {
    cls: 'hub',
    what: "istiod's hub with an empty path component",
    spec: { components: { pilot: { hub: 'gcr.io//istio' } } },
    field: 'spec.components.pilot.hub',
    crd: true,
  },
  {
    cls: 'hub',
    what: 'the global hub with a trailing slash',
    spec: { values: { global: { hub: 'docker.io/istio/' } } },
    field: 'spec.values.global.hub',
    crd: true,
  },
  {
    cls: 'hub',
    what: "the pilot values' hub with a space",
    spec: { values: { pilot: { hub: 'ghcr.io/a b' } } },
    field: 'spec.values.pilot.hub',
    crd: true,
  },
  {
    cls: 'hub',
    what: "a gateway's hub with an uppercase path",
    spec: gw({}, { hub: 'UPPER.io/Istio' }),
    field: 'spec.components.ingressGateways[0].hub',
    crd: true,
  },
  {
    cls: 'hub',
    what: "the CNI agent's hub starting with a dash",
    spec: { components: { cni: { enabled: true, hub: '-bad.io/istio' } } },
    field: 'spec.components.cni.hub',
    crd: true,
  },
  {
    cls: 'hub',
    what: "ztunnel's hub with a digest",
    spec: { components: { ztunnel: { enabled: true, hub: 'docker.io/istio@sha256' } } },
    field: 'spec.components.ztunnel.hub',
    crd: true,
  },
  // profile
  { cls: 'profile', what: 'a profile that is a number', spec: { profile: 1 }, field: 'spec.profile', crd: true },
  { cls: 'profile', what: 'a profile that is a decimal number', spec: { profile: 1.3 }, field: 'spec.profile', crd: true },
  { cls: 'profile', what: 'a profile that is a boolean', spec: { profile: true }, field: 'spec.profile', crd: true },
  { cls: 'profile', what: 'a profile that is a list', spec: { profile: ['demo'] }, field: 'spec.profile', crd: true },
  // meshConfig field names (the release's MeshConfig decides: render time)
  {
    cls: 'meshConfig field',
    what: 'a misspelt meshConfig field',
    spec: { meshConfig: { accesLogFile: '/dev/stdout' } },
    field: 'spec.meshConfig.accesLogFile',
    crd: false,
  },
  {
    cls: 'meshConfig field',
    what: 'a meshConfig field with a typo at the end',
    spec: { meshConfig: { enableTracingg: true } },
    field: 'spec.meshConfig.enableTracingg',
    crd: false,
  },
  {
    cls: 'meshConfig field',
    what: 'a misspelt proxy setting in defaultConfig',
    spec: { meshConfig: { defaultConfig: { proxyMetaData: { A: 'b' } } } },
    field: 'spec.meshConfig.defaultConfig.proxyMetaData',
    crd: false,
  },
  {
    cls: 'meshConfig field',
    what: 'a meshConfig field only Istio 1.31 has, for 1.30',
    spec: { meshConfig: { serviceEntryVisibility: { applyToSidecars: true } } },
    field: 'spec.meshConfig.serviceEntryVisibility',
    crd: false,
  },
  {
    cls: 'meshConfig field',
    what: 'a misspelt field of values.meshConfig',
    spec: { values: { meshConfig: { accessLogFiles: '/dev/stdout' } } },
    field: 'spec.values.meshConfig.accessLogFiles',
    crd: false,
  },
  {
    cls: 'meshConfig field',
    what: 'an unknown field of outboundTrafficPolicy',
    spec: { meshConfig: { outboundTrafficPolicy: { modes: 'ALLOW_ANY' } } },
    field: 'spec.meshConfig.outboundTrafficPolicy.modes',
    crd: true,
  },
  {
    cls: 'meshConfig field',
    what: 'a misspelt nested tracing field',
    spec: { meshConfig: { defaultConfig: { tracing: { zipkin: { adress: 'zipkin:9411' } } } } },
    field: 'spec.meshConfig.defaultConfig.tracing.zipkin.adress',
    crd: false,
  },
  {
    cls: 'meshConfig field',
    what: 'an unknown field in an extension provider',
    spec: { meshConfig: { extensionProviders: [{ name: 'otel', envoyOtelAls: { service: 'otel.svc', port: 4317, foo: 1 } }] } },
    field: 'spec.meshConfig.extensionProviders[0].envoyOtelAls.foo',
    crd: false,
  },
  // meshConfig types
  {
    cls: 'meshConfig type',
    what: 'enableTracing as a string',
    spec: { meshConfig: { enableTracing: 'yes' } },
    field: 'spec.meshConfig.enableTracing',
    crd: true,
  },
  {
    cls: 'meshConfig type',
    what: 'an access log encoding that does not exist',
    spec: { meshConfig: { accessLogEncoding: 'XML' } },
    field: 'spec.meshConfig.accessLogEncoding',
    crd: true,
  },
  {
    cls: 'meshConfig type',
    what: 'a connectTimeout in minutes (protobuf durations are seconds)',
    spec: { meshConfig: { connectTimeout: '1m' } },
    field: 'spec.meshConfig.connectTimeout',
    crd: true,
  },
  {
    cls: 'meshConfig type',
    what: 'a proxy concurrency that is a word',
    spec: { meshConfig: { defaultConfig: { concurrency: 'two' } } },
    field: 'spec.meshConfig.defaultConfig.concurrency',
    crd: true,
  },
  {
    cls: 'meshConfig type',
    what: 'holdApplicationUntilProxyStarts as a string',
    spec: { meshConfig: { defaultConfig: { holdApplicationUntilProxyStarts: 'true' } } },
    field: 'spec.meshConfig.defaultConfig.holdApplicationUntilProxyStarts',
    crd: true,
  },
  {
    cls: 'meshConfig type',
    what: 'trustDomainAliases as a single string',
    spec: { meshConfig: { trustDomainAliases: 'a.local' } },
    field: 'spec.meshConfig.trustDomainAliases',
    crd: false,
  },
  {
    cls: 'meshConfig type',
    what: 'proxy metadata with a number value',
    spec: { meshConfig: { defaultConfig: { proxyMetadata: { ISTIO_META_DNS_CAPTURE: 1 } } } },
    field: 'spec.meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE',
    crd: true,
  },
  {
    cls: 'meshConfig type',
    what: 'an outbound traffic mode Istio 1.29 does not have',
    spec: { meshConfig: { outboundTrafficPolicy: { mode: 'ALLOW_ANY_DYNAMIC_DNS' } }, tag: '1.29.6' },
    field: 'spec.meshConfig.outboundTrafficPolicy.mode',
    crd: false,
  },
  {
    cls: 'meshConfig type',
    what: 'an outbound traffic mode that does not exist',
    spec: { meshConfig: { outboundTrafficPolicy: { mode: 'DENY' } } },
    field: 'spec.meshConfig.outboundTrafficPolicy.mode',
    crd: true,
  },
  {
    cls: 'meshConfig type',
    what: 'a drainDuration without its unit',
    spec: { meshConfig: { defaultConfig: { drainDuration: '45' } } },
    field: 'spec.meshConfig.defaultConfig.drainDuration',
    crd: true,
  },
  {
    cls: 'meshConfig type',
    what: 'an h2 upgrade policy that does not exist',
    spec: { meshConfig: { h2UpgradePolicy: 'YES' } },
    field: 'spec.meshConfig.h2UpgradePolicy',
    crd: false,
  },
  {
    cls: 'meshConfig type',
    what: 'localityLbSetting.enabled as a string',
    spec: { meshConfig: { localityLbSetting: { enabled: 'true' } } },
    field: 'spec.meshConfig.localityLbSetting.enabled',
    crd: false,
  },
  {
    cls: 'meshConfig type',
    what: 'values.meshConfig.enableAutoMtls as a string',
    spec: { values: { meshConfig: { enableAutoMtls: 'no' } } },
    field: 'spec.values.meshConfig.enableAutoMtls',
    crd: false,
  },
  // proxy settings
  {
    cls: 'proxy setting',
    what: 'privileged as a string',
    spec: proxy({ privileged: 'yes' }),
    field: 'spec.values.global.proxy.privileged',
    crd: true,
  },
  {
    cls: 'proxy setting',
    what: 'excluded inbound ports as a number (a string list is expected)',
    spec: proxy({ excludeInboundPorts: 8080 }),
    field: 'spec.values.global.proxy.excludeInboundPorts',
    crd: true,
  },
  {
    cls: 'proxy setting',
    what: 'holdApplicationUntilProxyStarts as a number',
    spec: proxy({ holdApplicationUntilProxyStarts: 1 }),
    field: 'spec.values.global.proxy.holdApplicationUntilProxyStarts',
    crd: true,
  },
  {
    cls: 'proxy setting',
    what: 'a proxy log level that does not exist',
    spec: proxy({ logLevel: 'verbose' }),
    field: 'spec.values.global.proxy.logLevel',
    crd: true,
  },
  {
    cls: 'proxy setting',
    what: 'a negative readiness failure threshold',
    spec: proxy({ readinessFailureThreshold: -3 }),
    field: 'spec.values.global.proxy.readinessFailureThreshold',
    crd: true,
  },
  {
    cls: 'proxy setting',
    what: 'autoInject "on" (enabled or disabled)',
    spec: proxy({ autoInject: 'on' }),
    field: 'spec.values.global.proxy.autoInject',
    crd: true,
  },
  {
    cls: 'proxy setting',
    what: 'includeIPRanges as a list',
    spec: proxy({ includeIPRanges: ['10.0.0.0/8'] }),
    field: 'spec.values.global.proxy.includeIPRanges',
    crd: true,
  },
  {
    cls: 'proxy setting',
    what: 'startupProbe.enabled as a string',
    spec: proxy({ startupProbe: { enabled: 'true' } }),
    field: 'spec.values.global.proxy.startupProbe.enabled',
    crd: false,
  },
  {
    cls: 'proxy setting',
    what: 'a readiness period with a unit',
    spec: proxy({ readinessPeriodSeconds: '10s' }),
    field: 'spec.values.global.proxy.readinessPeriodSeconds',
    crd: true,
  },
  {
    cls: 'proxy setting',
    what: 'enableCoreDump as a string',
    spec: proxy({ enableCoreDump: 'false' }),
    field: 'spec.values.global.proxy.enableCoreDump',
    crd: true,
  },
];

// At most this many cases at once: each runs the CLI and kubectl, and the machine has two cores.
const LIMIT = 3;
let running = 0;
const waiting: Array<() => void> = [];
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= LIMIT) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

const ns = uniqueName('bad-input');
test.before(async () => {
  await ensureCRD();
  const r = await kubectl(['create', 'namespace', ns]);
  if (r.code !== 0) throw new Error(r.stderr);
});
test.after.always(async () => {
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
});

test('the corpus covers every class of issue #18 item 6 with at least 60 cases, at render time and at kubectl apply', (t) => {
  t.true(CASES.length >= 60, `${CASES.length} cases`);
  const classes = new Set(CASES.map((c) => c.cls));
  t.deepEqual([...classes].sort(), [
    'hub',
    'meshConfig field',
    'meshConfig type',
    'percentage',
    'port',
    'profile',
    'proxy setting',
    'quantity',
  ]);
  for (const cls of classes)
    t.true(
      CASES.some((c) => c.cls === cls && c.crd),
      `${cls} is refused by the CRD in some case`,
    );
  t.log(`${CASES.length} cases, ${CASES.filter((c) => c.crd).length} also refused by the CRD at kubectl apply`);
});

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

CASES.forEach((c, i) => {
  test(`bad input #${i + 1} (${c.cls}): ${c.what} is refused${c.crd ? ' by install and by kubectl apply' : ' by install'}, naming ${c.field}`, (t) =>
    slot(async () => {
      const name = `bad-${i + 1}`;
      const istioNs = uniqueName(`bad-${i + 1}-istio`);
      const doc = {
        apiVersion: 'install.istio.io/v1alpha1',
        kind: 'IstioOperator',
        metadata: { name, namespace: ns },
        spec: { profile: 'minimal', namespace: istioNs, values: {}, ...c.spec },
      };
      if (c.spec.values)
        doc.spec.values = {
          ...(c.spec.values as object),
          global: { istioNamespace: istioNs, ...(((c.spec.values as any).global as object) ?? {}) },
        };
      else doc.spec.values = { global: { istioNamespace: istioNs } };
      const file = path.join(os.tmpdir(), `${ns}-${name}.json`);
      fs.writeFileSync(file, JSON.stringify(doc));
      t.teardown(() => fs.rmSync(file, { force: true }));

      const r = await cli(['install', '-f', file, '-y', '--wait=false']);
      t.is(r.code, 1, `install exit code; stderr: ${r.stderr}`);
      t.is(r.stdout, '', 'nothing on stdout');
      t.regex(r.stderr, new RegExp(`error: ${esc(c.field)}(: |\\.| )`), r.stderr);

      if (c.crd) {
        const k = await kubectl(['apply', '-f', file]);
        t.not(k.code, 0, `kubectl apply accepted it: ${k.stdout}`);
        t.regex(k.stderr, new RegExp(esc(c.field)), k.stderr);
      }
      // Nothing applied: no IstioOperator, no Istio namespace (the install's first write), nothing labelled as its own.
      const iop = await kubectl(['get', 'istiooperator', '-n', ns, name, '-o', 'name']);
      t.regex(iop.stderr, /NotFound/, `the IstioOperator exists: ${iop.stdout}`);
      const nsr = await kubectl(['get', 'namespace', istioNs, '-o', 'name']);
      t.regex(nsr.stderr, /NotFound/, `namespace ${istioNs} was created`);
      const owned = await kubectl([
        'get',
        'clusterroles,mutatingwebhookconfigurations,validatingwebhookconfigurations',
        '-l',
        `install.operator.istio.io/owning-resource=${name},install.operator.istio.io/owning-resource-namespace=${ns}`,
        '-o',
        'name',
      ]);
      t.is(owned.stdout.trim(), '', 'cluster-scoped objects of this owner');
    }));
});
