import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { argoHealth } from '../../helpers/argo-health.js';
import { createNamespace, kubectl, uniqueName, waitEstablished, waitFor } from '../helpers/cluster.js';
import { deleteIop, getJson, kubectlOk, startOperator, waitForStatus } from '../controller/harness.js';
import { packageRoot } from '../../../operator/paths.js';

// The GitOps contract with Argo CD, on a real apiserver: Argo CD applies the IstioOperator from Git with
// server-side apply as `argocd-controller`; the operator reconciles it; afterwards Argo's diff of the same
// file is empty (the operator wrote only status and its finalizer, so nothing of Argo's is changed) and both
// health checks read the live statuses as Argo CD should show them.

const ARGO = 'argocd-controller';
const strictLua = fs.readFileSync(path.join(packageRoot, 'argocd/health.lua'), 'utf8');
const health = (iop: unknown) => ({ builtin: argoHealth(iop).status, strict: argoHealth(iop, strictLua).status });

/** What Argo CD does on sync (ServerSideApply=true): apply the file from Git as its own field manager. */
async function argoApply(file: string): Promise<void> {
  await kubectlOk(['apply', '--server-side', `--field-manager=${ARGO}`, '-f', file]);
}

/** What Argo CD's server-side diff asks: would applying the file change anything? */
async function argoDiff(file: string) {
  return kubectl(['diff', '--server-side', `--field-manager=${ARGO}`, '-f', file]);
}

test.before(async () => {
  const crd = path.join(packageRoot, 'crds/install.istio.io_istiooperators.yaml');
  // Other tests apply the same CRD under other managers; identical values are shared ownership, not conflicts.
  await kubectlOk(['apply', '--server-side', '--force-conflicts', `--field-manager=${ARGO}`, '-f', crd]);
  await waitEstablished('istiooperators.install.istio.io');
});

