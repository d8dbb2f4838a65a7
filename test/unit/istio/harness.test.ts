// The pure parts of the istiod harness and of the control plane's service proxy: quantities for the downward
// API, listener flags, JSON patches as webhooks send them, pod diffs, and how a CONNECT target is routed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { registerEndpoint } from '../../cluster/endpoints.js';
import { route, type ServiceInfo } from '../../cluster/serviceproxy.js';
import { applyJsonPatch, jsonDiff } from '../../istio/admission.js';
import { takeListenerFlags } from '../../istio/istiod.js';
import { localPath, quantity } from '../../istio/pod.js';

test('quantity: rounds up to the divisor, as the downward API does', (t) => {
  t.is(quantity('500m'), 1);
  t.is(quantity('2'), 2);
  t.is(quantity('1500m', '1m'), 1500);
  t.is(quantity('2Gi', '1Mi'), 2048);
  t.is(quantity(3), 3);
  t.throws(() => quantity('lots'), { message: /not a quantity/ });
});

test('takeListenerFlags: both flag forms removed, their ports kept as container ports, defaults otherwise', (t) => {
  const r = takeListenerFlags([
    'discovery',
    '--monitoringAddr=:15014',
    '--httpAddr',
    ':9090',
    '--kubeconfig=/x',
    '--domain',
    'cluster.local',
  ]);
  t.deepEqual(r.rest, ['discovery', '--domain', 'cluster.local']);
  t.is(r.containerPorts.monitoring, 15014);
  t.is(r.containerPorts.http, 9090);
  t.is(r.containerPorts.https, 15017);
  t.is(r.containerPorts.ctrlz, 9876);
});

test('localPath: a mount path under the work dir', (t) => {
  t.is(localPath('/w', '/var/run/secrets/tokens'), '/w/var/run/secrets/tokens');
});

test('applyJsonPatch: add/replace/remove with escapes and array appends, on a copy', (t) => {
  const doc = { metadata: { annotations: { a: '1' } }, spec: { containers: [{ name: 'app' }] } };
  const out = applyJsonPatch(doc, [
    { op: 'add', path: '/metadata/annotations/sidecar.istio.io~1status', value: '{}' },
    { op: 'add', path: '/spec/containers/-', value: { name: 'istio-proxy' } },
    { op: 'add', path: '/spec/initContainers', value: [{ name: 'istio-init' }] },
    { op: 'replace', path: '/metadata/annotations/a', value: '2' },
    { op: 'remove', path: '/spec/containers/0' },
  ]);
  t.deepEqual(out, {
    metadata: { annotations: { a: '2', 'sidecar.istio.io/status': '{}' } },
    spec: { containers: [{ name: 'istio-proxy' }], initContainers: [{ name: 'istio-init' }] },
  });
  t.deepEqual(doc.spec.containers, [{ name: 'app' }], 'input untouched');
});

test('jsonDiff: named lists compare by name, and report an order change only when the items are equal', (t) => {
  const a = {
    env: [
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
    ],
  };
  t.deepEqual(
    jsonDiff(a, {
      env: [
        { name: 'B', value: '2' },
        { name: 'A', value: '1' },
      ],
    }).map((d) => d.path),
    ['.env (order)'],
  );
  t.deepEqual(
    jsonDiff(a, {
      env: [
        { name: 'A', value: '9' },
        { name: 'B', value: '2' },
      ],
    }),
    [{ path: '.env[name=A].value', left: '1', right: '9' }],
  );
  t.deepEqual(jsonDiff(a, a), []);
});

