// The log check of the istiod tests (test/istio/logcheck.ts) and the mesh-config comparison (test/istio/subset.ts),
// on lines as istiod writes them. The integration side of the same proof is in test/integration/istio/profiles.test.ts:
// a real istiod fed a broken mesh config, where the check reports the line below and nothing else.
import test from 'ava';
import { configProblems, linesAt, parseLine, showProblems } from '../../istio/logcheck.js';
import { subsetMismatches } from '../../istio/subset.js';

// Lines as istiod 1.30.3 and 1.31.0-rc.0 logged them in the integration tests (times kept, pods' names shortened).
const READY = [
  '2026-12-04T20:16:56.911234Z\tinfo\tinitializing mesh configuration ./etc/istio/config/mesh',
  '2026-12-04T20:16:57.166817Z\twarn\tdiscovery is not ready',
  '2026-12-04T20:17:04.353767Z\twarn\tsidecar injector is not ready',
  '2026-12-04T20:17:01.911234Z\twarn\tconfig validation is not ready',
  '2026-12-04T20:06:46.100000Z\terror\tcontrollers\terror handling istio-validator-p-demo-istio-1-30-3-1a2b3c4d, retrying (retry count: 1): webhook is not ready, retry\tcontroller=validation',
  '2026-12-04T20:11:50.732172Z\terror\tcontrollers\terror handling istio-1-30-3-236d111e/istio-ca-root-cert, retrying (retry count: 1): error when updating configmap istio-ca-root-cert: Operation cannot be fulfilled on configmaps "istio-ca-root-cert": the object has been modified; please apply your changes to the latest version and try again\tcontroller=namespace controller',
];
/** istiod's whole reaction to `enableTracing: sometimes` in the mesh ConfigMap: one warning, then it is ready. */
const BROKEN_MESH =
  '2026-12-04T20:17:06.811159Z\twarn\tinvalid mesh config, using last known state: failed to convert to proto. json: cannot unmarshal string into Go value of type bool';

test('parseLine: level, scope and message of default-scope and scoped lines; other lines are not entries', (t) => {
  t.like(parseLine(READY[1]!), { level: 'warn', scope: '', message: 'discovery is not ready' });
  t.like(parseLine(READY[4]!), { level: 'error', scope: 'controllers' });
  t.regex(parseLine(READY[4]!)!.message, /^error handling .*\tcontroller=validation$/);
  t.like(parseLine(BROKEN_MESH), { level: 'warn', scope: '', message: BROKEN_MESH.split('\t')[2] });
  t.is(parseLine('$ /root/.cache/istio-operator/istio-1.30.3/pilot-discovery discovery --monitoringAddr=127.0.0.1:1'), undefined);
  t.is(parseLine('      - name: istio-proxy'), undefined, 'a line of a multi-line message');
});

test('a clean start has no problems: readiness warnings and the listed transient errors are not about our config', (t) => {
  t.deepEqual(configProblems(READY.join('\n')), []);
  t.is(linesAt(READY.join('\n'), 'warn').length, 3, 'the warnings are still there to print');
});

test('a broken mesh config, which istiod reports only as a warning, is a problem; an error-only grep misses it', (t) => {
  const log = [...READY, BROKEN_MESH].join('\n');
  t.deepEqual(configProblems(log), [{ kind: 'mesh config', line: BROKEN_MESH }]);
  t.deepEqual(
    linesAt(log, 'error').filter((l) => /mesh/.test(l)),
    [],
    'no error line says anything about the mesh config',
  );
});

test("istiod's other warnings about what we render: mesh validation, mesh networks, injector config, env", (t) => {
  const lines = {
    'mesh config': '2026-12-04T20:00:00.000000Z\twarn\twarnings occurred during mesh validation: proxy config: concurrency is deprecated',
    'mesh networks': '2026-12-04T20:00:00.000000Z\twarn\tinvalid mesh networks, using last known state: json: unknown field "netwroks"',
    'injector config':
      '2026-12-04T20:00:00.000000Z\twarn\tfailed to read injection config from ConfigMap: missing ConfigMap config key "config"',
    env: '2026-12-04T20:00:00.000000Z\twarn\tInvalid environment variable value `sometimes`, expecting true/false, defaulting to false',
  };
  for (const [kind, line] of Object.entries(lines))
    t.deepEqual(configProblems([...READY, line].join('\n')), [{ kind: kind as never, line }], kind);
});

