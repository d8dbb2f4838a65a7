import fs from 'node:fs';
import test from 'ava';
import { argoHealth } from '../../helpers/argo-health.js';
import { createNamespace, uniqueName, waitFor } from '../helpers/cluster.js';
import { deleteIop, ensureCRD, getJson, iopYaml, kubectlOk, ownedObjects, startOperator, waitForStatus } from './harness.js';

// The operator end to end on a real apiserver (kwok makes Deployments Available). One IstioOperator goes
// through its whole life, in order: install → no-op resync → edit → drift → pause → bad spec → delete.
// It uses its own Istio namespace and revision so it never touches another test's install.

test.before(ensureCRD);

test.serial('an IstioOperator goes from kubectl apply to HEALTHY, repairs drift, reports errors and cleans up', async (t) => {
  const ns = await createNamespace(t, 'iop-op');
  const rev = uniqueName('r').slice(0, 12);
  const istioNs = await createNamespace(t, 'iop-istio');
  const { mgr, logFile } = await startOperator(t, { namespaces: [ns] });
  const name = 'control-plane';
  const key = `${ns}/${name}`;
  const spec = { profile: 'default', namespace: istioNs, revision: rev };
  const results = () => mgr.history.filter((h) => h.key === key);

  // 1. Install. Pilot is first pinned to a node that does not exist, so the live status is RECONCILING.
  const t0 = Date.now();
  await kubectlOk(
    ['apply', '-f', '-'],
    iopYaml(name, ns, { ...spec, components: { pilot: { k8s: { nodeSelector: { 'no-such-node': 'x' } } } } }),
  );
  const reconciling = await waitForStatus(ns, name, 'RECONCILING');
  t.regex(reconciling.status.message, /Pilot/);
  t.is(argoHealth(reconciling).status, 'Progressing', 'Argo reads a live RECONCILING as Progressing');
  t.true(reconciling.metadata.finalizers.includes('install.istio.io/istio-operator'));
  await kubectlOk(['apply', '-f', '-'], iopYaml(name, ns, spec));
  const healthy = await waitForStatus(ns, name, 'HEALTHY');
  const installMs = Date.now() - t0;
  t.is(argoHealth(healthy).status, 'Healthy', 'Argo reads a live HEALTHY as Healthy');
  t.deepEqual(Object.keys(healthy.status.componentStatus).sort(), ['Base', 'IngressGateways', 'Pilot']);
  t.is(healthy.status.conditions.find((c: any) => c.type === 'Ready').status, 'True');
  const istiod = await getJson(['deployment', '-n', istioNs, `istiod-${rev}`]);
  t.truthy(istiod, 'istiod of the revision is installed');
  t.log(`apply → HEALTHY: ${installMs} ms (including a RECONCILING phase)`);

  // 2. A resync with nothing changed writes nothing (status included), and lists no Pods: who uses the revision
  // comes from the operator's metadata-only watch caches, not from a LIST per reconcile.
  const requests: string[] = [];
  const record = (c: { onRequest?: (verb: any, path: string, status: number) => void }) => {
    const prev = c.onRequest;
    c.onRequest = (verb, path, status) => {
      requests.push(`${verb} ${path}`);
      prev?.(verb, path, status);
    };
    return () => (c.onRequest = prev);
  };
  const unhook = [record(mgr.client), record(mgr.kube)];
  mgr.queue.add(key);
  await mgr.queue.idle();
  for (const u of unhook) u();
  const noop = results().at(-1)!;
  t.is(noop.result.action, 'applied');
  t.is(noop.result.writes, 0, `no-op resync wrote: ${noop.result.changed?.join(', ')}`);
  t.deepEqual(
    requests.filter((r) => /^(list|get) \/api\/v1\/pods/.test(r)),
    [],
    requests.join('\n'),
  );
  t.log(`no-op reconcile: ${Math.round(noop.ms)} ms, ${noop.result.writes} writes, ${requests.length} requests (${requests.join(', ')})`);

  // 3. An edit writes only what it affects.
  const before = results().length;
  const t1 = Date.now();
  await kubectlOk([
    'patch',
    'istiooperator',
    '-n',
    ns,
    name,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { components: { pilot: { k8s: { env: [{ name: 'EDITED', value: 'yes' }] } } } } }),
  ]);
  const edited = await waitFor('the edit applied', () =>
    results()
      .slice(before)
      .find((h) => h.result.changed?.length),
  );
  t.log(`edit → applied: ${Date.now() - t1} ms; changed: ${edited.result.changed!.join(', ')}`);
  t.true(
    edited.result.changed!.every((c) => /Deployment .*istiod|ConfigMap .*values/.test(c)),
    edited.result.changed!.join(', '),
  );
  t.true(
    edited.result.changed!.some((c) => c.includes(`Deployment ${istioNs}/istiod-${rev}`)),
    JSON.stringify(
      results()
        .slice(before - 2)
        .map((h) => [h.result.action, h.result.changed]),
    ),
  );
  const env = (await getJson(['deployment', '-n', istioNs, `istiod-${rev}`])).spec.template.spec.containers[0].env;
  t.true(env.some((e: any) => e.name === 'EDITED' && e.value === 'yes'));
  await waitForStatus(ns, name, 'HEALTHY');
  // Nothing so far was anyone else's change: neither our own inventory writes nor the EndpointSlices Kubernetes
  // keeps for our Services (with our labels copied onto them) are taken for drift. Each was a reconcile of its own,
  // which mid-burst applied an edit early (8 applies for 100 rapid edits in `npm run bench`, 2 without).
  await new Promise((r) => setTimeout(r, 500));
  const triggers = fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"owned object changed"'))
    .map((l) => (JSON.parse(l) as { object: string }).object);
  t.deepEqual(
    triggers.filter((o) => /^(ConfigMap .*istio-operator-inventory|EndpointSlice )/.test(o)),
    [],
  );

  // 3b. Disabling a component prunes its objects and drops it from the status.
  await kubectlOk([
    'patch',
    'istiooperator',
    '-n',
    ns,
    name,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { components: { ingressGateways: [{ name: 'istio-ingressgateway', enabled: false }] } } }),
  ]);
  const noGw = await waitForStatus(
    ns,
    name,
    (i) =>
      i.status?.status === 'HEALTHY' && i.status.observedGeneration === i.metadata.generation && !i.status.componentStatus?.IngressGateways,
  );
  t.deepEqual(Object.keys(noGw.status.componentStatus).sort(), ['Base', 'Pilot']);
  t.falsy(await getJson(['deployment', '-n', istioNs, 'istio-ingressgateway']), 'gateway Deployment pruned');
  t.falsy(await getJson(['service', '-n', istioNs, 'istio-ingressgateway']), 'gateway Service pruned');
  const pruned = await kubectlOk([
    'get',
    'events',
    '-n',
    ns,
    '--field-selector',
    `involvedObject.name=${name},reason=Pruned`,
    '-o',
    'jsonpath={.items[0].message}',
  ]);
  t.regex(pruned, /Deployment .*istio-ingressgateway/);

  // 4. Drift: a deleted istiod Deployment is recreated, an edited ConfigMap is restored.
  const t2 = Date.now();
  await kubectlOk(['delete', 'deployment', '-n', istioNs, `istiod-${rev}`, '--wait=false']);
  await waitFor(
    'istiod recreated',
    async () => {
      const d = await getJson(['deployment', '-n', istioNs, `istiod-${rev}`]);
      return d && d.metadata.uid !== istiod.metadata.uid && !d.metadata.deletionTimestamp;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  t.log(`deleted istiod → recreated: ${Date.now() - t2} ms`);
  const mesh = await getJson(['configmap', '-n', istioNs, `istio-${rev}`]);
  await kubectlOk(['patch', 'configmap', '-n', istioNs, `istio-${rev}`, '--type=merge', '-p', '{"data":{"mesh":"tampered: true"}}']);
  await waitFor(
    'mesh config restored',
    async () => (await getJson(['configmap', '-n', istioNs, `istio-${rev}`])).data.mesh === mesh.data.mesh,
    { timeoutMs: 30_000 },
  );

  // 4b. What istiod itself writes (webhook caBundle; the validating webhook's failurePolicy flipped to Fail once it
  // serves) neither triggers a reconcile nor is undone by one.
  const vwcName = `istio-validator-${rev}-${istioNs}`;
  const mwcName = `istio-sidecar-injector-${rev}-${istioNs}`;
  const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');
  await new Promise((r) => setTimeout(r, 1000));
  const quietFrom = results().length;
  await kubectlOk([
    'patch',
    'validatingwebhookconfiguration',
    vwcName,
    '--field-manager=pilot-discovery',
    '--type=json',
    '-p',
    JSON.stringify([
      { op: 'replace', path: '/webhooks/0/failurePolicy', value: 'Fail' },
      { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: ca },
    ]),
  ]);
  await kubectlOk([
    'patch',
    'mutatingwebhookconfiguration',
    mwcName,
    '--field-manager=pilot-discovery',
    '--type=json',
    '-p',
    JSON.stringify([{ op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: ca }]),
  ]);
  await new Promise((r) => setTimeout(r, 1500));
  // (Readiness updates of the Deployments may still reconcile in this window; none of it may write.)
  t.true(
    results()
      .slice(quietFrom)
      .every((h) => h.result.writes === 0),
    'istiod-managed fields are not undone',
  );
  t.log(`reconciles in the 1.5 s after istiod's writes: ${results().length - quietFrom}`);
  mgr.queue.add(key);
  await mgr.queue.idle();
  t.is(
    results().at(-1)!.result.writes,
    0,
    `a reconcile after istiod's writes writes nothing: ${results().at(-1)!.result.changed?.join(', ')}`,
  );
  const vwc = await getJson(['validatingwebhookconfiguration', vwcName]);
  t.is(vwc.webhooks[0].failurePolicy, 'Fail', "istiod's failurePolicy stays");
  t.is(vwc.webhooks[0].clientConfig.caBundle, ca);
  t.is((await getJson(['mutatingwebhookconfiguration', mwcName])).webhooks[0].clientConfig.caBundle, ca);

  // 5. ignoreReconcile pauses this IstioOperator: drift stays until the annotation goes.
  await kubectlOk(['annotate', 'istiooperator', '-n', ns, name, 'install.istio.io/ignoreReconcile=true']);
  await waitFor('paused', () => results().at(-1)?.result.action === 'paused');
  await kubectlOk(['delete', 'service', '-n', istioNs, `istiod-${rev}`]);
  await new Promise((r) => setTimeout(r, 2000));
  t.falsy(await getJson(['service', '-n', istioNs, `istiod-${rev}`]), 'not repaired while paused');
  await kubectlOk(['annotate', 'istiooperator', '-n', ns, name, 'install.istio.io/ignoreReconcile-']);
  await waitFor('service repaired after unpausing', () => getJson(['service', '-n', istioNs, `istiod-${rev}`]), { timeoutMs: 30_000 });

  // 6. A bad spec is ERROR naming the field, and the install stays as it was.
  const live = await getJson(['deployment', '-n', istioNs, `istiod-${rev}`]);
  // The CRD's schema already rejects wrong types; what reaches the operator is what only it can judge.
  await kubectlOk([
    'patch',
    'istiooperator',
    '-n',
    ns,
    name,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { profile: 'no-such-profile' } }),
  ]);
  const bad = await waitForStatus(ns, name, 'ERROR');
  t.regex(bad.status.message, /spec\.profile: unknown profile "no-such-profile"/);
  t.is(argoHealth(bad).status, 'Degraded', 'Argo reads a live ERROR as Degraded');
  const reconciled = bad.status.conditions.find((c: any) => c.type === 'Reconciled');
  t.is(reconciled.status, 'False');
  t.is(reconciled.observedGeneration, bad.metadata.generation);
  const after = await getJson(['deployment', '-n', istioNs, `istiod-${rev}`]);
  t.is(after.metadata.generation, live.metadata.generation, 'istiod untouched by the bad spec');
  const events = await kubectlOk([
    'get',
    'events',
    '-n',
    ns,
    '--field-selector',
    `involvedObject.name=${name}`,
    '-o',
    'jsonpath={range .items[*]}{.reason}{"\\n"}{end}',
  ]);
  t.true(events.includes('InvalidSpec') && events.includes('Applied'), events);
  await kubectlOk(['patch', 'istiooperator', '-n', ns, name, '--type=merge', '-p', JSON.stringify({ spec: { profile: 'default' } })]);
  await waitForStatus(ns, name, 'HEALTHY');

  // 7. Deleting the IstioOperator removes what it installed (never the CRDs).
  t.true((await ownedObjects(name, ns)).length > 10);
  const t3 = Date.now();
  await deleteIop(ns, name);
  t.log(`delete → cleaned up: ${Date.now() - t3} ms`);
  t.deepEqual(await ownedObjects(name, ns), []);
  t.truthy(await getJson(['crd', 'virtualservices.networking.istio.io']), 'CRDs stay');
  t.falsy(await getJson(['configmap', '-n', istioNs, `istio-operator-inventory-${name}-${rev}`]));
});

