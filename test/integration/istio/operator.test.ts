// The operator beside the real istiod of each tested release: an in-process Manager (as the controller tests run it)
// reconciles an IstioOperator, and istiod runs from the Deployment the operator applied. istiod then does its own
// writes on our objects: the injector webhooks' caBundle, the validator's caBundle and failurePolicy (Ignore → Fail),
// istio-ca-root-cert in every namespace. The operator must settle and never fight it:
//   - every reconcile after istiod started writes nothing (status included), whatever triggered it;
//   - forced reconciles (and the periodic resync's full compare with the live objects) write nothing;
//   - the webhook configurations keep the resourceVersion of istiod's last write, and their managedFields still say
//     istiod's manager owns caBundle and failurePolicy;
//   - a spec edit that changes the injector webhooks is applied without taking caBundle back.
import fs from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import type { Manager } from '../../../operator/controller/manager.js';
import type { Istiod } from '../../istio/istiod.js';
import { testedReleases } from '../../istio/releases.js';
import { deleteIop, ensureCRD, iopYaml, kubectlOk, waitForStatus } from '../controller/harness.js';
import { waitFor } from '../helpers/cluster.js';
import {
  client,
  enterRelease,
  istiodsStarted,
  logProblems,
  meshRoot,
  namespace,
  onCleanup,
  runIstiod,
  stopAll,
  type IstioInstall,
  startOperatorIn,
} from './_istio.js';

test.before(ensureCRD);
test.after.always(stopAll);
const t0 = Date.now();
test.after(() => console.log(`operator.test: ${istiodsStarted()} istiod processes started, ${((Date.now() - t0) / 1000).toFixed(1)} s`));

const REVISION = 'op';
const NAME = 'control-plane';

interface Fixture {
  mgr: Manager;
  key: string;
  ns: string;
  inst: IstioInstall;
  istiod: Istiod;
  /** history.length when istiod was started: every reconcile from there on ran beside it. */
  sinceIstiod: number;
  logFile: string;
}
const fixtures = new Map<string, Promise<Fixture>>();

function fixture(t: ExecutionContext, release: string): Promise<Fixture> {
  t.timeout(300_000, `the operator installing ${release} and istiod starting from it`);
  let f = fixtures.get(release);
  if (!f) {
    f = (async () => {
      await enterRelease(release);
      const ns = await namespace('op-iop');
      const istioNs = await namespace(`op-istio-${release.replace(/\./g, '-')}`);
      const { mgr, logFile } = await startOperatorIn(ns);
      // Deleted while the operator still runs (cleanups run newest first), so its finalizer removes the install.
      onCleanup(() => deleteIop(ns, NAME, 120_000));
      await kubectlOk(
        ['apply', '-f', '-'],
        iopYaml(NAME, ns, {
          profile: 'default',
          namespace: istioNs,
          revision: REVISION,
          tag: release,
          values: { global: { istioNamespace: istioNs } },
        }),
      );
      await waitForStatus(ns, NAME, 'HEALTHY', 180_000);
      const inst: IstioInstall = {
        release,
        namespace: istioNs,
        revision: REVISION,
        istiod: `istiod-${REVISION}`,
        file: '',
        remove: async () => {},
      };
      const sinceIstiod = mgr.history.length;
      const istiod = await runIstiod(inst);
      return { mgr, key: `${ns}/${NAME}`, ns, inst, istiod, sinceIstiod, logFile };
    })();
    fixtures.set(release, f);
  }
  return f;
}

type Kind = 'mutatingwebhookconfigurations' | 'validatingwebhookconfigurations';

/** The revision's webhook configurations of this install (istio.io/rev=op, calling a Service in its namespace). */
async function webhooks(kind: Kind, inst: IstioInstall): Promise<Array<Record<string, any>>> {
  const c = client();
  try {
    const list = await c.request<{ items: Array<Record<string, any>> }>('GET', `/apis/admissionregistration.k8s.io/v1/${kind}`, {
      query: { labelSelector: `istio.io/rev=${inst.revision}` },
    });
    return (list?.items ?? []).filter((m) =>
      m.webhooks.every((w: Record<string, any>) => w.clientConfig.service?.namespace === inst.namespace),
    );
  } finally {
    c.close();
  }
}