test('any other error or fatal line is a problem, and so is a crash; a transient error is one only in its exact form', (t) => {
  const template =
    '2026-12-04T19:40:00.000000Z\terror\tinjection\tInjection failed: failed to run injection template: template: inject:336:84: executing "inject" at <.ProxyInitImage>: can\'t evaluate field ProxyInitImage in type *inject.SidecarTemplateData\tpod=shop/app';
  const fatal =
    '2026-12-04T19:40:00.000000Z\tfatal\tfailed to create discovery service: failed to create injection webhook: template: sidecar:3: unexpected "}"';
  const flag = 'Error: unknown flag: --no-such-flag';
  const panic = 'panic: runtime error: invalid memory address or nil pointer dereference';
  const otherRetry =
    '2026-12-04T20:06:46.100000Z\terror\tcontrollers\terror handling x, retrying (retry count: 1): permission denied\tcontroller=validation';
  // Two istiods patching one validator (two default revisions at once): the same conflict, again and again.
  const conflict = (n: number) =>
    `2026-12-04T20:19:08.609810Z\terror\tcontrollers\terror handling istiod-default-validator, retrying (retry count: ${n}): fail to update webhook: Operation cannot be fulfilled on validatingwebhookconfigurations.admissionregistration.k8s.io "istiod-default-validator": the object has been modified; please apply your changes to the latest version and try again\tcontroller=validation`;
  const detail =
    '2026-12-04T20:24:44.181292Z\terror\tvalidationController\tfailed to updated: Operation cannot be fulfilled on validatingwebhookconfigurations.admissionregistration.k8s.io "istio-validator-tag-b-istio-1-31-0-rc-0-62e93c65": the object has been modified; please apply your changes to the latest version and try again\tname=istio-validator-tag-b-istio-1-31-0-rc-0-62e93c65 resource version=644';
  t.like(parseLine(detail), { scope: 'validationController' });
  t.deepEqual(configProblems([detail, conflict(1), conflict(2), conflict(3)].join('\n')), [], 'a stale cache: retried, and done');
  const found = configProblems([template, fatal, flag, panic, otherRetry, conflict(4)].join('\n'));
  t.deepEqual(
    found.map((p) => p.kind),
    ['error', 'error', 'crash', 'crash', 'error', 'error'],
  );
  t.true(showProblems(found, 80).every((l) => l.length <= 80 + '[error] '.length + 3));
});

test("subsetMismatches: our fields against istiod's protobuf JSON", (t) => {
  const istiod = {
    enableTracing: true,
    defaultConfig: { concurrency: 2, proxyMetadata: {}, terminationDrainDuration: '5s' },
    trustDomain: 'cluster.local',
    extensionProviders: [
      { name: 'prometheus', prometheus: {} },
      { name: 'otel', opentelemetry: { port: 4317, service: 'otel.ns.svc' } },
    ],
    outboundTrafficPolicy: { mode: 'ALLOW_ANY' },
    maxConnectionAge: '1800s',
    protocolDetectionTimeout: '0s',
    defaultHttpRetryPolicy: { attempts: 2 },
  };
  const ours = {
    enableTracing: true,
    defaultConfig: { concurrency: 2, proxyMetadata: {} },
    // An int64 in protobuf JSON is a string.
    defaultHttpRetryPolicy: { attempts: '2' },
    // Merged by name onto istiod's defaults (prometheus first).
    extensionProviders: [{ name: 'otel', opentelemetry: { port: 4317, service: 'otel.ns.svc' } }],
    accessLogFile: '',
  };
  t.deepEqual(subsetMismatches(ours, istiod), []);
  t.deepEqual(subsetMismatches({ ...ours, enableTracing: false, trustDomain: 'example.org' }, istiod), [
    { path: '.enableTracing', ours: false, istiod: true },
    { path: '.trustDomain', ours: 'example.org', istiod: 'cluster.local' },
  ]);
  t.deepEqual(
    subsetMismatches(
      { resources: { requests: { memory: '2048Mi', cpu: '500m' } } },
      { resources: { requests: { memory: '2Gi', cpu: '0.5' } } },
    ),
    [{ path: '.resources.requests.cpu', ours: '500m', istiod: '0.5' }],
    'quantities in canonical form are equal; a bare number is not a quantity with a unit',
  );
  t.deepEqual(subsetMismatches({ extensionProviders: [{ name: 'jaeger', zipkin: {} }] }, istiod), [
    { path: '.extensionProviders[name=jaeger]', ours: { name: 'jaeger', zipkin: {} }, istiod: undefined },
  ]);
});
