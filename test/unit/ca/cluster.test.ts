import test from 'ava';
import { InputError } from '../../../operator/api/errors.js';
import { emptyCounts, writesOf, type KubeClient } from '../../../operator/apply/client.js';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import type { CaSpec } from '../../../operator/api/types.js';
import { prepareCa } from '../../../operator/ca/cluster.js';
import { ANNOTATION_RELOADED } from '../../../operator/ca/kube.js';
import { overlapFor, planCa } from '../../../operator/ca/rotation.js';
import { DEFAULT_CA_SETTINGS, ROOT_SECRET, caSettingsFrom } from '../../../operator/ca/settings.js';
import { readCaStatus, targetFromCluster } from '../../../operator/ca/status.js';
import { ANNOTATION_SETTINGS, CaSecretError, ROOT_KEYS, caTargetFrom, eventReason } from '../../../operator/ca/types.js';

import { render } from '../../../operator/render/index.js';
import { LABEL_OWNER_NAME } from '../../../operator/api/labels.js';

// prepareCa's decisions against an in-memory apiserver (secrets and namespaces only; an apply replaces
// what we declare, as server-side apply does for fields only we manage). The real apiserver is in
// test/integration/ca.

class FakeCluster {
  readonly counts = emptyCounts();
  readonly objects = new Map<string, any>();
  readonly requests: string[] = [];
  constructor(namespaces: string[] = []) {
    for (const n of namespaces) this.objects.set(`/api/v1/namespaces/${n}`, { metadata: { name: n } });
  }
  async request(method: string, path: string, opts: { body?: any; allow404?: boolean } = {}): Promise<any> {
    this.requests.push(`${method} ${path}`);
    if (method === 'GET' && path.endsWith('/deployments')) {
      this.counts.list++;
      return { items: [...this.objects.entries()].filter(([k]) => k.startsWith(path + '/')).map(([, v]) => structuredClone(v)) };
    }
    if (method === 'PATCH' && path.includes('/deployments/')) {
      this.counts.patch++;
      const d = this.objects.get(path);
      Object.assign(((d.spec.template.metadata ??= {}).annotations ??= {}), opts.body.spec.template.metadata.annotations);
      return undefined;
    }
    if (method === 'GET') {
      this.counts.get++;
      const o = this.objects.get(path);
      if (!o && !opts.allow404) throw new Error(`404 ${path}`);
      return o === undefined ? undefined : structuredClone(o);
    }
    if (method === 'PATCH') {
      this.counts.patch++;
      const ns = path.split('/')[4];
      if (!this.objects.has(`/api/v1/namespaces/${ns}`)) throw new Error(`namespace ${ns} not found`);
      const prev = this.objects.get(path);
      this.objects.set(path, {
        ...structuredClone(opts.body),
        metadata: { ...structuredClone(opts.body.metadata), resourceVersion: String(Number(prev?.metadata.resourceVersion ?? 0) + 1) },
      });
      return undefined;
    }
    if (method === 'POST') {
      this.counts.create++;
      this.objects.set(`${path}/${opts.body.metadata.name}`, opts.body);
      return undefined;
    }
    throw new Error(`unexpected ${method} ${path}`);
  }
  resetCounts(): void {
    Object.assign(this.counts, emptyCounts());
  }
  secret(ns: string, name: string): any {
    return this.objects.get(`/api/v1/namespaces/${ns}/secrets/${name}`);
  }
  get client(): KubeClient {
    return this as unknown as KubeClient;
  }
}

const iop = (ca: CaSpec, extra: Record<string, unknown> = {}) =>
  resolveIstioOperator({
    files: [
      {
        name: 'x',
        text: JSON.stringify({
          apiVersion: 'install.istio.io/v1alpha1',
          kind: 'IstioOperator',
          metadata: { name: 'mesh' },
          spec: { namespace: 'istio-system', components: { ca }, ...extra },
        }),
      },
    ],
  }).install;

test('istiod and external modes make no request at all', async (t) => {
  for (const ca of [{ mode: 'istiod' }, { mode: 'external', address: 'istio-csr.cert-manager.svc:443' }] as CaSpec[]) {
    const f = new FakeCluster();
    const r = await prepareCa(f.client, iop(ca));
    t.is(r.outcome, 'none');
    t.deepEqual(f.requests, []);
  }
});