test.serial('deleting an IstioOperator whose revision is in use is ACTION_REQUIRED with an Event naming the user', async (t) => {
  const ns = await createNamespace(t, 'iop-inuse');
  const rev = uniqueName('u').slice(0, 12);
  const istioNs = await createNamespace(t, 'iop-inuse-istio');
  await startOperator(t, { namespaces: [ns] });
  const name = 'cp';
  await kubectlOk(['apply', '-f', '-'], iopYaml(name, ns, { profile: 'minimal', namespace: istioNs, revision: rev }));
  await waitForStatus(ns, name, 'HEALTHY');
  const user = await createNamespace(t, 'iop-workload', { 'istio.io/rev': rev });
  await kubectlOk(['delete', 'istiooperator', '-n', ns, name, '--wait=false']);
  const blocked = await waitForStatus(ns, name, (i) => i.status?.status === 'ACTION_REQUIRED');
  t.regex(blocked.status.message, new RegExp(user));
  t.is(blocked.status.conditions.find((c: any) => c.type === 'InUse').status, 'True');
  t.is(argoHealth(blocked).status, 'Progressing', 'health.lua has no ACTION_REQUIRED case: it falls through to Progressing');
  const ev = await kubectlOk([
    'get',
    'events',
    '-n',
    ns,
    '--field-selector',
    `involvedObject.name=${name},reason=RevisionInUse`,
    '-o',
    'jsonpath={.items[0].message}',
  ]);
  t.regex(ev, new RegExp(user));
  t.truthy(await getJson(['deployment', '-n', istioNs, `istiod-${rev}`]), 'the control plane stays while used');
  await kubectlOk(['label', 'namespace', user, 'istio.io/rev-']);
  // The blocked deletion is re-checked periodically (30 s); an immediate nudge stands in for the timer here.
  await kubectlOk(['annotate', 'istiooperator', '-n', ns, name, 'test/nudge=1']);
  await deleteIop(ns, name, 60_000);
  t.deepEqual(await ownedObjects(name, ns), []);
});

