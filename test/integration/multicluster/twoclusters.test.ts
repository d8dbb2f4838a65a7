// Issue #19: multi-cluster tests need two clusters side by side. The one `npm test` shares is A; B is a second local
// control plane started here. They must be two clusters, not two names for one: their own etcd (what is created on
// one is not on the other), their own CA and credentials (neither trusts nor admits the other's), their own ports
// and files, and stopping B leaves A serving.
import fs from 'node:fs';
import https from 'node:https';
import test from 'ava';
import { alive } from '../../cluster/pid.js';
import { kubeConfig, kubectl, testKubeconfig, uniqueName, waitFor } from '../helpers/cluster.js';
import { startSecondCluster } from '../helpers/secondcluster.js';

/** Status of a GET with this CA and token, or the TLS/network error's message. */
function get(server: string, path: string, ca: string, token?: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.request(
      new URL(path, server),
      { ca, timeout: 5000, headers: token ? { Authorization: `Bearer ${token}` } : {} },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
}

test('a second control plane is a cluster of its own: its own data, CA, credentials, ports, files and name', async (t) => {
  t.timeout(300_000);
  const a = kubeConfig();
  const aCluster = a.getCurrentCluster()!;
  const aUser = a.getCurrentUser()!;
  const aCa = aCluster.caData ? Buffer.from(aCluster.caData, 'base64').toString() : fs.readFileSync(aCluster.caFile!, 'utf8');

  const b = await startSecondCluster(t, { name: 'c2' });
  t.true(b.startMs > 0 && b.rss.total > 0, JSON.stringify(b.rss));

  // Names, servers, files: nothing shared.
  t.is(b.name, 'c2');
  t.not(aCluster.name, b.name);
  t.is(b.kubeConfig().getCurrentCluster()?.name, 'c2');
  t.is(b.kubeConfig().getCurrentContext(), 'c2');
  t.not(b.server, aCluster.server);
  t.not(b.kubeconfig, testKubeconfig());
  t.not(b.caPem.trim(), aCa.trim());

  // Trust: each server is verified by its own CA only.
  t.is(await get(b.server, '/readyz', b.caPem, b.plane.adminToken), 200);
  t.regex(
    String(await get(b.server, '/readyz', aCa)),
    /self[- ]signed|unable to verify|certificate/i,
    "B's certificate does not chain to A's CA",
  );
  t.regex(
    String(await get(aCluster.server, '/readyz', b.caPem)),
    /self[- ]signed|unable to verify|certificate/i,
    "A's certificate does not chain to B's CA",
  );
  // Credentials: A's admin is nobody on B.
  if (aUser.token) t.is(await get(b.server, '/api/v1/namespaces', b.caPem, aUser.token), 401);

  // Data: a namespace made on B exists only on B, and one made on A only on A.
  const onB = uniqueName('only-on-b');
  const onA = uniqueName('only-on-a');
  t.is((await kubectl(['create', 'namespace', onB], { kubeconfig: b.kubeconfig })).code, 0);
  t.is((await kubectl(['create', 'namespace', onA])).code, 0);
  t.teardown(() => kubectl(['delete', 'namespace', onA, '--wait=false']).then(() => undefined));
  t.is((await kubectl(['get', 'namespace', onB], { kubeconfig: b.kubeconfig })).code, 0);
  t.regex((await kubectl(['get', 'namespace', onB])).stderr, /NotFound|not found/);
  t.regex((await kubectl(['get', 'namespace', onA], { kubeconfig: b.kubeconfig })).stderr, /NotFound|not found/);
  // Each has its own fake node and its own kube-system, brought up by its own controllers.
  t.is(
    (await kubectl(['get', 'node', b.plane.nodeName, '-o', 'name'], { kubeconfig: b.kubeconfig })).stdout.trim(),
    `node/${b.plane.nodeName}`,
  );
  await waitFor(
    `B's serviceaccount controller fills ${onB}`,
    async () => (await kubectl(['get', 'serviceaccount', 'default', '-n', onB], { kubeconfig: b.kubeconfig })).code === 0,
    { timeoutMs: 60_000 },
  );

  // Stopping B kills its processes by pid and removes its files; A keeps serving.
  const rssAfter = b.rssNow();
  const pids = b.plane.processes();
  t.deepEqual(pids.map((p) => p.name).sort(), ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']);
  await b.stop();
  t.deepEqual(
    pids.filter((p) => alive(p.pid)),
    [],
    'every component of B is gone',
  );
  t.false(fs.existsSync(b.plane.dataDir), "B's data dir is removed");
  t.is((await kubectl(['get', '--raw', '/readyz'])).stdout.trim(), 'ok', 'A still serves');
  t.log(
    `second plane: start ${(b.startMs / 1000).toFixed(1)} s (apiserver /readyz at ${(b.plane.timings.readyzMs / 1000).toFixed(1)} s), RSS KiB at start ${JSON.stringify(b.rss)}, after the test ${JSON.stringify(rssAfter)}`,
  );
});