test.serial('an IstioOperator synced by Argo CD: reconciled to HEALTHY with no diff, health read right at every status', async (t) => {
  const ns = await createNamespace(t, 'argo-iop');
  const istioNs = await createNamespace(t, 'argo-istio');
  const rev = uniqueName('argo').slice(0, 13);
  let userNs: string | undefined = undefined; // set in step 4; the teardown above reads it
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argocd-gitops-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const name = 'istio';
  const spec = { profile: 'minimal', namespace: istioNs, revision: rev };
  // A file as it sits in Git (no status, no finalizers), one per commit of this story.
  const commit = (file: string, s: Record<string, unknown>) => {
    const p = path.join(dir, file);
    fs.writeFileSync(
      p,
      yaml.dump({ apiVersion: 'install.istio.io/v1alpha1', kind: 'IstioOperator', metadata: { name, namespace: ns }, spec: s }),
    );
    return p;
  };
  const pinned = commit('1-pinned.yaml', { ...spec, components: { pilot: { k8s: { nodeSelector: { 'no-such-node': 'x' } } } } });
  const good = commit('2-good.yaml', spec);
  const edited = commit('2b-edited.yaml', { ...spec, meshConfig: { accessLogFile: '/dev/stdout' } });
  const bad = commit('3-bad.yaml', { ...spec, values: { global: { logAsJsn: true } } }); // a typo the CRD schema lets through

  const { mgr } = await startOperator(t, { namespaces: [ns] });
  t.teardown(async () => {
    // Let the running operator remove what it installed before the namespaces go (LIFO: runs before the stop).
    if (await getJson(['istiooperator', '-n', ns, name])) {
      if (userNs) await kubectl(['label', 'namespace', userNs, 'istio.io/rev-']);
      await kubectl(['annotate', 'istiooperator', '-n', ns, name, 'test/nudge=teardown', '--overwrite']);
      await deleteIop(ns, name, 60_000).catch(() => undefined);
    }
  });
  t.truthy(mgr);

  // 1. RECONCILING: istiod cannot schedule. Both checks say Progressing; the diff is already empty.
  await argoApply(pinned);
  const reconciling = await waitForStatus(ns, name, 'RECONCILING');
  t.deepEqual(health(reconciling), { builtin: 'Progressing', strict: 'Progressing' });
  const d1 = await argoDiff(pinned);
  t.is(d1.code, 0, `diff while RECONCILING: ${d1.stdout}${d1.stderr}`);

  // 2. HEALTHY after the next commit; Argo's diff of the same file shows nothing, and a re-sync without
  //    --force-conflicts is accepted: the operator owns no field Argo CD applies.
  const t0 = Date.now();
  await argoApply(good);
  const healthy = await waitForStatus(ns, name, 'HEALTHY');
  t.log(`sync → HEALTHY: ${Date.now() - t0} ms`);
  t.deepEqual(health(healthy), { builtin: 'Healthy', strict: 'Healthy' });
  // Give the operator a few more reconciles (readiness re-checks, watch events of what it applied) to fight, if it would.
  mgr.queue.add(`${ns}/${name}`);
  await mgr.queue.idle();
  await new Promise((r) => setTimeout(r, 1500));
  const d2 = await argoDiff(good);
  t.is(d2.code, 0, `kubectl diff --server-side --field-manager=${ARGO} after HEALTHY: ${d2.stdout}${d2.stderr}`);
  t.is(d2.stdout, '');
  const again = await kubectl(['apply', '--server-side', `--field-manager=${ARGO}`, '-f', good]);
  t.is(again.code, 0, `re-sync conflicts: ${again.stderr}`);

  // What each manager owns on the IstioOperator: Argo CD the spec, the operator only status and the finalizer.
  const live = await getJson(['istiooperator', '-n', ns, name, '--show-managed-fields']);
  t.is(live.metadata.generation, healthy.metadata.generation, 'the operator never changed the spec (generation unchanged)');
  t.deepEqual(live.metadata.finalizers, ['install.istio.io/istio-operator']);
  const managed = live.metadata.managedFields as Array<{ manager: string; operation: string; subresource?: string; fieldsV1: any }>;
  const argo = managed.filter((m) => m.manager === ARGO);
  t.true(
    argo.some((m) => m.operation === 'Apply' && m.fieldsV1['f:spec']),
    'argocd-controller owns the spec',
  );
  const ours = managed.filter((m) => m.manager !== ARGO);
  t.true(ours.length > 0);
  for (const m of ours) {
    t.is(m.manager, 'istio-operator', JSON.stringify(m));
    if (m.subresource === 'status') {
      t.deepEqual(Object.keys(m.fieldsV1), ['f:status'], JSON.stringify(m));
    } else {
      t.deepEqual(Object.keys(m.fieldsV1), ['f:metadata'], JSON.stringify(m));
      t.deepEqual(Object.keys(m.fieldsV1['f:metadata']), ['f:finalizers'], JSON.stringify(m));
    }
  }

  // 2b. A commit the operator has not reconciled yet (held back here with its pause annotation): the status still
  //     says HEALTHY, for the previous generation. The built-in check believes it; the stricter one waits.
  await kubectlOk(['annotate', 'istiooperator', '-n', ns, name, 'install.istio.io/ignoreReconcile=true']);
  await argoApply(edited);
  const stale = await getJson(['istiooperator', '-n', ns, name]);
  t.is(stale.status.status, 'HEALTHY');
  t.true(stale.status.observedGeneration < stale.metadata.generation);
  t.deepEqual(health(stale), { builtin: 'Healthy', strict: 'Progressing' });
  await kubectlOk(['annotate', 'istiooperator', '-n', ns, name, 'install.istio.io/ignoreReconcile-']);
  t.deepEqual(health(await waitForStatus(ns, name, 'HEALTHY')), { builtin: 'Healthy', strict: 'Healthy' });
  t.is((await argoDiff(edited)).code, 0);

  // 3. ERROR: a bad value committed. Both checks say Degraded; the diff stays empty (status is not compared).
  await argoApply(bad);
  const error = await waitForStatus(ns, name, 'ERROR');
  t.deepEqual(health(error), { builtin: 'Degraded', strict: 'Degraded' });
  t.regex(argoHealth(error, strictLua).message, /spec\.values\.global\.logAsJsn/);
  t.is((await argoDiff(bad)).code, 0);
  await argoApply(good);
  t.deepEqual(health(await waitForStatus(ns, name, 'HEALTHY')), { builtin: 'Healthy', strict: 'Healthy' });

  // 4. ACTION_REQUIRED: the file is removed from Git (Argo CD prunes = deletes) while a namespace uses the
  //    revision. Argo's built-in check has no case for it (Progressing); ours shows it as Degraded.
  userNs = await createNamespace(t, 'argo-user', { 'istio.io/rev': rev });
  await kubectlOk(['delete', 'istiooperator', '-n', ns, name, '--wait=false']);
  const blocked = await waitForStatus(ns, name, (i) => i.status?.status === 'ACTION_REQUIRED');
  t.deepEqual(health(blocked), { builtin: 'Progressing', strict: 'Degraded' });
  t.regex(argoHealth(blocked, strictLua).message, new RegExp(userNs));
  await kubectlOk(['label', 'namespace', userNs, 'istio.io/rev-']);
  await kubectlOk(['annotate', 'istiooperator', '-n', ns, name, 'test/nudge=1']);
  await deleteIop(ns, name, 60_000);
  t.truthy(await getJson(['crd', 'istiooperators.install.istio.io']));
  await waitFor('nothing of the revision left', async () => !(await getJson(['deployment', '-n', istioNs, `istiod-${rev}`])), {
    timeoutMs: 30_000,
  });
});

