import test from 'ava';
import { Informer, type ListWatchSource, type WatchEvent, type KObject } from '../../../operator/controller/informer.js';
import { contentChanged, isMeaningfulUpdate, slimForCache } from '../../../operator/controller/filter.js';

type Obj = KObject;
const obj = (name: string, rv: string, extra: Record<string, unknown> = {}): Obj => ({
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', resourceVersion: rv },
  ...extra,
});

/** A scripted apiserver: each list returns the current items; watches are driven by the test. */
class FakeSource implements ListWatchSource<Obj> {
  items: Obj[] = [];
  rv = '1';
  lists = 0;
  listErrors = 0;
  watchFromRv: string[] = [];
  current?: { onEvent: (e: WatchEvent<Obj>) => void; onDone: (err: unknown) => void };
  async list() {
    this.lists++;
    if (this.listErrors > 0) {
      this.listErrors--;
      throw new Error('connection refused');
    }
    return { items: this.items.map((x) => structuredClone(x)), resourceVersion: this.rv };
  }
  async watch(rv: string, onEvent: (e: WatchEvent<Obj>) => void, onDone: (err: unknown) => void) {
    this.watchFromRv.push(rv);
    this.current = { onEvent, onDone };
    return () => onDone(null);
  }
}
const tick = () => new Promise((r) => setTimeout(r, 5));
async function until(cond: () => boolean, ms = 2000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await tick();
  }
}

function recorder(inf: Informer<Obj>) {
  const events: string[] = [];
  inf.on({
    add: (o) => events.push(`add ${o.metadata!.name}`),
    update: (_o, n) => events.push(`update ${n.metadata!.name}`),
    delete: (o) => events.push(`delete ${o.metadata!.name}`),
  });
  return events;
}

test('lists, then streams add/update/delete into the cache', async (t) => {
  const src = new FakeSource();
  src.items = [obj('a', '1')];
  const inf = new Informer(src, { name: 't', baseDelayMs: 1 });
  const ev = recorder(inf);
  await inf.start();
  t.deepEqual(ev, ['add a']);
  await until(() => !!src.current);
  t.deepEqual(src.watchFromRv, ['1']);
  src.current!.onEvent({ type: 'ADDED', object: obj('b', '2') });
  src.current!.onEvent({ type: 'MODIFIED', object: obj('a', '3') });
  src.current!.onEvent({ type: 'DELETED', object: obj('b', '4') });
  t.deepEqual(ev, ['add a', 'add b', 'update a', 'delete b']);
  t.deepEqual(inf.keys(), ['ns/a']);
  t.is(inf.get('ns/a')!.metadata!.resourceVersion, '3');
  inf.stop();
});

test('a dropped watch resumes from the last resourceVersion without relisting', async (t) => {
  const src = new FakeSource();
  const inf = new Informer(src, { name: 't', baseDelayMs: 1 });
  await inf.start();
  await until(() => !!src.current);
  src.current!.onEvent({ type: 'ADDED', object: obj('a', '7') });
  src.current!.onDone(new Error('ECONNRESET'));
  await until(() => src.watchFromRv.length === 2);
  t.deepEqual(src.watchFromRv, ['1', '7']);
  t.is(src.lists, 1);
  t.is(inf.stats.errors, 1);
  inf.stop();
});

test('410 Gone relists and reports objects deleted while disconnected', async (t) => {
  const src = new FakeSource();
  src.items = [obj('a', '1'), obj('b', '1')];
  const inf = new Informer(src, { name: 't', baseDelayMs: 1 });
  const ev = recorder(inf);
  await inf.start();
  await until(() => !!src.current);
  src.items = [obj('a', '9')];
  src.rv = '9';
  // The apiserver sends an ERROR event with code 410, then closes the stream.
  src.current!.onEvent({ type: 'ERROR', object: { code: 410 } as any });
  src.current!.onDone(null);
  await until(() => src.watchFromRv.length === 2);
  t.is(src.lists, 2);
  t.deepEqual(ev, ['add a', 'add b', 'update a', 'delete b']);
  t.deepEqual(src.watchFromRv, ['1', '9']);
  // A watch that fails with HTTP 410 relists too.
  src.current!.onDone(Object.assign(new Error('Gone'), { statusCode: 410 }));
  await until(() => src.watchFromRv.length === 3);
  t.is(src.lists, 3);
  t.is(inf.stats.relists410, 1);
  inf.stop();
});

