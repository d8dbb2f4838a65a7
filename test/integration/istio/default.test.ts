// The real istiod of each tested release, run from our default-profile install (default revision, as
// `istio-operator install` with no revision makes it): it must become ready on our config, inject pods and
// validate Istio config through the API server (the rendered webhook configurations, untouched), and do its own
// housekeeping on our objects: caBundle, failurePolicy, istio-ca-root-cert.
//
// This file owns the default revision and what `istio-injection=enabled` selects, cluster-wide: no other test file
// may install without a revision while it runs (npm test runs the istio files after the others).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import { isOurs } from '../../cluster/pid.js';
import type { Istiod } from '../../istio/istiod.js';
import { testedReleases } from '../../istio/releases.js';
import { testKubeconfig, waitFor } from '../helpers/cluster.js';
import {
  appPod,
  cleanupMark,
  client,
  containerNames,
  counter,
  installIstio,
  logLines,
  namespace,
  logProblems,
  runIstiod,
  stopAll,
  stopSince,
  type IstioInstall,
} from './_istio.js';

test.after.always(stopAll);

interface Fixture {
  inst: IstioInstall;
  istiod: Istiod;
}
const fixtures = new Map<string, Promise<Fixture>>();
/** The release whose install is in the cluster, and where its cleanups start. */
let current: { release: string; mark: number } | undefined;

/**
 * One install and one istiod per release (the first test to ask pays for it), one release at a time: each is the
 * cluster's default revision, and two default revisions at once are no cluster anyone runs (their istiods would
 * patch each other's default validator and revision tag, and both tags would inject the same namespaces). The
 * tests run release by release, so moving to the next release uninstalls the previous one first.
 */
function fixture(t: ExecutionContext, release: string): Promise<Fixture> {
  t.timeout(300_000, `installing the default profile and starting istiod ${release}`);
  let f = fixtures.get(release);
  if (!f) {
    f = (async () => {
      if (current) {
        await stopSince(current.mark);
        fixtures.delete(current.release);
        await removeMeshRoots();
      }
      current = { release, mark: cleanupMark() };
      const inst = await installIstio(release, { profile: 'default' });
      const istiod = await runIstiod(inst);
      return { inst, istiod };
    })();
    fixtures.set(release, f);
  }
  return f;
}

/**
 * Removes the istio-ca-root-cert ConfigMaps an uninstalled mesh's istiod left in every namespace (uninstalling
 * Istio leaves them), so that the next release's istiod starts as in a fresh cluster: writing over another mesh's
 * roots, its namespace controller may race its own cache and log (and retry) an update conflict.
 */
async function removeMeshRoots(): Promise<void> {
  const c = client();
  try {
    const list = await c.request<{ items: Array<{ metadata: { namespace: string } }> }>('GET', '/api/v1/configmaps', {
      query: { fieldSelector: 'metadata.name=istio-ca-root-cert' },
    });
    for (const cm of list?.items ?? [])
      await c.request('DELETE', `/api/v1/namespaces/${cm.metadata.namespace}/configmaps/istio-ca-root-cert`, { allow404: true });
  } finally {
    c.close();
  }
}

/** Webhook configurations (kind plural) of the install's revision, as the API server has them now. */
async function webhookConfigs(
  kind: 'mutatingwebhookconfigurations' | 'validatingwebhookconfigurations',
  rev: string,
): Promise<Array<Record<string, any>>> {
  const c = client();
  try {
    const list = await c.request<{ items: Array<Record<string, any>> }>('GET', `/apis/admissionregistration.k8s.io/v1/${kind}`, {
      query: { labelSelector: `istio.io/rev=${rev}` },
    });
    return list?.items ?? [];
  } finally {
    c.close();
  }
}

