// `npm run cluster:up` / `cluster:down`: the local control plane for people (the quick start's default
// target). `up` starts a detached server process that owns the control plane and prints, as its last
// line, `export KUBECONFIG=<path>`; `down` stops it and removes every file it made.
// State lives in <repo>/.cluster/ (gitignored): server.pid, server.log, kubeconfig, data/.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinaries, kubectlPath, repoRoot, startControlPlane } from './controlplane.js';
import { alive } from './pid.js';

const stateDir = process.env.ISTIO_OPERATOR_CLUSTER_DIR ?? path.join(repoRoot, '.cluster');
const pidFile = path.join(stateDir, 'server.pid');
const readyFile = path.join(stateDir, 'ready');
const failedFile = path.join(stateDir, 'failed');
const logFile = path.join(stateDir, 'server.log');
const kubeconfig = path.join(stateDir, 'kubeconfig');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function serverPid(): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    return pid && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function up(): Promise<number> {
  if (serverPid() && fs.existsSync(readyFile)) {
    console.log(fs.readFileSync(readyFile, 'utf8').trim());
    console.log(`export KUBECONFIG=${kubeconfig}`);
    return 0;
  }
  if (serverPid()) {
    console.error(`a local control plane is starting or stuck (pid ${serverPid()}); see ${logFile} or run \`npm run cluster:down\``);
    return 1;
  }
  fs.rmSync(stateDir, { recursive: true, force: true }); // leftovers of a server that died
  const binDir = await ensureBinaries();
  fs.mkdirSync(stateDir, { recursive: true });
  const out = fs.openSync(logFile, 'a');
  const server = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, ISTIO_OPERATOR_BIN_DIR: binDir },
  });
  fs.closeSync(out);
  server.unref();
  console.error('starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)...');
  const deadline = Date.now() + 240_000;
  for (;;) {
    if (fs.existsSync(readyFile)) break;
    const failed = fs.existsSync(failedFile) || (server.pid !== undefined && !alive(server.pid));
    if (failed || Date.now() > deadline) {
      const why = fs.existsSync(failedFile)
        ? fs.readFileSync(failedFile, 'utf8')
        : `no report; last lines of ${logFile}:\n${tailOf(logFile)}`;
      if (server.pid && alive(server.pid)) process.kill(server.pid, 'SIGTERM');
      await waitGone(server.pid);
      fs.rmSync(stateDir, { recursive: true, force: true });
      console.error(`the local control plane did not start: ${why}`);
      return 1;
    }
    await sleep(200);
  }
  console.log(fs.readFileSync(readyFile, 'utf8').trim());
  console.log(`stop it with: npm run cluster:down`);
  console.log(`export KUBECONFIG=${kubeconfig}`);
  return 0;
}

function tailOf(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitGone(pid: number | undefined, ms = 30_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (pid && alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

async function down(): Promise<number> {
  const pid = serverPid();
  if (pid) {
    process.kill(pid, 'SIGTERM');
    if (!(await waitGone(pid))) {
      // The server's reaper notices its death and kills the components.
      process.kill(pid, 'SIGKILL');
      await waitGone(pid, 5_000);
      const data = path.join(stateDir, 'data');
      const deadline = Date.now() + 10_000;
      while (fs.existsSync(data) && Date.now() < deadline) await sleep(200);
    }
    console.log('local control plane stopped');
  } else {
    console.log('no local control plane was running');
  }
  fs.rmSync(stateDir, { recursive: true, force: true });
  return 0;
}

/** The detached process that owns the control plane until `down` sends SIGTERM. */
async function serve(): Promise<number> {
  fs.writeFileSync(pidFile, String(process.pid));
  let stop: (() => Promise<void>) | undefined;
  let exiting = false;
  const shutdown = async (code: number) => {
    if (exiting) return;
    exiting = true;
    await stop?.();
    fs.rmSync(stateDir, { recursive: true, force: true });
    process.exit(code);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void shutdown(0));
  try {
    const cp = await startControlPlane({
      dataDir: path.join(stateDir, 'data'),
      kubeconfigPath: kubeconfig,
      log: (l) => console.log(`${new Date().toISOString()} ${l}`),
    });
    stop = cp.stop;
    if (exiting) await cp.stop();
    const kubectl = kubectlPath(process.env.ISTIO_OPERATOR_BIN_DIR);
    fs.writeFileSync(
      readyFile,
      `local control plane ready: ${cp.server} (apiserver ready in ${cp.timings.readyzMs} ms, node ${cp.nodeName} Ready in ${cp.timings.nodeReadyMs} ms)\n` +
        `kubectl: ${kubectl}; component logs: ${path.join(cp.dataDir, 'logs')}`,
    );
    await new Promise(() => {}); // until a signal
    return 0;
  } catch (err) {
    fs.writeFileSync(failedFile, (err as Error).message);
    console.error((err as Error).message);
    // Leave the state dir for `up` to report from; it removes it.
    process.exit(1);
  }
}

const cmd = process.argv[2];
const handlers: Record<string, () => Promise<number>> = { up, down, serve };
const handler = cmd ? handlers[cmd] : undefined;
if (!handler) {
  console.error('usage: node dist/test/cluster/cli.js up|down');
  process.exit(2);
}
handler().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
