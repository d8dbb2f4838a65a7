import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { instanceName, operatorManifests } from '../../../operator/controller/selfmanifests.js';
import { repoRoot } from '../../cluster/controlplane.js';
import { createNamespace, kubectl, testKubeconfig, uniqueName, waitFor } from '../helpers/cluster.js';
import { deleteIop, ensureCRD, getJson, iopYaml, kubectlOk, ownedObjects, waitForStatus } from '../controller/harness.js';

// The image's application, without a container runtime: scripts/app-layout.sh (the script the Dockerfile runs)
// makes the layout in a clean folder (the npm package's files, `npm ci --omit=dev`), and the operator runs from
// it as the image's entrypoint would: no kubeconfig, no HOME config, the in-cluster path
// (KUBERNETES_SERVICE_HOST/PORT, and the service-account token and CA files, in ISTIO_OPERATOR_SA_DIR instead of
// /var/run/secrets/...), a token of a ServiceAccount bound to the shipped RBAC only, and POD_NAMESPACE as the
// downward API sets it. It must take an IstioOperator to HEALTHY and remove it again.

test.before(ensureCRD);

function makeLayout(): { dir: string; ms: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'istio-operator-app-'));
  const t0 = Date.now();
  const r = spawnSync('bash', [path.join(repoRoot, 'scripts', 'app-layout.sh'), dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/app-layout.sh exited ${r.status}: ${r.stderr}`);
  return { dir, ms: Date.now() - t0 };
}

test('the image layout: production dependencies only, and it renders byte-identically to the CLI', (t) => {
  const { dir, ms } = makeLayout();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  t.log(`layout made in ${(ms / 1000).toFixed(1)} s`);
  for (const dev of ['typescript', 'ava', 'fengari'])
    t.false(fs.existsSync(path.join(dir, 'node_modules', dev)), `${dev} is a dev dependency`);
  t.false(fs.existsSync(path.join(dir, 'dist', 'test')));
  t.false(fs.existsSync(path.join(dir, 'operator')), 'no TypeScript sources');
  t.true(fs.existsSync(path.join(dir, 'dist', 'operator', 'cache', 'templates.cjs')), 'the render cache is in');
  const render = (bin: string) =>
    spawnSync(process.execPath, [bin, 'render', '--set', 'profile=default'], { encoding: 'utf8', cwd: os.tmpdir() });
  const inLayout = render(path.join(dir, 'bin', 'istio-operator.js'));
  t.is(inLayout.status, 0, inLayout.stderr);
  t.is(inLayout.stdout, render(path.join(repoRoot, 'bin', 'istio-operator.js')).stdout);
});

test('the operator from the image layout, in-cluster config and the shipped RBAC, takes an IstioOperator to HEALTHY', async (t) => {
  const { dir } = makeLayout();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ns = await createNamespace(t, 'layout-op');
  const istioNs = await createNamespace(t, 'layout-istio');
  const name = uniqueName('op');
  const rbac = operatorManifests({ namespace: ns, name, watchNamespaces: [ns], includeCRD: false }).filter((o) =>
    ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind),
  );
  t.teardown(async () => {
    await kubectl(['delete', 'clusterrole,clusterrolebinding', instanceName(name, ns), '--ignore-not-found']);
  });
  await kubectlOk(['apply', '-f', '-'], rbac.map((o) => yaml.dump(o)).join('---\n'));

  // What the kubelet mounts for a pod: token, ca.crt, namespace.
  const admin = yaml.load(fs.readFileSync(testKubeconfig(), 'utf8')) as any;
  const server = new URL(admin.clusters[0].cluster.server);
  const saDir = fs.mkdtempSync(path.join(os.tmpdir(), 'istio-operator-sa-'));
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'istio-operator-home-'));
  t.teardown(() => {
    fs.rmSync(saDir, { recursive: true, force: true });
    fs.rmSync(home, { recursive: true, force: true });
  });
  fs.writeFileSync(path.join(saDir, 'token'), (await kubectlOk(['create', 'token', name, '-n', ns, '--duration', '1h'])).trim());
  fs.writeFileSync(path.join(saDir, 'ca.crt'), Buffer.from(admin.clusters[0].cluster['certificate-authority-data'], 'base64'));
  fs.writeFileSync(path.join(saDir, 'namespace'), ns);

  const logFile = path.join(os.tmpdir(), `${name}.log`);
  const log = fs.openSync(logFile, 'w');
  // Loopback ports the process picks itself; the environment is a pod's, nothing of ours leaks in.
  const child = spawn(
    process.execPath,
    [
      path.join(dir, 'bin', 'istio-operator.js'),
      'operator',
      '--namespaces',
      ns,
      '--leader-elect',
      '--lease-namespace',
      ns,
      '--lease-name',
      `${name}-lock`,
      '--lease-duration',
      '5s',
      '--metrics-addr',
      '127.0.0.1:0',
      '--health-addr',
      '127.0.0.1:0',
      '--log-level',
      'debug',
    ],
    {
      cwd: dir,
      stdio: ['ignore', log, log],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        TMPDIR: os.tmpdir(),
        KUBERNETES_SERVICE_HOST: server.hostname,
        KUBERNETES_SERVICE_PORT: server.port,
        ISTIO_OPERATOR_SA_DIR: saDir,
        POD_NAMESPACE: ns,
      },
    },
  );
  fs.closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(logFile, { force: true });
  });

  const rev = uniqueName('l').slice(0, 10);
  await kubectlOk(['apply', '-f', '-'], iopYaml('mesh', ns, { profile: 'minimal', namespace: istioNs, revision: rev }));
  try {
    await waitForStatus(ns, 'mesh', 'HEALTHY', 120_000);
  } catch (e) {
    t.log(fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n'));
    throw e;
  }
  t.truthy(await getJson(['deployment', '-n', istioNs, `istiod-${rev}`]));
  const lease = await getJson(['lease', '-n', ns, `${name}-lock`]);
  t.truthy(lease?.spec?.holderIdentity, 'it led, through the lease Role');

  await deleteIop(ns, 'mesh', 90_000);
  t.deepEqual(await ownedObjects('mesh', ns), []);
  // SIGTERM, as the kubelet sends: it finishes, releases the lease and exits 0.
  child.kill('SIGTERM');
  t.is(await exited, 0);
  const text = fs.readFileSync(logFile, 'utf8');
  t.notRegex(text, /forbidden/i, 'no request was refused under the shipped RBAC');
  t.notRegex(text, /no Kubernetes cluster configured/);
  await waitFor('lease released', async () => !(await getJson(['lease', '-n', ns, `${name}-lock`]))?.spec?.holderIdentity, {
    timeoutMs: 10_000,
  });
});