test('operator mode creates the namespace if needed, then two secrets; nothing the second time', async (t) => {
  const f = new FakeCluster();
  const i = iop({ mode: 'operator', keyType: 'ECDSA' });
  const r = await prepareCa(f.client, i);
  t.is(r.outcome, 'created');
  t.is(eventReason(r.outcome), 'CACreated');
  t.true(f.requests.includes('POST /api/v1/namespaces'));
  t.is(f.secret('istio-system', 'cacerts').metadata.labels[LABEL_OWNER_NAME], 'mesh');
  t.deepEqual(Object.keys(f.secret('istio-system', ROOT_SECRET).data).sort(), [ROOT_KEYS.cert, ROOT_KEYS.key].sort());
  f.resetCounts();
  const again = await prepareCa(f.client, i);
  t.is(again.outcome, 'none');
  t.is(eventReason(again.outcome), undefined);
  t.is(writesOf(f.counts), 0);
  t.is(f.counts.get, 2);
});

test('dry run decides and reports, writes nothing', async (t) => {
  const f = new FakeCluster(['istio-system']);
  const r = await prepareCa(f.client, iop({ mode: 'operator', keyType: 'ECDSA' }), new Date(), { dryRun: true });
  t.is(r.outcome, 'created');
  t.deepEqual(r.written, ['istio-system/istio-operator-ca-root', 'istio-system/cacerts']);
  t.regex(r.message, /dry run: nothing written/);
  t.is(writesOf(f.counts), 0);
  t.is(f.secret('istio-system', 'cacerts'), undefined);
});

test('a second IstioOperator (a canary revision) shares the CA without relabelling it', async (t) => {
  const f = new FakeCluster(['istio-system']);
  await prepareCa(f.client, iop({ mode: 'operator', keyType: 'ECDSA' }));
  f.resetCounts();
  const canary = resolveIstioOperator({
    files: [
      {
        name: 'x',
        text: JSON.stringify({
          apiVersion: 'install.istio.io/v1alpha1',
          kind: 'IstioOperator',
          metadata: { name: 'canary' },
          spec: { revision: 'canary', components: { ca: { mode: 'operator', keyType: 'ECDSA' } } },
        }),
      },
    ],
  }).install;
  const r = await prepareCa(f.client, canary);
  t.is(r.outcome, 'none');
  t.is(writesOf(f.counts), 0);
  t.is(f.secret('istio-system', 'cacerts').metadata.labels[LABEL_OWNER_NAME], 'mesh');
});