test('route: a Service address goes to the local endpoint its selector and targetPort pick; others are refused with a reason', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'endpoints-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const services: ServiceInfo[] = [
    {
      namespace: 'istio-system',
      name: 'istiod',
      clusterIP: '10.96.0.10',
      selector: { app: 'istiod' },
      ports: [
        { port: 443, targetPort: 15017 },
        { port: 15014, targetPort: 'http-monitoring' },
      ],
    },
    { namespace: 'istio-system', name: 'other', clusterIP: '10.96.0.11', selector: { app: 'other' }, ports: [{ port: 443 }] },
  ];
  const list = async () => services;
  // This very process stands in for istiod: a live pid whose executable matches.
  const bin = fs.readFileSync('/proc/self/cmdline', 'utf8').split('\0')[0]!;
  const unregister = registerEndpoint(dir, {
    name: 'istiod-local',
    namespace: 'istio-system',
    labels: { app: 'istiod', istio: 'pilot' },
    ports: { '15017': 40001, '15014': 40002 },
    portNames: { 'http-monitoring': 15014 },
    pid: process.pid,
    bin,
  });
  t.like(await route('10.96.0.10:443', dir, list), { ok: true, host: '127.0.0.1', port: 40001 });
  t.like(await route('istiod.istio-system.svc:15014', dir, list), { ok: true, port: 40002 });
  t.like(await route('127.0.0.1:10250', dir, list), { ok: true, host: '127.0.0.1', port: 10250 });
  t.like(await route('10.96.0.11:443', dir, list), { ok: false });
  t.regex(((await route('10.96.0.11:443', dir, list)) as { reason: string }).reason, /no local process serves Service istio-system\/other/);
  t.regex(((await route('10.96.0.99:443', dir, list)) as { reason: string }).reason, /no Service has the address 10\.96\.0\.99/);
  t.regex(((await route('10.96.0.10:80', dir, list)) as { reason: string }).reason, /has no port 80/);
  unregister();
  t.like(await route('10.96.0.10:443', dir, list), { ok: false });
  // A registration naming a process that is gone is never routed to.
  registerEndpoint(dir, {
    name: 'dead',
    namespace: 'istio-system',
    labels: { app: 'istiod' },
    ports: { '15017': 1 },
    portNames: {},
    pid: 2 ** 22 + 1,
    bin,
  });
  t.like(await route('10.96.0.10:443', dir, list), { ok: false });
});

test('route: a Service without a selector goes to the local process that registered its EndpointSlice address, on the slice port named like the Service port', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'endpoints-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // A remote cluster's istiod Service (profile remote): no selector, an EndpointSlice naming the primary's address.
  const remote = (addresses: string[]): ServiceInfo => ({
    namespace: 'istio-system',
    name: 'istiod',
    clusterIP: '10.96.0.20',
    ports: [
      { name: 'tcp-istiod', port: 15012 },
      { name: 'tcp-webhook', port: 443, targetPort: 15017 },
    ],
    endpointSlices: [
      {
        addresses,
        ports: [
          { name: 'tcp-istiod', port: 15012 },
          { name: 'tcp-webhook', port: 15017 },
        ],
      },
    ],
  });
  const bin = fs.readFileSync('/proc/self/cmdline', 'utf8').split('\0')[0]!;
  const at = async (addresses: string[], target = '10.96.0.20:443') => route(target, dir, async () => [remote(addresses)]);
  t.regex(
    ((await at(['192.0.2.10'])) as { reason: string }).reason,
    /no selector and no local process serves its endpoints \(192\.0\.2\.10:15017\)/,
  );
  // The primary's istiod, registered at that address (in no namespace of this cluster).
  const unregister = registerEndpoint(dir, {
    name: 'istiod of c1',
    namespace: '',
    labels: {},
    ports: { '15017': 40017, '15012': 40012 },
    portNames: {},
    addresses: ['192.0.2.10'],
    pid: process.pid,
    bin,
  });
  t.like(await at(['192.0.2.10']), { ok: true, host: '127.0.0.1', port: 40017 });
  t.like(await at(['192.0.2.10'], 'istiod.istio-system.svc:15012'), { ok: true, host: '127.0.0.1', port: 40012 });
  t.like(await at(['192.0.2.99', '192.0.2.10']), { ok: true, port: 40017 }, 'the first address served');
  t.regex(((await at(['192.0.2.11'])) as { reason: string }).reason, /no local process serves its endpoints \(192\.0\.2\.11:15017\)/);
  const none = await route('10.96.0.20:443', dir, async () => [{ ...remote([]), endpointSlices: [] }]);
  t.regex((none as { reason: string }).reason, /has no selector and no EndpointSlice$/);
  const unnamed = await route('10.96.0.20:443', dir, async () => [
    { ...remote(['192.0.2.10']), endpointSlices: [{ addresses: ['192.0.2.10'], ports: [{ port: 15017 }] }] },
  ]);
  t.regex((unnamed as { reason: string }).reason, /no EndpointSlice port named "tcp-webhook"/);
  // An address registration takes no part in selector routing (no namespace, no labels).
  t.like(
    await route('10.96.0.10:443', dir, async () => [
      { namespace: 'istio-system', name: 'x', clusterIP: '10.96.0.10', selector: { app: 'istiod' }, ports: [{ port: 443 }] },
    ]),
    { ok: false },
  );
  unregister();
  t.like(await at(['192.0.2.10']), { ok: false });
});
