import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { createNamespace, kubectl, testKubeconfig, uniqueName, waitFor } from '../helpers/cluster.js';
import { deleteIop, ensureCRD, getJson, iopYaml, kubectlOk, ownedObjects, startOperator, waitForStatus } from '../controller/harness.js';
import { CHART, helmOk } from '../../helm/helm.js';

// The chart with real Helm on the local control plane, as a user runs it:
//   helm install into a namespace that enforces Pod Security "restricted": the operator's pods are admitted;
//   an IstioOperator installed by an operator that holds only the chart's ServiceAccount and RBAC;
//   helm upgrade with changed values changes only the objects those values are in;
//   helm uninstall removes the operator and leaves the IstioOperator CRD, the IstioOperators and the Istio they
//   installed in place (docs/operator.md, "Uninstalling the operator").
// kwok plays the node, so the pods the Deployment creates turn Ready without running; the operator itself runs in
// this process, authenticated with a token of the chart's ServiceAccount. The chart watches only this test's
// namespace, so its cluster-wide admission policy leaves other tests alone.

test.before(ensureCRD);

/** A kubeconfig holding only a token of `sa`: what a pod of the Deployment would have. */
async function saKubeconfig(t: import('ava').ExecutionContext, ns: string, sa: string): Promise<string> {
  const admin = yaml.load(fs.readFileSync(testKubeconfig(), 'utf8')) as any;
  const token = (await kubectlOk(['create', 'token', sa, '-n', ns, '--duration', '1h'])).trim();
  const file = path.join(os.tmpdir(), `${ns}-${sa}.kubeconfig`);
  fs.writeFileSync(
    file,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: admin.clusters[0].cluster }],
      users: [{ name: sa, user: { token } }],
      contexts: [{ name: 'sa', context: { cluster: 'c', user: sa } }],
      'current-context': 'sa',
    }),
    { mode: 0o600 },
  );
  t.teardown(() => fs.rmSync(file, { force: true }));
  return file;
}

const kubeArgs = () => ['--kubeconfig', testKubeconfig()];