test('list errors retry with backoff until the apiserver answers', async (t) => {
  const src = new FakeSource();
  src.listErrors = 3;
  const inf = new Informer(src, { name: 't', baseDelayMs: 1, maxDelayMs: 5 });
  await inf.start();
  t.is(src.lists, 4);
  t.true(inf.hasSynced);
  inf.stop();
});

test('stop ends the loop: no restart after the stream closes', async (t) => {
  const src = new FakeSource();
  const inf = new Informer(src, { name: 't', baseDelayMs: 1 });
  await inf.start();
  await until(() => !!src.current);
  inf.stop();
  src.current!.onDone(new Error('late'));
  await tick();
  t.is(src.watchFromRv.length, 1);
});

test('event filter ignores status, resourceVersion, managedFields, caBundle and validating failurePolicy', (t) => {
  const vwc = (rv: string, ca: string, fp: string) => ({
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'istio-validator', resourceVersion: rv, managedFields: [{ manager: rv }] },
    webhooks: [{ name: 'v', clientConfig: { caBundle: ca, service: { name: 'istiod' } }, failurePolicy: fp }],
  });
  t.false(isMeaningfulUpdate(vwc('1', '', 'Ignore'), vwc('2', 'Q0E=', 'Fail')));
  const mwc = (ca: string, fp: string) => ({
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'm' },
    webhooks: [{ clientConfig: { caBundle: ca }, failurePolicy: fp }],
  });
  t.false(isMeaningfulUpdate(mwc('', 'Fail'), mwc('Q0E=', 'Fail')));
  t.true(isMeaningfulUpdate(mwc('', 'Fail'), mwc('', 'Ignore')), 'nobody flips the mutating one: a change there is drift');
  const iop = (gen: number, status: string, spec: unknown) => ({
    kind: 'IstioOperator',
    metadata: { name: 'x', generation: gen },
    spec,
    status: { status },
  });
  t.false(isMeaningfulUpdate(iop(1, 'RECONCILING', { a: 1 }), iop(1, 'HEALTHY', { a: 1 })), 'our own status writes');
  t.true(isMeaningfulUpdate(iop(1, 'HEALTHY', { a: 1 }), iop(2, 'HEALTHY', { a: 2 })));
  const cm = (data: unknown) => ({ kind: 'ConfigMap', metadata: { name: 'istio' }, data });
  t.true(isMeaningfulUpdate(cm({ mesh: 'a' }), cm({ mesh: 'b' })), 'an edited owned object is drift');
  const dep = (ready: number, extra = {}) => ({
    kind: 'Deployment',
    metadata: { name: 'istiod', resourceVersion: String(ready) },
    spec: {},
    status: { readyReplicas: ready, ...extra },
  });
  t.true(isMeaningfulUpdate(dep(0), dep(1)), 'readiness moves the install to HEALTHY');
  t.false(isMeaningfulUpdate(dep(1), dep(1, { collisionCount: 0 })));
});

test('the slim cache keeps identity, readiness, webhook targets and endpoints, drops content, and still detects drift', (t) => {
  const cm = (data: string, rv: string) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'istio-sidecar-injector', namespace: 'istio-system', resourceVersion: rv, labels: { a: 'b' }, managedFields: [{}] },
    data: { config: data },
  });
  const a = slimForCache(cm('x'.repeat(50_000), '1'));
  t.is((a as any).data, undefined);
  t.true(JSON.stringify(a).length < 500);
  t.deepEqual(a.metadata!.labels, { a: 'b' });
  t.is(a.metadata!.resourceVersion, '1');
  t.false(isMeaningfulUpdate(a, slimForCache(cm('x'.repeat(50_000), '2'))), 'same content, new resourceVersion');
  t.true(isMeaningfulUpdate(a, slimForCache(cm('tampered', '3'))), 'edited content is drift');
  t.true(contentChanged(a, slimForCache(cm('tampered', '3'))));
  const dep = (ready: number) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'istiod' },
    spec: { replicas: 1, template: { spec: { containers: [{ name: 'discovery' }] } } },
    status: { readyReplicas: ready },
  });
  const d = slimForCache(dep(0)) as any;
  t.deepEqual(d.spec, { replicas: 1 });
  t.false(contentChanged(d, slimForCache(dep(1))), 'readiness is not content');
  t.true(isMeaningfulUpdate(d, slimForCache(dep(1))), 'but it is meaningful');
  // Where a webhook calls is kept (readiness judges it, apply/objectready.ts); the caBundle istiod writes is not.
  const service = { name: 'istiod', namespace: 'istio-system', path: '/validate' };
  const vwc = slimForCache({
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'v' },
    webhooks: [{ name: 'w', failurePolicy: 'Fail', clientConfig: { caBundle: 'x', service } }],
  } as any) as any;
  t.deepEqual(vwc.webhooks, [{ name: 'w', failurePolicy: 'Fail', clientConfig: { service } }]);
  const ep = slimForCache({
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'istiod', namespace: 'istio-system' },
    subsets: [{ addresses: [{ ip: '192.0.2.10' }], ports: [{ port: 15012 }] }],
  } as any) as any;
  t.deepEqual(ep.subsets, [{ addresses: [{ ip: '192.0.2.10' }], ports: [{ port: 15012 }] }]);
});