/** Which managers own caBundle and failurePolicy of each webhook, per managedFields: `<config>/<webhook> <field>: <managers>`. */
function owners(configs: Array<Record<string, any>>): string[] {
  const out: string[] = [];
  for (const m of configs) {
    for (const w of m.webhooks as Array<{ name: string }>) {
      const key = `k:${JSON.stringify({ name: w.name })}`;
      for (const [field, at] of [
        ['caBundle', (f: any) => f?.['f:clientConfig']?.['f:caBundle']],
        ['failurePolicy', (f: any) => f?.['f:failurePolicy']],
      ] as const) {
        const who = (m.metadata.managedFields as Array<Record<string, any>>)
          .filter((mf) => at(mf.fieldsV1?.['f:webhooks']?.[key]) !== undefined)
          .map((mf) => `${mf.manager} (${mf.operation})`);
        out.push(`${m.metadata.name}/${w.name} ${field}: ${who.join(', ') || '-'}`);
      }
    }
  }
  return out;
}

/** name → resourceVersion. */
const versions = (configs: Array<Record<string, any>>) =>
  Object.fromEntries(configs.map((m) => [m.metadata.name as string, m.metadata.resourceVersion as string]));

/** Reconciles the IstioOperator now, once; its result. */
async function forceReconcile(f: Fixture, verifyEverything = false) {
  if (verifyEverything) f.mgr.reconciler.verifyEverythingNextTime();
  f.mgr.queue.add(f.key);
  await f.mgr.queue.idle();
  return f.mgr.history.filter((h) => h.key === f.key).at(-1)!;
}

/** Waits until istiod did its part: caBundle of every webhook = the mesh root, every validator at Fail. */
async function istiodDone(
  f: Fixture,
): Promise<{ mutating: Array<Record<string, any>>; validating: Array<Record<string, any>>; root: string }> {
  const root = Buffer.from(await meshRoot(f.inst)).toString('base64');
  return waitFor(
    'istiod patched caBundle into every webhook and set every validator to Fail',
    async () => {
      const mutating = await webhooks('mutatingwebhookconfigurations', f.inst);
      const validating = await webhooks('validatingwebhookconfigurations', f.inst);
      const ok =
        mutating.length > 0 &&
        validating.length > 0 &&
        [...mutating, ...validating].every((m) => m.webhooks.every((w: Record<string, any>) => w.clientConfig.caBundle === root)) &&
        validating.every((v) => v.webhooks.every((w: Record<string, any>) => w.failurePolicy === 'Fail'));
      return ok ? { mutating, validating, root } : undefined;
    },
    { timeoutMs: 90_000 },
  );
}