test('helm install in a restricted namespace, upgrade changes only what it should, uninstall leaves the CRD and Istio', async (t) => {
  const ns = await createNamespace(t, 'helm-op', {
    'pod-security.kubernetes.io/enforce': 'restricted',
    'pod-security.kubernetes.io/enforce-version': 'latest',
  });
  const istioNs = await createNamespace(t, 'helm-istio');
  const release = uniqueName('op');
  const cluster = `${release}.${ns}`;
  let installed = false;
  t.teardown(async () => {
    if (installed)
      await kubectl([
        'delete',
        'clusterrole,clusterrolebinding,validatingadmissionpolicy,validatingadmissionpolicybinding',
        cluster,
        '--ignore-not-found',
      ]);
  });

  // The namespace really enforces "restricted": a pod without the restricted settings is refused.
  const bad = await kubectl(['run', 'bad', '-n', ns, '--image=example.com/x', '--dry-run=server']);
  t.regex(bad.stderr, /violates PodSecurity "restricted/);

  await helmOk(['install', release, CHART, '-n', ns, ...kubeArgs(), '--set', `watchNamespaces={${ns}}`, '--wait', '--timeout', '2m']);
  installed = true;
  const dep = await getJson(['deployment', '-n', ns, release]);
  t.is(dep.status.readyReplicas, 2, 'both replicas admitted and Ready');
  const rs = JSON.parse(await kubectlOk(['get', 'replicaset', '-n', ns, '-o', 'json'])).items;
  t.false(
    rs.some((r: any) => (r.status.conditions ?? []).some((c: any) => c.type === 'ReplicaFailure')),
    'no pod was refused',
  );

  // The operator as the chart's ServiceAccount acts on an IstioOperator in its namespace (trusted by default).
  const kc = await saKubeconfig(t, ns, release);
  const { mgr } = await startOperator(t, {
    namespaces: [ns],
    kubeconfig: kc,
    leaseNamespace: ns,
    ...({ trustedNamespaces: [ns, 'istio-system'] } as object),
  });
  const rev = uniqueName('h').slice(0, 10);
  await kubectlOk(['apply', '-f', '-'], iopYaml('mesh', ns, { profile: 'minimal', namespace: istioNs, revision: rev }));
  await waitForStatus(ns, 'mesh', 'HEALTHY', 120_000);

  // helm upgrade: log level, replicas and trust change the Deployment and the admission policy, nothing else.
  const kinds = 'serviceaccount,role,rolebinding,service,deployment';
  const clusterKinds = 'clusterrole,clusterrolebinding,validatingadmissionpolicy,validatingadmissionpolicybinding';
  const versions = async () => {
    const all = [
      ...JSON.parse(await kubectlOk(['get', kinds, '-n', ns, '-l', `app.kubernetes.io/instance=${release}`, '-o', 'json'])).items,
      ...JSON.parse(await kubectlOk(['get', clusterKinds, cluster, '-o', 'json'])).items,
    ];
    return Object.fromEntries(all.map((o: any) => [`${o.kind}/${o.metadata.name}`, o.metadata.resourceVersion]));
  };
  const before = await versions();
  t.is(Object.keys(before).length, 9);
  await helmOk([
    'upgrade',
    release,
    CHART,
    '-n',
    ns,
    ...kubeArgs(),
    '--reuse-values',
    '--set',
    'logLevel=debug,replicas=1',
    '--set',
    `trustedNamespaces={${ns},istio-system,${istioNs}}`,
    '--wait',
    '--timeout',
    '2m',
  ]);
  const after = await versions();
  const changed = Object.keys(before)
    .filter((k) => before[k] !== after[k])
    .sort();
  t.deepEqual(changed, [`Deployment/${release}`, `ValidatingAdmissionPolicy/${cluster}`]);
  const dep2 = await getJson(['deployment', '-n', ns, release]);
  t.is(dep2.spec.replicas, 1);
  t.true(dep2.spec.template.spec.containers[0].args.includes('--log-level=debug'));
  t.true(dep2.spec.template.spec.containers[0].args.includes(`--trusted-namespaces=${ns},istio-system,${istioNs}`));
  const vap = await getJson(['validatingadmissionpolicy', cluster]);
  t.is(vap.spec.variables[0].expression, JSON.stringify([ns, 'istio-system', istioNs]));

  // helm uninstall: the operator goes (its pods would get SIGTERM; here the in-process one stops), Istio stays.
  await mgr.stop('helm uninstall');
  await helmOk(['uninstall', release, '-n', ns, ...kubeArgs(), '--wait', '--timeout', '2m']);
  t.falsy(await getJson(['deployment', '-n', ns, release]), 'the operator is gone');
  t.falsy(await getJson(['clusterrole', cluster]), 'its RBAC is gone');
  t.falsy(await getJson(['validatingadmissionpolicy', cluster]), 'its admission policy is gone');
  t.truthy(await getJson(['crd', 'istiooperators.install.istio.io']), 'the CRD stays (Helm never deletes crds/)');
  const iop = await getJson(['istiooperator', '-n', ns, 'mesh']);
  t.is(iop?.status?.status, 'HEALTHY', 'the IstioOperator stays');
  t.truthy(await getJson(['deployment', '-n', istioNs, `istiod-${rev}`]), 'the Istio it installed stays');
  t.true((await ownedObjects('mesh', ns)).length > 5);

  // Removing Istio needs an operator: one runs again (as an admin here), and deleting the IstioOperator uninstalls.
  await startOperator(t, { namespaces: [ns], leaseNamespace: ns, ...({ trustedNamespaces: [ns] } as object) });
  await deleteIop(ns, 'mesh', 90_000);
  await waitFor('the install removed', async () => (await ownedObjects('mesh', ns)).length === 0, { timeoutMs: 30_000 });
  t.pass();
});