for (const release of testedReleases()) {
  test.serial(`${release}: istiod becomes ready on our default-profile install; its log has no errors`, async (t) => {
    const { istiod } = await fixture(t, release);
    t.log(
      `istiod ${release} (pid ${istiod.pid}) ready in ${istiod.readyMs} ms; absent optional volumes: ${istiod.absentVolumes.join(', ') || 'none'}`,
    );
    const log = istiod.log();
    // What istiod says about the mesh config, the injector's config and values, and its env when it reads them.
    t.regex(log, /initializing mesh configuration/);
    t.regex(log, /initializing sidecar injector/);
    t.deepEqual(logProblems(log), [], 'istiod logged problems with our config');
    const warnings = logLines(log, 'warn');
    if (warnings.length) t.log(`warnings:\n${warnings.join('\n')}`);
  });

  test.serial(
    `${release}: istiod patches the webhooks' caBundle, sets the validator to failurePolicy Fail, writes istio-ca-root-cert`,
    async (t) => {
      const { inst } = await fixture(t, release);
      const c = client();
      t.teardown(() => c.close());
      const root = await waitFor('istio-ca-root-cert in the Istio namespace', async () => {
        const cm = await c.request<Record<string, any>>('GET', `/api/v1/namespaces/${inst.namespace}/configmaps/istio-ca-root-cert`, {
          allow404: true,
        });
        return cm?.data?.['root-cert.pem'] as string | undefined;
      });
      const ns = await namespace('rootcert');
      await waitFor(`istio-ca-root-cert in ${ns}`, async () => {
        const cm = await c.request<Record<string, any>>('GET', `/api/v1/namespaces/${ns}/configmaps/istio-ca-root-cert`, {
          allow404: true,
        });
        return cm?.data?.['root-cert.pem'] === root;
      });
      const b64 = Buffer.from(root).toString('base64');
      const mutating = await webhookConfigs('mutatingwebhookconfigurations', inst.revision);
      t.true(mutating.length > 0, 'no injector webhook configuration of the revision');
      for (const m of mutating) {
        for (const w of m.webhooks) t.is(w.clientConfig.caBundle, b64, `${m.metadata.name} ${w.name}: caBundle is the mesh root`);
      }
      const validating = await waitFor(
        'every validator of the revision at failurePolicy Fail',
        async () => {
          const v = await webhookConfigs('validatingwebhookconfigurations', inst.revision);
          return v.length > 0 && v.every((x) => x.webhooks.every((w: Record<string, any>) => w.failurePolicy === 'Fail')) ? v : undefined;
        },
        { timeoutMs: 90_000 },
      );
      for (const v of validating) {
        for (const w of v.webhooks) t.is(w.clientConfig.caBundle, b64, `${v.metadata.name} ${w.name}: caBundle is the mesh root`);
      }
    },
  );

  test.serial(
    `${release}: pods in namespaces labelled istio-injection=enabled and istio.io/rev=default are injected by this istiod through the API server`,
    async (t) => {
      const { inst, istiod } = await fixture(t, release);
      const c = client();
      t.teardown(() => c.close());
      // `istio-injection=enabled` is cluster-wide: another install's default tag would be called too (and, with no
      // istiod behind it, refuse the pod). Say so instead of failing obscurely.
      const hooks = await c.request<{ items: Array<Record<string, any>> }>(
        'GET',
        '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      );
      const foreign = (hooks?.items ?? []).filter((m) =>
        (m.webhooks ?? []).some(
          (w: Record<string, any>) =>
            w.name === 'namespace.sidecar-injector.istio.io' && w.clientConfig?.service?.namespace !== inst.namespace,
        ),
      );
      t.deepEqual(
        foreign.map((m) => m.metadata.name),
        [],
        'other installs also inject into istio-injection=enabled namespaces',
      );
      const labelSets: Array<Record<string, string>> = [{ 'istio-injection': 'enabled' }, { 'istio.io/rev': 'default' }];
      for (const labels of labelSets) {
        const ns = await namespace('inject', labels);
        const before = await counter(istiod, 'sidecar_injection_success_total');
        const calls = await counter(istiod, 'sidecar_injection_requests_total');
        const pod = await c.request<Record<string, any>>('POST', `/api/v1/namespaces/${ns}/pods`, { body: appPod('app', ns) });
        const names = containerNames(pod!);
        const all = [...names.containers, ...names.initContainers];
        t.true(all.includes('istio-proxy'), `${JSON.stringify(labels)}: the created pod carries istio-proxy: ${JSON.stringify(names)}`);
        t.true(
          names.initContainers.includes('istio-init'),
          `${JSON.stringify(labels)}: the created pod carries istio-init: ${JSON.stringify(names)}`,
        );
        t.truthy(pod!.metadata.annotations?.['sidecar.istio.io/status'], 'injection status annotation');
        t.true((await counter(istiod, 'sidecar_injection_success_total')) > before, 'this istiod injected it');
        // Each webhook configuration whose selectors match calls istiod once: the revision's and the default tag's.
        t.log(
          `${JSON.stringify(labels)}: istiod was called ${(await counter(istiod, 'sidecar_injection_requests_total')) - calls} time(s) for the pod`,
        );
      }
    },
  );

  test.serial(
    `${release}: our validating webhook refuses an invalid VirtualService through the API server and accepts a valid one`,
    async (t) => {
      await fixture(t, release);
      const ns = await namespace('validate');
      const c = client();
      t.teardown(() => c.close());
      const vs = (name: string, uriRegex: string) => ({
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name, namespace: ns },
        spec: { hosts: ['shop'], http: [{ match: [{ uri: { regex: uriRegex } }], route: [{ destination: { host: 'shop' } }] }] },
      });
      const path = `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices`;
      // A regex that does not compile: the CRD's schema (a string) allows it, only istiod's validation refuses it.
      // (A route without a destination no longer reaches istiod: the release's CRD schema requires one.)
      const err = await c.request('POST', path, { body: vs('bad', '(') }).then(
        () => undefined,
        (e: Error) => e,
      );
      t.truthy(err, 'the invalid VirtualService was accepted');
      t.regex(err?.message ?? '', /admission webhook "[^"]*validation\.istio\.io" denied the request/);
      t.regex(err?.message ?? '', /error parsing regexp/);
      const ok = await c.request<Record<string, any>>('POST', path, { body: vs('good', '/shop/.*') });
      t.is(ok?.metadata?.name, 'good');
    },
  );

  test.serial(`${release}: an istiod whose test process dies is killed and its files removed (the reaper)`, async (t) => {
    const { inst } = await fixture(t, release);
    // A test process of its own, started for this and killed without a chance to clean up.
    const script = `
      const { startIstiod } = await import(${JSON.stringify(new URL('../../istio/istiod.js', import.meta.url).href)});
      const [kubeconfig, release, namespace, deployment] = process.argv.slice(1);
      const d = await startIstiod({ kubeconfig, release, namespace, deployment, serve: false });
      console.log(JSON.stringify({ pid: d.pid, workDir: d.workDir }));
      setInterval(() => {}, 60_000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, testKubeconfig(), release, inst.namespace, inst.istiod], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const started = await waitFor(
      'the child to start istiod',
      () => (out.includes('\n') ? (JSON.parse(out) as { pid: number; workDir: string }) : undefined),
      { timeoutMs: 120_000 },
    );
    const bin = fs.readFileSync(`/proc/${started.pid}/cmdline`, 'utf8').split('\0')[0]!;
    t.true(isOurs(started.pid, bin));
    child.kill('SIGKILL');
    await waitFor(
      `istiod pid ${started.pid} gone and ${started.workDir} removed`,
      () => !isOurs(started.pid, bin) && !fs.existsSync(started.workDir),
      { timeoutMs: 15_000 },
    );
    t.pass();
  });

  test.serial(`${release}: after all of the above, istiod's log still has no errors`, async (t) => {
    const { istiod } = await fixture(t, release);
    t.deepEqual(logProblems(istiod.log()), []);
  });
}
