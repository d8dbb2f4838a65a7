import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { createNamespace, testKubeconfig, uniqueName, waitFor } from '../helpers/cluster.js';
import { deleteIop, ensureCRD, getJson, iopYaml, kubectlOk, waitForStatus } from './harness.js';

// Two operator processes on one Lease: exactly one reconciles; kill -9 it and the other takes over within the
// lease duration; a SIGTERM'd leader finishes, releases the lease and a standby takes over at once.

test.before(ensureCRD);

const LEASE_MS = 4000;
const BIN = path.resolve(process.cwd(), 'bin/istio-operator.js');

interface Proc {
  child: ChildProcess;
  lines: any[];
  identity?: string;
  exited?: number | null;
}

function startProcess(t: ExecutionContext, ns: string): Proc {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'operator',
      '--kubeconfig',
      testKubeconfig(),
      '--namespaces',
      ns,
      '--leader-elect',
      '--lease-namespace',
      ns,
      '--lease-name',
      'lock',
      '--lease-duration',
      `${LEASE_MS}ms`,
      '--metrics-addr',
      '0',
      '--health-addr',
      '0',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const p: Proc = { child, lines: [] };
  let buf = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const j = JSON.parse(line);
        j.at = Date.now();
        p.lines.push(j);
        if (j.msg === 'started leading') p.identity = j.identity;
      } catch {
        p.lines.push({ msg: line, at: Date.now() });
      }
    }
  });
  child.on('exit', (code) => (p.exited = code));
  t.teardown(() => {
    if (p.exited === undefined && child.pid) process.kill(child.pid, 'SIGKILL');
  });
  return p;
}

const leads = (p: Proc) => p.lines.find((l) => l.msg === 'started leading');

test('one of two operators leads; kill it and the other takes over within the lease time', async (t) => {
  const ns = await createNamespace(t, 'iop-leader');
  const istioNs = await createNamespace(t, 'iop-leader-istio');
  const rev = uniqueName('l').slice(0, 12);
  const a = startProcess(t, ns);
  const b = startProcess(t, ns);
  await waitFor('a leader', () => leads(a) || leads(b), { timeoutMs: 60_000 });
  const [leader, standby] = leads(a) ? [a, b] : [b, a];
  await new Promise((r) => setTimeout(r, LEASE_MS)); // the standby keeps standing by
  t.falsy(leads(standby), 'only one leads');

  const name = 'ha';
  await kubectlOk(['apply', '-f', '-'], iopYaml(name, ns, { profile: 'minimal', namespace: istioNs, revision: rev }));
  await waitForStatus(ns, name, 'HEALTHY');
  t.false(
    standby.lines.some((l) => l.msg === 'reconciled'),
    'the standby never reconciles',
  );

  const killedAt = Date.now();
  leader.child.kill('SIGKILL');
  await waitFor('standby takes over', () => leads(standby), { timeoutMs: 3 * LEASE_MS });
  const takeoverMs = leads(standby).at - killedAt;
  t.log(`kill -9 leader → standby leads: ${takeoverMs} ms (lease ${LEASE_MS} ms)`);
  // Expiry is judged from when the standby last saw the lease change, checked every retry period (lease/7.5).
  t.true(takeoverMs <= LEASE_MS + 2 * (LEASE_MS / 7.5) + 1000, `${takeoverMs} ms`);

  // The new leader reconciles: drift is repaired.
  await kubectlOk(['delete', 'deployment', '-n', istioNs, `istiod-${rev}`]);
  await waitFor('istiod recreated by the new leader', () => getJson(['deployment', '-n', istioNs, `istiod-${rev}`]), { timeoutMs: 30_000 });

  // A clean SIGTERM releases the lease: a third process takes over at once, not after expiry.
  const c = startProcess(t, ns);
  await waitFor('third process synced', () => c.lines.some((l) => l.msg === 'caches synced'), { timeoutMs: 60_000 });
  await new Promise((r) => setTimeout(r, 1000));
  const termAt = Date.now();
  standby.child.kill('SIGTERM');
  await waitFor('clean exit', () => standby.exited !== undefined, { timeoutMs: 30_000 });
  t.is(standby.exited, 0);
  t.true(standby.lines.some((l) => l.msg === 'released the lease'));
  await waitFor('third process leads', () => leads(c), { timeoutMs: 3 * LEASE_MS });
  const handoffMs = leads(c).at - termAt;
  t.log(`SIGTERM leader → next leads: ${handoffMs} ms`);
  t.true(handoffMs < LEASE_MS, `${handoffMs} ms: a released lease is taken without waiting for expiry`);

  await deleteIop(ns, name);
  c.child.kill('SIGTERM');
  await waitFor('c exits', () => c.exited !== undefined, { timeoutMs: 30_000 });
});
