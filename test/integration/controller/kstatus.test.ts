import test from 'ava';
import { kstatus } from '../../kstatus/kstatus.js';
import { createNamespace, uniqueName } from '../helpers/cluster.js';
import { deleteIop, ensureCRD, getJson, iopYaml, kubectlOk, startOperator, waitForStatus } from './harness.js';

// Issue #18 (3): Flux's health checks and cli-utils read an IstioOperator through kstatus. These tests put live
// IstioOperators in each state the operator reports and ask the real kstatus library (test/kstatus, Go) what it
// concludes: Current only when HEALTHY and observed, InProgress while reconciling or not yet observed, Failed when
// stalled, Terminating while a deletion is held.

test.before(async () => {
  await ensureCRD();
  kstatus([]); // build the reader first (cached): a failure to build fails here, saying why
});

const live = async (ns: string, name: string) => getJson(['istiooperator', '-n', ns, name]);
const kstatusOf = async (ns: string, name: string) => kstatus([await live(ns, name)])[0]!;

test.serial('HEALTHY is Current; an edit not yet observed is InProgress', async (t) => {
  const ns = await createNamespace(t, 'ks-ready');
  const istioNs = await createNamespace(t, 'ks-ready-istio');
  await startOperator(t, { namespaces: [ns] });
  const rev = uniqueName('k').slice(0, 10);
  await kubectlOk(['apply', '-f', '-'], iopYaml('cp', ns, { profile: 'minimal', namespace: istioNs, revision: rev }));
  await waitForStatus(ns, 'cp', 'HEALTHY');
  const ready = await kstatusOf(ns, 'cp');
  t.is(ready.status, 'Current', ready.message);

  // Paused, then edited: the generation moves past observedGeneration, and kstatus must not call it Current.
  await kubectlOk(['annotate', 'istiooperator', '-n', ns, 'cp', 'install.istio.io/ignoreReconcile=true']);
  await kubectlOk(
    ['apply', '-f', '-'],
    iopYaml(
      'cp',
      ns,
      { profile: 'minimal', namespace: istioNs, revision: rev, values: { pilot: { env: { KS: '1' } } } },
      { 'install.istio.io/ignoreReconcile': 'true' },
    ),
  );
  const stale = await kstatusOf(ns, 'cp');
  t.is(stale.status, 'InProgress', stale.message);
  t.regex(stale.message, /generation/i);
});

test.serial('RECONCILING (a control plane not ready yet) is InProgress', async (t) => {
  const ns = await createNamespace(t, 'ks-progress');
  const istioNs = await createNamespace(t, 'ks-progress-istio');
  await startOperator(t, { namespaces: [ns] });
  // istiod's pods fit no node: the Deployment waits (not refused, not past its deadline), so the install is in progress.
  const spec = {
    profile: 'minimal',
    namespace: istioNs,
    revision: uniqueName('k').slice(0, 10),
    components: { pilot: { k8s: { nodeSelector: { 'no-such-node': 'true' } } } },
  };
  await kubectlOk(['apply', '-f', '-'], iopYaml('cp', ns, spec));
  const iop = await waitForStatus(
    ns,
    'cp',
    (i) => i.status?.status === 'RECONCILING' && i.status.observedGeneration === i.metadata.generation,
  );
  const r = kstatus([iop])[0]!;
  t.is(r.status, 'InProgress', r.message);
  // The status says why, in the scheduler's words.
  const said = await waitForStatus(ns, 'cp', (i) => /Unschedulable/.test(i.status?.message ?? ''));
  t.regex(said.status.message, /pod istiod-[^:]+: Unschedulable: 0\/\d+ nodes are available/);
  t.is(said.status.status, 'RECONCILING', 'a node may still come: not an error');
});

test.serial('ERROR (a spec the operator refuses) is Failed, with the reason', async (t) => {
  const ns = await createNamespace(t, 'ks-failed');
  const istioNs = await createNamespace(t, 'ks-failed-istio');
  await startOperator(t, { namespaces: [ns] });
  // A negative number: the CRD's quantity pattern checks strings, the operator refuses the value.
  const spec = {
    profile: 'minimal',
    namespace: istioNs,
    revision: uniqueName('k').slice(0, 10),
    components: { pilot: { k8s: { resources: { requests: { cpu: -1 } } } } },
  };
  await kubectlOk(['apply', '-f', '-'], iopYaml('cp', ns, spec));
  const iop = await waitForStatus(ns, 'cp', (i) => i.status?.status === 'ERROR' && i.status.observedGeneration === i.metadata.generation);
  const r = kstatus([iop])[0]!;
  t.is(r.status, 'Failed', r.message);
  t.regex(r.message, /spec\.components\.pilot\.k8s\.resources\.requests\.cpu/);
});

test.serial('a deletion held while the revision is in use is Terminating, and the status says why', async (t) => {
  const ns = await createNamespace(t, 'ks-held');
  const istioNs = await createNamespace(t, 'ks-held-istio');
  await startOperator(t, { namespaces: [ns] });
  const rev = uniqueName('k').slice(0, 10);
  await kubectlOk(['apply', '-f', '-'], iopYaml('cp', ns, { profile: 'minimal', namespace: istioNs, revision: rev }));
  await waitForStatus(ns, 'cp', 'HEALTHY');
  const user = await createNamespace(t, 'ks-held-user', { 'istio.io/rev': rev });
  await kubectlOk(['delete', 'istiooperator', '-n', ns, 'cp', '--wait=false']);
  const held = await waitForStatus(ns, 'cp', (i) => i.status?.status === 'ACTION_REQUIRED');
  const r = kstatus([held])[0]!;
  t.is(r.status, 'Terminating', r.message);
  t.regex(held.status.message, new RegExp(user));
  await kubectlOk(['label', 'namespace', user, 'istio.io/rev-']);
  await kubectlOk(['annotate', 'istiooperator', '-n', ns, 'cp', 'test/nudge=1']);
  await deleteIop(ns, 'cp');
});
