// `npm test`: one real control plane for the whole run, ava as a child, and a plain closing line
// `tests: N passed, N failed`. Arguments are forwarded to ava (`npm test -- dist/test/unit/x.test.js`).
//
// ISTIO_OPERATOR_TEST_KUBECONFIG=<file> runs the integration tests against an existing, disposable
// cluster instead of starting one. If the local control plane cannot be built or started the run
// fails: integration tests are never skipped silently.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { ensureBinaries, kubectlPath, repoRoot, startControlPlane, type ControlPlane } from './cluster/controlplane.js';
import { helmPath } from './helm/helm.js';

const args = process.argv.slice(2);
const avaCli = path.join(repoRoot, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');

/** Only when every positional argument names a unit test can the cluster be skipped. */
function needsCluster(argv: string[]): boolean {
  const positional = argv.filter((a) => !a.startsWith('-'));
  if (positional.length === 0) return true;
  return !positional.every((a) => /(^|\/)test\/unit\//.test(a.replace(/\\/g, '/')));
}

let cluster: ControlPlane | undefined;
let ava: ChildProcess | undefined;
let stopping: Promise<void> | undefined;

function stopCluster(): Promise<void> {
  stopping ??= cluster ? cluster.stop().catch((err: Error) => console.error(`stopping the control plane: ${err.message}`)) : Promise.resolve();
  return stopping;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping tests and the local control plane`);
    ava?.kill(sig);
    void stopCluster().then(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  });
}

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

async function main(): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const external = process.env.ISTIO_OPERATOR_TEST_KUBECONFIG;
  if (external) {
    console.log(`integration tests use the existing cluster in ISTIO_OPERATOR_TEST_KUBECONFIG=${external}`);
    env.KUBECONFIG = external;
  } else if (needsCluster(args)) {
    let binDir: string;
    try {
      binDir = await ensureBinaries();
      const t0 = Date.now();
      cluster = await startControlPlane({ binDir, log: (l) => console.log(`[cluster] ${l}`) });
      console.log(`[cluster] up in ${((Date.now() - t0) / 1000).toFixed(1)} s, kubeconfig ${cluster.kubeconfigPath}`);
    } catch (err) {
      console.error(`\nCannot run the integration tests: the local Kubernetes control plane failed.\n${(err as Error).message}`);
      console.error('(Set ISTIO_OPERATOR_TEST_KUBECONFIG to use an existing disposable cluster instead.)');
      console.log('tests: 0 passed, 1 failed');
      return 1;
    }
    env.ISTIO_OPERATOR_TEST_KUBECONFIG = cluster.kubeconfigPath;
    env.KUBECONFIG = cluster.kubeconfigPath;
    env.ISTIO_OPERATOR_KUBECTL ??= kubectlPath(binDir);
    // Tests of the harness itself start extra control planes from the same, already built binaries.
    env.ISTIO_OPERATOR_BIN_DIR = binDir;
  }
  if (needsCluster(args) && !env.ISTIO_OPERATOR_HELM) {
    // The chart's tests run real Helm; built once from its Go module (a no-op when cached), before ava's timeouts start.
    try {
      env.ISTIO_OPERATOR_HELM = helmPath();
    } catch (err) {
      console.error(`\nCannot run the chart's tests: ${(err as Error).message}`);
      await stopCluster();
      console.log('tests: 0 passed, 1 failed');
      return 1;
    }
  }
  if (process.stdout.isTTY && !('FORCE_COLOR' in env)) env.FORCE_COLOR = '1';

  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let summaryFailed = 0;
  const count = (line: string) => {
    const l = stripAnsi(line).trim();
    if (l.startsWith('✔ [expected fail]') || (l.startsWith('✔ ') && !l.startsWith('✔ ['))) passed++;
    else if (l.startsWith('✘ [fail]') || l.startsWith('✘ [unexpected pass]')) failed++;
    else if (l.startsWith('- [skip]')) skipped++;
    const m = /^(\d+) (?:tests? failed|hooks? failed|uncaught exceptions?|unhandled rejections?)$/.exec(l);
    if (m) summaryFailed += Number(m[1]);
  };

  const code = await new Promise<number>((resolve) => {
    ava = spawn(process.execPath, [avaCli, ...args], { cwd: repoRoot, env, stdio: ['inherit', 'pipe', 'pipe'] });
    for (const [stream, sink] of [
      [ava.stdout!, process.stdout],
      [ava.stderr!, process.stderr],
    ] as const) {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => {
        sink.write(d);
        buf += d;
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        lines.forEach(count);
      });
      stream.on('end', () => count(buf));
    }
    ava.on('error', (err) => {
      console.error(`could not start ava: ${err.message}`);
      resolve(1);
    });
    ava.on('close', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
  });

  await stopCluster();
  failed = Math.max(failed, summaryFailed);
  // A failure ava reports outside a test (timeout, crash, no tests found) still fails the run.
  if (code !== 0 && failed === 0) failed = 1;
  console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return code;
}

main().then(
  (code) => process.exit(code),
  async (err: Error) => {
    console.error(err.stack ?? err.message);
    await stopCluster();
    console.log('tests: 0 passed, 1 failed');
    process.exit(1);
  },
);