for (const release of testedReleases()) {
  test.serial(
    `${release}: beside the operator, istiod patches the webhooks' caBundle, flips the validator to Fail and writes istio-ca-root-cert`,
    async (t) => {
      const f = await fixture(t, release);
      t.log(`operator HEALTHY, then istiod ${release} (pid ${f.istiod.pid}) ready in ${f.istiod.readyMs} ms`);
      const done = await istiodDone(f);
      t.log(`istiod's writes, by managedFields:\n${owners([...done.mutating, ...done.validating]).join('\n')}`);
      const ns = await namespace('op-rootcert');
      const c = client();
      t.teardown(() => c.close());
      const rootPem = Buffer.from(done.root, 'base64').toString('utf8');
      await waitFor(`istio-ca-root-cert in ${ns}`, async () => {
        const cm = await c.request<Record<string, any>>('GET', `/api/v1/namespaces/${ns}/configmaps/istio-ca-root-cert`, {
          allow404: true,
        });
        return cm?.data?.['root-cert.pem'] === rootPem;
      });
      const iop = await waitForStatus(f.ns, NAME, 'HEALTHY');
      t.is(iop.status.status, 'HEALTHY');
    },
  );

  test.serial(`${release}: the operator settles to 0 writes per reconcile beside istiod and repairs none of istiod's fields`, async (t) => {
    const f = await fixture(t, release);
    const before = await istiodDone(f);
    // Let anything still in flight (istiod's last writes and their watch events) pass.
    await new Promise((r) => setTimeout(r, 2000));
    await f.mgr.queue.idle();
    const settled = {
      mutating: await webhooks('mutatingwebhookconfigurations', f.inst),
      validating: await webhooks('validatingwebhookconfigurations', f.inst),
    };
    const rv = { ...versions(settled.mutating), ...versions(settled.validating) };
    const sinceIstiod = f.mgr.history.slice(f.sinceIstiod).filter((h) => h.key === f.key);
    t.log(
      `reconciles triggered while istiod did its writes: ${sinceIstiod.length} (writes: ${sinceIstiod.map((h) => h.result.writes).join(', ') || '-'})`,
    );
    const why = () =>
      fs
        .readFileSync(f.logFile, 'utf8')
        .split('\n')
        .filter((l) => /owned object changed|"applied"|drift/.test(l))
        .slice(-12)
        .join('\n');
    t.deepEqual(
      sinceIstiod.filter((h) => h.result.writes > 0).map((h) => h.result.changed),
      [],
      `reconciles beside istiod that wrote; the operator's log says:\n${why()}`,
    );

    const forced = [];
    for (let i = 0; i < 5; i++) forced.push(await forceReconcile(f, i % 2 === 1));
    t.log(
      `5 forced reconciles (2 with the resync's full compare against live objects): writes ${forced.map((h) => h.result.writes).join(', ')}; ${forced.map((h) => `${Math.round(h.ms)} ms`).join(', ')}`,
    );
    t.deepEqual(
      forced.map((h) => h.result.writes),
      [0, 0, 0, 0, 0],
      `writes per forced reconcile: ${forced.map((h) => h.result.changed?.join(', ')).join(' | ')}`,
    );
    t.true(forced.every((h) => h.result.action === 'applied' && h.result.status === 'HEALTHY'));

    const after = {
      mutating: await webhooks('mutatingwebhookconfigurations', f.inst),
      validating: await webhooks('validatingwebhookconfigurations', f.inst),
    };
    t.deepEqual(
      { ...versions(after.mutating), ...versions(after.validating) },
      rv,
      "the webhook configurations keep the resourceVersion of istiod's last write",
    );
    t.deepEqual(owners([...after.mutating, ...after.validating]), owners([...settled.mutating, ...settled.validating]));
    for (const o of owners([...after.mutating, ...after.validating])) {
      if (/ caBundle: /.test(o) || /istio-validator.* failurePolicy: /.test(o))
        t.regex(o, /: pilot-discovery \(Update\)$/, `istiod alone owns it: ${o}`);
    }
    t.log(`resourceVersions after the forced reconciles, unchanged: ${JSON.stringify(rv)}`);
    t.is(
      after.validating.flatMap((v) => v.webhooks.map((w: any) => w.failurePolicy)).join(),
      after.validating.flatMap((v) => v.webhooks.map(() => 'Fail')).join(),
    );
    t.true([...after.mutating, ...after.validating].every((m) => m.webhooks.every((w: any) => w.clientConfig.caBundle === before.root)));
  });

  test.serial(`${release}: a spec edit that changes the injector webhooks is applied without taking istiod's caBundle back`, async (t) => {
    const f = await fixture(t, release);
    const { root } = await istiodDone(f);
    const from = f.mgr.history.length;
    await kubectlOk([
      'patch',
      'istiooperator',
      '-n',
      f.ns,
      NAME,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { values: { sidecarInjectorWebhook: { reinvocationPolicy: 'IfNeeded' } } } }),
    ]);
    const applied = await waitFor(
      'the edit applied',
      () => f.mgr.history.slice(from).find((h) => h.key === f.key && h.result.changed?.length),
      { timeoutMs: 60_000 },
    );
    t.log(`the edit changed: ${applied.result.changed!.join(', ')}`);
    t.true(
      applied.result.changed!.some((c) => /MutatingWebhookConfiguration/.test(c)),
      'the injector webhooks were applied',
    );
    await f.mgr.queue.idle();
    const mutating = await webhooks('mutatingwebhookconfigurations', f.inst);
    t.true(
      mutating.every((m) => m.webhooks.every((w: any) => w.reinvocationPolicy === 'IfNeeded')),
      'the edit is live',
    );
    t.true(
      mutating.every((m) => m.webhooks.every((w: any) => w.clientConfig.caBundle === root)),
      "istiod's caBundle stayed through our apply",
    );
    for (const o of owners(mutating).filter((x) => / caBundle: /.test(x))) t.regex(o, /: pilot-discovery \(Update\)$/, o);
    const next = await forceReconcile(f, true);
    t.is(next.result.writes, 0, `after the edit: ${next.result.changed?.join(', ')}`);
  });

  test.serial(`${release}: istiod's log has no problem after all of the above`, async (t) => {
    const f = await fixture(t, release);
    t.deepEqual(logProblems(f.istiod.log()), []);
    const errors = fs
      .readFileSync(f.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"level":"error"'));
    t.deepEqual(errors, [], "the operator's log has no errors");
  });
}