test.serial('changing spec.revision installs the new revision and removes the old one once nothing uses it', async (t) => {
  const ns = await createNamespace(t, 'iop-rev');
  const istioNs = await createNamespace(t, 'iop-rev-istio');
  const revA = uniqueName('a').slice(0, 12);
  const revB = uniqueName('b').slice(0, 12);
  await startOperator(t, { namespaces: [ns] });
  const name = 'canary';
  await kubectlOk(['apply', '-f', '-'], iopYaml(name, ns, { profile: 'minimal', namespace: istioNs, revision: revA }));
  await waitForStatus(ns, name, 'HEALTHY');
  const user = await createNamespace(t, 'iop-rev-user', { 'istio.io/rev': revA });
  await kubectlOk(['apply', '-f', '-'], iopYaml(name, ns, { profile: 'minimal', namespace: istioNs, revision: revB }));
  const both = await waitForStatus(
    ns,
    name,
    (i) =>
      i.status?.status === 'HEALTHY' && i.status.observedGeneration === i.metadata.generation && /previous revision/.test(i.status.message),
  );
  t.regex(both.status.message, new RegExp(`revision ${revA} is in use by 1 namespace \\(${user}\\)`));
  t.truthy(await getJson(['deployment', '-n', istioNs, `istiod-${revB}`]), 'new revision installed');
  t.truthy(await getJson(['deployment', '-n', istioNs, `istiod-${revA}`]), 'old revision kept while used');
  await kubectlOk(['label', 'namespace', user, `istio.io/rev=${revB}`, '--overwrite']);
  await kubectlOk(['annotate', 'istiooperator', '-n', ns, name, 'test/nudge=1']);
  await waitFor('old revision removed', async () => !(await getJson(['deployment', '-n', istioNs, `istiod-${revA}`])), {
    timeoutMs: 30_000,
  });
  const after = await waitForStatus(ns, name, (i) => i.status?.status === 'HEALTHY' && !/previous revision/.test(i.status.message));
  t.is(after.status.message, 'all components are installed and ready');
  const ev = await kubectlOk([
    'get',
    'events',
    '-n',
    ns,
    '--field-selector',
    `involvedObject.name=${name},reason=RevisionRemoved`,
    '-o',
    'jsonpath={.items[0].message}',
  ]);
  t.regex(ev, new RegExp(revA));
  t.truthy(await getJson(['deployment', '-n', istioNs, `istiod-${revB}`]));
  await kubectlOk(['label', 'namespace', user, 'istio.io/rev-']);
  await deleteIop(ns, name);
});

