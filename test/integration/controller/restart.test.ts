// Issue #18 item 2: after the API server restarts, the operator repairs drift within seconds. It kills and restarts
// kube-apiserver, so it runs on a control plane of its own (the shared one serves every other test file).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { Manager } from '../../../operator/controller/manager.js';
import { jsonLogger } from '../../../operator/controller/log.js';
import { startControlPlane, type ControlPlane } from '../../cluster/controlplane.js';
import { kubectl, uniqueName, waitEstablished, waitFor } from '../helpers/cluster.js';
import { CRD_FILE, iopYaml } from './harness.js';

let cp: ControlPlane;
test.before(async () => {
  cp = await startControlPlane({ log: () => {} });
});
test.after.always(async () => {
  await cp?.stop();
});

const k = async (args: string[], input?: string) => {
  const r = await kubectl(args, { kubeconfig: cp.kubeconfigPath, ...(input !== undefined ? { input } : {}) });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const getJson = async (args: string[]) => {
  const r = await kubectl(['get', ...args, '-o', 'json'], { kubeconfig: cp.kubeconfigPath, timeoutMs: 5_000 });
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
};

test('the API server is killed and restarted under a running operator; a deleted istiod Deployment is repaired within 10 s of it being ready', async (t) => {
  t.timeout(300_000);
  await k(['apply', '--server-side', '-f', CRD_FILE]);
  await waitEstablished('istiooperators.install.istio.io', { kubeconfig: cp.kubeconfigPath });
  const ns = uniqueName('restart');
  const istioNs = uniqueName('restart-istio');
  await k(['create', 'namespace', ns]);
  await k(['create', 'namespace', istioNs]);

  const logFile = path.join(os.tmpdir(), `istio-operator-restart-${process.pid}.log`);
  const stream = fs.createWriteStream(logFile);
  const mgr = new Manager({
    kubeconfig: cp.kubeconfigPath,
    namespaces: [ns],
    trustedNamespaces: [ns],
    concurrency: 2,
    log: jsonLogger({ level: 'debug', stream }),
  } as ConstructorParameters<typeof Manager>[0]);
  t.teardown(async () => {
    await mgr.stop('test end');
    stream.end();
  });
  await mgr.start();
  await k(['apply', '-f', '-'], iopYaml('cp', ns, { profile: 'minimal', namespace: istioNs }));
  await waitFor('HEALTHY', async () => (await getJson(['istiooperator', '-n', ns, 'cp']))?.status?.status === 'HEALTHY', {
    timeoutMs: 120_000,
  });
  const before = await getJson(['deployment', '-n', istioNs, 'istiod']);
  t.truthy(before);

  // Down for 15 s: long enough that the informers' old backoff (0.5 s doubling to 30 s) would have reached 8-16 s.
  const { killedAt, readyAt } = await cp.restartApiServer({ downMs: 15_000 });
  t.log(`kube-apiserver down ${readyAt - killedAt} ms (killed, 15 s pause, restarted, /readyz 200)`);
  await k(['delete', 'deployment', '-n', istioNs, 'istiod', '--wait=false']);
  const deletedAt = Date.now();
  await waitFor(
    'istiod recreated',
    async () => {
      const d = await getJson(['deployment', '-n', istioNs, 'istiod']);
      return d && d.metadata.uid !== before.metadata.uid && !d.metadata.deletionTimestamp;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  const repairedAt = Date.now();
  const repairMs = repairedAt - readyAt;
  t.log(`repair: istiod recreated ${repairMs} ms after the API server was ready again (${repairedAt - deletedAt} ms after the delete)`);
  t.log(
    `watch errors during the outage: ${[...mgr.ownedInformers.values()].reduce((n, i) => n + i.stats.errors, 0)} (operator log: ${logFile})`,
  );
  t.true(repairMs < 10_000, `repair took ${repairMs} ms after the API server was ready`);
});