test('ca rotate: the intermediate on request; --root starts a rotation once, and only in operator mode', async (t) => {
  const f = new FakeCluster(['istio-system']);
  const i = iop({ mode: 'operator', keyType: 'ECDSA' });
  await prepareCa(f.client, i);
  const before = f.secret('istio-system', 'cacerts').data['ca-cert.pem'];
  const r = await prepareCa(f.client, i, new Date(), { rotate: 'intermediate' });
  t.is(r.outcome, 'renewed');
  t.not(f.secret('istio-system', 'cacerts').data['ca-cert.pem'], before);
  t.is((await prepareCa(f.client, i, new Date(), { rotate: 'root' })).outcome, 'rotation-started');
  const again = await t.throwsAsync(prepareCa(f.client, i, new Date(), { rotate: 'root' }), { instanceOf: InputError });
  t.regex(again!.message, /already in progress \(phase trust-both/);
  const e = await t.throwsAsync(prepareCa(new FakeCluster().client, iop({ mode: 'provided' }), new Date(), { rotate: 'intermediate' }), {
    instanceOf: InputError,
  });
  t.is(e!.issues[0]!.path, 'spec.components.ca.mode');
  t.regex(e!.issues[0]!.hint ?? '', /replace the certificates in secret istio-system\/cacerts/);
});

test('operator mode refuses to let istiod mount the root secret', async (t) => {
  const e = await t.throwsAsync(prepareCa(new FakeCluster().client, iop({ mode: 'operator', secretName: ROOT_SECRET })), {
    instanceOf: InputError,
  });
  t.is(e!.issues[0]!.path, 'spec.components.ca.secretName');
});

test('a damaged root secret is an error naming the key, never a reason to make a new root', async (t) => {
  const f = new FakeCluster(['istio-system']);
  const i = iop({ mode: 'operator', keyType: 'ECDSA' });
  await prepareCa(f.client, i);
  const root = f.secret('istio-system', ROOT_SECRET);
  delete root.data[ROOT_KEYS.key];
  f.resetCounts();
  const e = await t.throwsAsync(prepareCa(f.client, i), { instanceOf: CaSecretError });
  t.is(e!.issues[0]!.path, `secret istio-system/${ROOT_SECRET}: ${ROOT_KEYS.key}`);
  t.regex(e!.issues[0]!.hint ?? '', /backup/);
  t.is(writesOf(f.counts), 0);
  const report = await readCaStatus(f.client, { namespace: 'istio-system' });
  t.is(report.mode, 'operator');
  t.true(report.issues.some((x) => x.path.endsWith(ROOT_KEYS.key)));
});

test('settings are recorded on the root secret, so ca rotate and ca status work without the file', async (t) => {
  const f = new FakeCluster(['istio-system']);
  await prepareCa(
    f.client,
    iop({ mode: 'operator', keyType: 'ECDSA', keySize: 384, intermediateLifetime: '2160h', secretName: 'mesh-ca' }),
  );
  t.truthy(f.secret('istio-system', ROOT_SECRET).metadata.annotations[ANNOTATION_SETTINGS]);
  const target = await targetFromCluster(f.client, 'istio-system');
  t.is(target?.secretName, 'mesh-ca');
  t.is(target?.settings.keySize, 384);
  t.is(target?.settings.intermediateLifetimeMs, 90 * 86_400_000);
  t.is(target?.labels[LABEL_OWNER_NAME], 'mesh');
  t.is(await targetFromCluster(f.client, 'elsewhere'), undefined);
  const report = await readCaStatus(f.client, { namespace: 'istio-system' });
  t.is(report.secretName, 'mesh-ca');
  t.deepEqual(report.issues, []);
  t.truthy(report.nextCheck);
});

test('status guesses the mode from the secrets: istiod with a leftover cacerts is warned about', async (t) => {
  const f = new FakeCluster(['istio-system']);
  await prepareCa(f.client, iop({ mode: 'operator', keyType: 'ECDSA' }));
  f.objects.delete(`/api/v1/namespaces/istio-system/secrets/${ROOT_SECRET}`);
  const r = await readCaStatus(f.client, { namespace: 'istio-system', target: caTargetFrom(iop({ mode: 'istiod' })) });
  t.is(r.mode, 'istiod');
  t.true(r.warnings.some((w) => /uses it instead of its self-signed CA/.test(w.message)));
  const guessed = await readCaStatus(f.client, { namespace: 'istio-system' });
  t.is(guessed.mode, 'provided');
});

test('rotation plan during trust-both: an expiring intermediate is renewed from the old root, or switched when the old root is nearly gone', (t) => {
  const s = { ...DEFAULT_CA_SETTINGS, renewBeforeMs: 10 * 86_400_000 };
  const now = new Date('2030-01-01T00:00:00Z');
  const d = (n: number) => new Date(now.getTime() + n * 86_400_000);
  const st = {
    rootNotAfter: d(3650),
    intermediateNotAfter: d(5),
    intermediateFromCurrentRoot: false,
    phase: 'trust-both' as const,
    phaseSince: d(-0.5),
  };
  t.is(planCa({ ...st, previousRootNotAfter: d(100) }, s, now).kind, 'renew-intermediate');
  t.is(planCa({ ...st, previousRootNotAfter: d(3) }, s, now).kind, 'switch-intermediate');
});

test('the overlap shrinks for short-lived roots so a fresh root is not due for rotation at once', (t) => {
  const s = caSettingsFrom({ rootLifetime: '1h', intermediateLifetime: '2m', renewBefore: '1m' });
  const o = overlapFor(s, 86_400_000);
  t.true(o < 86_400_000);
  t.true(s.renewBeforeMs + 2 * o < s.rootLifetimeMs);
  t.is(overlapFor(DEFAULT_CA_SETTINGS, 86_400_000), 86_400_000);
});

test('settings errors name the field for every mode', (t) => {
  const e = t.throws(() => caTargetFrom(iop({ mode: 'istiod', rootLifetime: '1h', intermediateLifetime: '2h' })), {
    instanceOf: InputError,
  });
  t.is(e!.issues[0]!.path, 'spec.components.ca.intermediateLifetime');
});

test('istiod mounts the CA secret in operator and provided modes; the root secret is mounted by nothing', (t) => {
  for (const [ca, name, optional] of [
    [{ mode: 'operator' }, 'cacerts', false],
    [{ mode: 'provided', secretName: 'my-ca' }, 'my-ca', false],
    [{ mode: 'istiod' }, 'cacerts', true],
  ] as Array<[CaSpec, string, boolean]>) {
    const objects = render(iop(ca)).objects;
    const pod = (objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'istiod') as any).spec.template.spec;
    const vol = pod.volumes.find((v: any) => v.name === 'cacerts');
    t.is(vol.secret.secretName, name, ca.mode);
    t.is(!!vol.secret.optional, optional, ca.mode);
    t.truthy(pod.containers[0].volumeMounts.find((m: any) => m.name === 'cacerts' && m.mountPath === '/etc/cacerts' && m.readOnly));
    t.false(JSON.stringify(objects).includes(ROOT_SECRET));
  }
  const ext = render(iop({ mode: 'external', address: 'istio-csr.cert-manager.svc:443' })).objects;
  const env = (ext.find((o) => o.kind === 'Deployment' && o.metadata.name === 'istiod') as any).spec.template.spec.containers[0].env;
  const byName = Object.fromEntries(env.map((e: any) => [e.name, e.value]));
  t.is(byName.CA_ADDR, 'istio-csr.cert-manager.svc:443');
  t.is(byName.EXTERNAL_CA, 'ISTIOD_RA_KUBERNETES_API');
  t.is(byName.ENABLE_CA_SERVER, 'false');
});