test.serial('a second IstioOperator rendering the same objects is refused with ERROR instead of fighting the first', async (t) => {
  const ns = await createNamespace(t, 'iop-dup');
  const istioNs = await createNamespace(t, 'iop-dup-istio');
  const rev = uniqueName('d').slice(0, 12);
  const { mgr } = await startOperator(t, { namespaces: [ns] });
  const spec = { profile: 'minimal', namespace: istioNs, revision: rev };
  await kubectlOk(['apply', '-f', '-'], iopYaml('first', ns, spec));
  await waitForStatus(ns, 'first', 'HEALTHY');
  await kubectlOk(['apply', '-f', '-'], iopYaml('second', ns, spec));
  const second = await waitForStatus(ns, 'second', 'ERROR');
  t.regex(second.status.message, new RegExp(`belongs to IstioOperator ${ns}/first`));
  const d = await getJson(['deployment', '-n', istioNs, `istiod-${rev}`]);
  t.is(d.metadata.labels['install.operator.istio.io/owning-resource'], 'first', 'the first keeps its objects');
  mgr.queue.add(`${ns}/first`);
  await mgr.queue.idle();
  t.is(mgr.history.filter((h) => h.key === `${ns}/first`).at(-1)!.result.writes, 0);
  await deleteIop(ns, 'second');
  t.truthy(await getJson(['deployment', '-n', istioNs, `istiod-${rev}`]), "deleting the refused one removes nothing of the first's");
  t.is((await getJson(['istiooperator', '-n', ns, 'first'])).status.status, 'HEALTHY');
  await deleteIop(ns, 'first');
});