test.serial(
  'render-only: the plugin output applied as argocd-controller shows no diff; only the validator flip istiod makes would',
  async (t) => {
    const istioNs = await createNamespace(t, 'argo-render');
    const rev = uniqueName('ro').slice(0, 11);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argocd-render-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const src = path.join(dir, 'istio-operator.yaml');
    fs.writeFileSync(
      src,
      yaml.dump({
        apiVersion: 'install.istio.io/v1alpha1',
        kind: 'IstioOperator',
        metadata: { name: 'render-only' },
        spec: { profile: 'minimal', namespace: istioNs, revision: rev },
      }),
    );
    // Pilot only: the CRDs are shared with every other test on this cluster, and their labels name one owner.
    const renderTo = (file: string, extra: string[] = []) => {
      const r = spawnSync(
        process.execPath,
        [path.join(packageRoot, 'bin/istio-operator.js'), 'render', '-f', src, '--component', 'pilot', ...extra],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(r.stderr);
      fs.writeFileSync(path.join(dir, file), r.stdout);
      return path.join(dir, file);
    };
    const out = renderTo('rendered.yaml');
    t.teardown(async () => void (await kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', out])));
    await argoApply(out);
    const d1 = await argoDiff(out);
    t.is(d1.code, 0, `diff right after the sync: ${d1.stdout}${d1.stderr}`);
    t.is(d1.stdout, '');

    // istiod, once serving: patches the caBundle of its webhooks and flips the validator to Fail (an update, as istiod does).
    const validator = `istio-validator-${rev}-${istioNs}`;
    const injector = `istio-sidecar-injector-${rev}-${istioNs}`;
    const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');
    await kubectlOk([
      'patch',
      'validatingwebhookconfiguration',
      validator,
      '--type=json',
      '--field-manager=pilot-discovery',
      '-p',
      JSON.stringify([
        { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: ca },
        { op: 'replace', path: '/webhooks/0/failurePolicy', value: 'Fail' },
      ]),
    ]);
    const mwc = await getJson(['mutatingwebhookconfiguration', injector]);
    t.truthy(mwc, injector);
    await kubectlOk([
      'patch',
      'mutatingwebhookconfiguration',
      injector,
      '--type=json',
      '--field-manager=pilot-discovery',
      '-p',
      JSON.stringify(mwc.webhooks.map((_: unknown, i: number) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: ca }))),
    ]);
    // Argo CD's server-side diff (it forces conflicts, as its sync does): the caBundle we never render is no
    // difference; the failurePolicy we render as Ignore is, which is what argocd/ignore-differences.yaml covers.
    const d2 = await kubectl(['diff', '--server-side', '--force-conflicts', `--field-manager=${ARGO}`, '-f', out]);
    t.is(d2.code, 1, d2.stderr);
    const changed = d2.stdout
      .split('\n')
      .filter((l) => /^[-+]\s/.test(l))
      .map((l) => l.replace(/\s+/g, ' '));
    t.true(changed.length > 0 && changed.every((l) => /failurePolicy: (Fail|Ignore)|generation: \d+/.test(l)), changed.join('\n'));
    t.false(d2.stdout.includes('caBundle'), 'the caBundle is istiod’s alone');

    // The next commit renders the end state (values.base.validationFailurePolicy=Fail): once synced, nothing is
    // left to ignore, and istiod's caBundle survived Argo CD's sync.
    const stable = renderTo('stable.yaml', ['--set', 'values.base.validationFailurePolicy=Fail']);
    await kubectlOk(['apply', '--server-side', '--force-conflicts', `--field-manager=${ARGO}`, '-f', stable]);
    const d3 = await kubectl(['diff', '--server-side', '--force-conflicts', `--field-manager=${ARGO}`, '-f', stable]);
    t.is(d3.code, 0, `${d3.stdout}${d3.stderr}`);
    const live = await getJson(['validatingwebhookconfiguration', validator]);
    t.is(live.webhooks[0].clientConfig.caBundle, ca);
    t.is(live.webhooks[0].failurePolicy, 'Fail');
    t.true((await getJson(['mutatingwebhookconfiguration', injector])).webhooks.every((w: any) => w.clientConfig.caBundle === ca));
  },
);

test('every profile is accepted by the apiserver as an IstioOperator (server-side dry run)', async (t) => {
  const ns = await createNamespace(t, 'argo-profiles');
  const dir = path.join(packageRoot, 'profiles');
  for (const f of fs
    .readdirSync(dir)
    .filter((x) => x.endsWith('.yaml'))
    .sort()) {
    const doc = yaml.load(fs.readFileSync(path.join(dir, f), 'utf8')) as { metadata: { namespace?: string } };
    doc.metadata.namespace = ns;
    const r = await kubectl(['apply', '--server-side', '--dry-run=server', `--field-manager=${ARGO}`, '-f', '-'], {
      input: JSON.stringify(doc),
    });
    t.is(r.code, 0, `${f}: ${r.stderr}`);
  }
});
