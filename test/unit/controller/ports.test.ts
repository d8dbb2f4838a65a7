import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../../../operator/controller/metrics.js';

// Issue #18 item 7: a busy metrics or health address is reported with the address and the flag that changes it.

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../bin/istio-operator.js');

async function busyPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return { port: (s.address() as net.AddressInfo).port, close: () => new Promise((r) => s.close(() => r())) };
}

test('serve: a busy address names the address and the flag', async (t) => {
  const busy = await busyPort();
  t.teardown(busy.close);
  const e = await t.throwsAsync(serve(`127.0.0.1:${busy.port}`, {}, '--metrics-addr'));
  t.regex(e!.message, new RegExp(`address 127\\.0\\.0\\.1:${busy.port} is already in use`));
  t.regex(e!.message, /--metrics-addr=HOST:PORT/);
  t.is((e as NodeJS.ErrnoException).code, 'EADDRINUSE');
});

function kubeconfig(t: any): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ports-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'kubeconfig');
  fs.writeFileSync(
    f,
    `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
  );
  return f;
}

for (const flag of ['--metrics-addr', '--health-addr']) {
  test(`operator ${flag} on a busy port: exit non-zero, the address and the flag named, no stack`, async (t) => {
    const busy = await busyPort();
    t.teardown(busy.close);
    const other = flag === '--metrics-addr' ? '--health-addr' : '--metrics-addr';
    const r = spawnSync(
      process.execPath,
      [BIN, 'operator', '--kubeconfig', kubeconfig(t), flag, `127.0.0.1:${busy.port}`, other, '0', '--log-level', 'error'],
      { encoding: 'utf8', timeout: 30_000, env: { ...process.env, KUBERNETES_SERVICE_HOST: '' } },
    );
    t.not(r.status, 0);
    t.regex(
      r.stderr,
      new RegExp(`error: address 127\\.0\\.0\\.1:${busy.port} is already in use by another process; choose another with ${flag}=HOST:PORT`),
    );
    t.notRegex(r.stderr, /at .*\.js:\d+/);
  });
}

test('operator: a malformed address is an input error naming the flag', (t) => {
  const r = spawnSync(process.execPath, [BIN, 'operator', '--kubeconfig', kubeconfig(t), '--metrics-addr', '127.0.0.1:99999'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.is(r.status, 1);
  t.regex(r.stderr, /error: --metrics-addr: "127\.0\.0\.1:99999" is not a listen address/);
});