test.serial('/metrics, /healthz and /readyz', async (t) => {
  const ns = await createNamespace(t, 'iop-metrics');
  const istioNs = await createNamespace(t, 'iop-metrics-istio');
  const rev = uniqueName('m').slice(0, 12);
  const { mgr } = await startOperator(t, { namespaces: [ns], metricsAddr: '127.0.0.1:0', healthAddr: '127.0.0.1:0' });
  const get = async (port: number, path: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: r.status, text: await r.text() };
  };
  t.is((await get(mgr.ports.health!, '/healthz')).status, 200);
  t.is((await get(mgr.ports.health!, '/readyz')).status, 200);
  await kubectlOk(['apply', '-f', '-'], iopYaml('m', ns, { profile: 'minimal', namespace: istioNs, revision: rev }));
  await waitForStatus(ns, 'm', 'HEALTHY');
  await waitFor('status gauge', async () =>
    /istio_operator_istiooperator_status\{[^}]*status="HEALTHY"\} 3/.test((await get(mgr.ports.metrics!, '/metrics')).text),
  );
  const m = (await get(mgr.ports.metrics!, '/metrics')).text;
  for (const name of [
    'istio_operator_reconciles_total',
    'istio_operator_reconcile_duration_seconds_bucket',
    'istio_operator_reconcile_errors_total',
    'istio_operator_writes_total',
    'istio_operator_queue_depth',
    'istio_operator_leader',
  ]) {
    t.true(m.includes(`# TYPE ${name.replace(/_bucket$/, '')}`), name);
  }
  t.regex(m, new RegExp(`istio_operator_istiooperator_status\\{namespace="${ns}",name="m",status="HEALTHY"\\} 3`));
  t.regex(m, /istio_operator_writes_total\{by="apply"\} [1-9]/);
  // Memory, in bytes, as Prometheus client libraries name it.
  for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes'])
    t.regex(m, new RegExp(`^${name} [1-9][0-9]{6,}$`, 'm'), name);
  await deleteIop(ns, 'm');
  await mgr.stop();
  await t.throwsAsync(() => get(mgr.ports.health!, '/healthz'), undefined, 'servers closed on stop');
});
