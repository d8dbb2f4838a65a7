import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import { instanceName, operatorManifests } from '../../../operator/controller/selfmanifests.js';
import { kubectl, testKubeconfig, uniqueName } from '../helpers/cluster.js';
import { kubectlOk, startOperator } from './harness.js';

// An in-process operator that holds exactly the rights manifests/operator ships: a ServiceAccount bound to that
// ClusterRole and lease Role, and a kubeconfig with only its token. What the apiserver refuses it, the test sees.

export interface RestrictedOperator {
  mgr: Awaited<ReturnType<typeof startOperator>>['mgr'];
  logFile: string;
  kubeconfig: string;
  serviceAccount: string;
  namespace: string;
  /** The cluster-scoped RBAC objects (deleted at the end of the test). */
  clusterRbac: string[];
}

export async function startRestrictedOperator(
  t: ExecutionContext,
  namespaces: string[],
  extra: Record<string, unknown> = {},
): Promise<RestrictedOperator> {
  const ns = namespaces[0]!;
  const sa = uniqueName('iop-sa');
  const objs = operatorManifests({ namespace: ns, name: sa, includeCRD: false }).filter((o) =>
    ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind),
  );
  const cluster = [instanceName(sa, ns)];
  t.teardown(async () => {
    await kubectl(['delete', 'clusterrole,clusterrolebinding', ...cluster, '--ignore-not-found']);
  });
  await kubectlOk(['apply', '-f', '-'], objs.map((o) => yaml.dump(o)).join('---\n'));
  const admin = yaml.load(fs.readFileSync(testKubeconfig(), 'utf8')) as any;
  const token = (await kubectlOk(['create', 'token', sa, '-n', ns, '--duration', '1h'])).trim();
  const c =
    admin.clusters.find((x: any) => x.name === admin.contexts.find((y: any) => y.name === admin['current-context']).context.cluster) ??
    admin.clusters[0];
  const kcFile = path.join(os.tmpdir(), `${sa}.kubeconfig`);
  fs.writeFileSync(
    kcFile,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: c.cluster }],
      users: [{ name: sa, user: { token } }],
      contexts: [{ name: 'sa', context: { cluster: 'c', user: sa } }],
      'current-context': 'sa',
    }),
    { mode: 0o600 },
  );
  t.teardown(() => fs.rmSync(kcFile, { force: true }));
  const { mgr, logFile } = await startOperator(t, { namespaces, kubeconfig: kcFile, ...extra });
  return { mgr, logFile, kubeconfig: kcFile, serviceAccount: sa, namespace: ns, clusterRbac: cluster };
}