test('istiod Deployments that mount cacerts are restarted when it changes, and only then', async (t) => {
  const f = new FakeCluster(['istio-system']);
  const i = iop({ mode: 'operator', keyType: 'ECDSA' });
  for (const o of render(i).objects.filter((o) => o.kind === 'Deployment'))
    f.objects.set(`/apis/apps/v1/namespaces/istio-system/deployments/${o.metadata.name}`, structuredClone(o));
  const other = {
    metadata: { name: 'istiod-other' },
    spec: { template: { spec: { volumes: [{ name: 'x', secret: { secretName: 'unrelated' } }] } } },
  };
  f.objects.set('/apis/apps/v1/namespaces/istio-system/deployments/istiod-other', other);
  const istiod = () => f.objects.get('/apis/apps/v1/namespaces/istio-system/deployments/istiod');
  const created = await prepareCa(f.client, i);
  t.deepEqual(created.restarted, [], 'a CA made before istiod exists needs no restart');
  t.is(istiod().spec.template.metadata?.annotations?.[ANNOTATION_RELOADED], undefined);
  const now = new Date('2031-01-01T00:00:00Z');
  const r = await prepareCa(f.client, i, now, { rotate: 'intermediate' });
  t.deepEqual(r.restarted, ['istio-system/istiod']);
  t.regex(r.message, /restarted deployment istio-system\/istiod/);
  t.is(istiod().spec.template.metadata.annotations[ANNOTATION_RELOADED], now.toISOString());
  t.is(f.objects.get('/apis/apps/v1/namespaces/istio-system/deployments/istiod-other').spec.template.metadata, undefined);
  f.resetCounts();
  t.deepEqual((await prepareCa(f.client, i, now)).restarted, []);
  t.is(writesOf(f.counts), 0);
  t.is(f.counts.list, 0);
});

test('the CA secrets live where istiod runs, as render places it', (t) => {
  for (const [extra, ns] of [
    [{ namespace: 'foo' }, 'foo'],
    [{ namespace: undefined, values: { global: { istioNamespace: 'bar' } } }, 'bar'],
    [{ namespace: undefined, components: { pilot: { namespace: 'baz' }, ca: { mode: 'operator' } } }, 'baz'],
  ] as Array<[Record<string, unknown>, string]>) {
    const i = iop({ mode: 'operator' }, extra);
    const istiod = render(i).objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'istiod')!;
    t.is(istiod.metadata.namespace, ns);
    t.is(caTargetFrom(i).namespace, ns);
  }
});

test('a cacerts changed behind our back is checked again (the remembered check is per resourceVersion) and repaired', async (t) => {
  const f = new FakeCluster(['istio-system']);
  const i = iop({ mode: 'operator', keyType: 'ECDSA' });
  await prepareCa(f.client, i);
  t.is((await prepareCa(f.client, i)).outcome, 'none');
  const ca = f.secret('istio-system', 'cacerts');
  const root = f.secret('istio-system', ROOT_SECRET);
  ca.data['ca-key.pem'] = root.data[ROOT_KEYS.key];
  ca.metadata.resourceVersion = String(Number(ca.metadata.resourceVersion) + 1);
  const r = await prepareCa(f.client, i);
  t.is(r.outcome, 'renewed');
  t.regex(r.message, /ca-key.pem: does not match the certificate in ca-cert.pem/);
  t.notRegex(JSON.stringify(r), /PRIVATE KEY/);
  t.is((await prepareCa(f.client, i)).outcome, 'none');
});
