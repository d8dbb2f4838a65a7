import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { instanceName, operatorManifests, operatorRules } from '../../../operator/controller/selfmanifests.js';
import { createNamespace, kubectl, testKubeconfig, uniqueName, waitFor } from '../helpers/cluster.js';
import { deleteIop, ensureCRD, getJson, iopYaml, kubectlOk, ownedObjects, startOperator, waitForStatus } from './harness.js';

// The operator with exactly the RBAC that manifests/operator ships, enforced by the apiserver: a ServiceAccount
// token bound to that ClusterRole and lease Role, and nothing else. If the operator needs a right the manifests
// do not grant, this test fails with the apiserver's "forbidden"; if a rule uses a wildcard, it fails too.

test.before(ensureCRD);

test('every rule in manifests/operator names its groups, resources and verbs: no wildcard', (t) => {
  for (const r of operatorRules(operatorManifests())) {
    for (const f of ['apiGroups', 'resources', 'verbs'] as const) {
      t.false(
        r[f].some((x: string) => x.includes('*')),
        `${r.kind} ${r.name}: ${f} [${r[f].join(', ')}] has a wildcard`,
      );
    }
  }
});

test('the operator does its whole job with only the rights in manifests/operator', async (t) => {
  const ns = await createNamespace(t, 'iop-rbac');
  const istioNs = await createNamespace(t, 'iop-rbac-istio');
  const rev = uniqueName('b').slice(0, 12);
  const saName = uniqueName('iop-sa');
  const objs = operatorManifests({ namespace: ns, name: saName, includeCRD: false }).filter((o) =>
    ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind),
  );
  t.teardown(async () => {
    await kubectl(['delete', 'clusterrole,clusterrolebinding', instanceName(saName, ns), '--ignore-not-found']);
  });
  await kubectlOk(['apply', '-f', '-'], objs.map((o) => yaml.dump(o)).join('---\n'));

  // A kubeconfig holding only the ServiceAccount's token.
  const admin = yaml.load(fs.readFileSync(testKubeconfig(), 'utf8')) as any;
  const token = (await kubectlOk(['create', 'token', saName, '-n', ns, '--duration', '1h'])).trim();
  const cluster =
    admin.clusters.find((c: any) => c.name === admin.contexts.find((x: any) => x.name === admin['current-context']).context.cluster) ??
    admin.clusters[0];
  const kcFile = path.join(os.tmpdir(), `${saName}.kubeconfig`);
  fs.writeFileSync(
    kcFile,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: cluster.cluster }],
      users: [{ name: saName, user: { token } }],
      contexts: [{ name: 'sa', context: { cluster: 'c', user: saName } }],
      'current-context': 'sa',
    }),
    { mode: 0o600 },
  );
  t.teardown(() => fs.rmSync(kcFile, { force: true }));
  const can = async (...args: string[]) => (await kubectl(['--kubeconfig', kcFile, 'auth', 'can-i', ...args])).stdout.trim();
  // kubectl's --kubeconfig given twice: the later one (ours) wins.
  t.is(await can('create', 'deployments', '-n', istioNs), 'yes');
  t.is(await can('delete', 'customresourcedefinitions'), 'no', 'CRDs are never deleted by the operator');
  t.is(await can('get', 'secrets', '-n', istioNs), 'no');
  t.is(await can('update', 'leases', '-n', 'default'), 'no', 'leases only in its own namespace');

  const { mgr, logFile } = await startOperator(t, {
    namespaces: [ns],
    kubeconfig: kcFile,
    leaderElect: true,
    leaseNamespace: ns,
    leaseName: 'lock',
    leaseDurationMs: 5000,
  });
  await waitFor('leading', () => mgr.leading, { timeoutMs: 20_000 });
  const name = 'rbac-cp';
  // With the operator-generated plug-in CA, so the secrets rule (by name only) is exercised too; and ztunnel with its
  // quota, for the DaemonSet and ResourceQuota rules (the CNI agent's cluster-wide roles would be shared with other
  // test files installing it at the same time, so it stays out of this one).
  const spec = {
    profile: 'default',
    namespace: istioNs,
    revision: rev,
    components: { ca: { mode: 'operator' }, ztunnel: { enabled: true } },
    values: { ztunnel: { resourceQuotas: { enabled: true } } },
  };
  await kubectlOk(['apply', '-f', '-'], iopYaml(name, ns, spec));
  await waitForStatus(ns, name, 'HEALTHY');
  t.truthy(await getJson(['daemonset', '-n', istioNs, 'ztunnel']), "the ztunnel DaemonSet was applied under the operator's RBAC");
  t.truthy(await getJson(['resourcequota', '-n', istioNs, 'ztunnel']));
  const cacerts = await getJson(['secret', '-n', istioNs, 'cacerts']);
  t.truthy(cacerts?.data?.['ca-cert.pem'], "the plug-in CA was created under the operator's RBAC");
  t.is(await can('list', 'secrets', '-n', istioNs), 'no', 'secrets only by name');
  await kubectlOk([
    'patch',
    'istiooperator',
    '-n',
    ns,
    name,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { meshConfig: { accessLogFile: '/dev/stdout' } } }),
  ]);
  await waitFor(
    'mesh config edited',
    async () => /accessLogFile: \/dev\/stdout/.test((await getJson(['configmap', '-n', istioNs, `istio-${rev}`]))?.data?.mesh ?? ''),
    { timeoutMs: 30_000 },
  );
  await kubectlOk(['delete', 'deployment', '-n', istioNs, `istiod-${rev}`]);
  await waitFor('istiod recreated', () => getJson(['deployment', '-n', istioNs, `istiod-${rev}`]), { timeoutMs: 30_000 });
  await kubectlOk(['delete', 'daemonset', '-n', istioNs, 'ztunnel']);
  await waitFor('ztunnel recreated', () => getJson(['daemonset', '-n', istioNs, 'ztunnel']), { timeoutMs: 30_000 });
  await deleteIop(ns, name);
  t.deepEqual(await ownedObjects(name, ns), []);
  const events = await kubectlOk([
    'get',
    'events',
    '-n',
    ns,
    '--field-selector',
    `involvedObject.name=${name}`,
    '-o',
    'jsonpath={range .items[*]}{.reason}{" "}{end}',
  ]);
  t.regex(events, /Applied/);
  const lease = await getJson(['lease', '-n', ns, 'lock']);
  t.truthy(lease?.spec?.holderIdentity, 'the lease was taken with the Role');
  const log = fs.readFileSync(logFile, 'utf8');
  t.notRegex(log, /forbidden/i, 'no request was refused');
  t.is(mgr.m.errors.get(), 0);
});