test('annotations other controllers write in reaction to our applies are not drift', (t) => {
  const dep = (rev: string, extra: Record<string, string> = {}) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'istiod', annotations: { 'deployment.kubernetes.io/revision': rev, ...extra } },
    spec: { template: { metadata: { annotations: { 'ca.operator.istio.io/reloaded-at': rev } } } },
  });
  t.false(isMeaningfulUpdate(dep('1'), dep('2')));
  t.true(isMeaningfulUpdate(dep('1'), dep('1', { 'prometheus.io/scrape': 'false' })));
  const ds = (gen: string, status: Record<string, number> = {}) => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'ztunnel', annotations: { 'deprecated.daemonset.template.generation': gen } },
    status,
  });
  t.false(isMeaningfulUpdate(ds('1'), ds('2')), "the DaemonSet controller's generation stamp");
  t.true(
    isMeaningfulUpdate(ds('1', { numberAvailable: 0 }), ds('1', { numberAvailable: 1 })),
    'a node agent becoming available moves the status',
  );
  t.true(
    isMeaningfulUpdate(slimForCache(ds('1', { numberAvailable: 0 }) as any), slimForCache(ds('1', { numberAvailable: 1 }) as any)),
    'also from the slim cache',
  );
});

test('backoff: an unreachable or restarting API server is retried at most ~1 s apart; a refused request backs off to the cap', async (t) => {
  const { UnreachableError, ApiError, WatchIdleError } = await import('../../../operator/apply/client.js');
  const delays = (err: Error, n: number) => {
    const seen: number[] = [];
    const clock = { now: () => Date.now(), setTimeout: (_fn: () => void, ms: number) => (seen.push(ms), 0), clearTimeout: () => {} };
    const src = {
      list: async () => {
        throw err;
      },
      watch: async () => () => {},
    } as ListWatchSource<Obj>;
    const inf = new Informer(src, { name: 't', clock });
    void inf.start();
    // Each retry is driven by hand: the fake clock records the delay and never fires.
    for (let i = 1; i < n; i++) (inf as any).retry(err);
    inf.stop();
    return seen;
  };
  return new Promise<void>((resolve) =>
    setTimeout(() => {
      const refused = delays(new UnreachableError('cannot reach', 'ECONNREFUSED'), 10);
      t.true(refused.length >= 9);
      t.true(
        refused.every((ms) => ms <= 1_200),
        `transient delays ${refused.map(Math.round).join(',')}`,
      );
      const unavailable = delays(new ApiError('x', 503, 'ServiceUnavailable', undefined, 'list', '/'), 10);
      t.true(unavailable.every((ms) => ms <= 1_200));
      const forbidden = delays(new ApiError('x', 403, 'Forbidden', undefined, 'list', '/'), 10);
      t.true(Math.max(...forbidden) > 25_000, `forbidden delays ${forbidden.map(Math.round).join(',')}`);
      const idle = delays(new WatchIdleError('silent'), 3);
      t.true(
        idle.slice(1).every((ms) => ms === 0),
        'a silent watch is reopened at once',
      );
      resolve();
    }, 20),
  );
});
