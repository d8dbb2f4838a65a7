// `npm test`: one real control plane for the whole run, ava as a child, and a plain closing line
// `tests: N passed, N failed`. Arguments are forwarded to ava (`npm test -- dist/test/unit/x.test.js`).
//
// ISTIO_OPERATOR_TEST_KUBECONFIG=<file> runs the integration tests against an existing, disposable
// cluster instead of starting one. If the local control plane cannot be built or started the run
// fails: integration tests are never skipped silently.
//
// The tests that run the real istiod (test/integration/istio/) need its binaries (built first, by
// test/istio/build.sh; a failure fails the run) and run after all the others, on the same control plane, one
// file at a time: they own what `istio-injection=enabled` selects, which every other install's default tag
// competes for, and each istiod writes its mesh's root into every namespace (see phases()).
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { ensureBinaries, kubectlPath, repoRoot, startControlPlane, type ControlPlane } from './cluster/controlplane.js';
import { helmPath } from './helm/helm.js';
import { istiodBinaries } from './istio/binaries.js';
import { testedReleases } from './istio/releases.js';

const args = process.argv.slice(2);
const avaCli = path.join(repoRoot, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');

const ISTIO_TESTS = 'dist/test/integration/istio/';

/** No file named: everything. Else whether a named file, folder or pattern may hold istio tests. */
function needsIstiod(argv: string[]): boolean {
  const positional = argv.filter((a) => !a.startsWith('-')).map((a) => a.replace(/\\/g, '/'));
  if (positional.length === 0) return true;
  return positional.some(
    (a) => !/(^|\/)test\/unit\//.test(a) && (a.includes('integration/istio') || /[*{]/.test(a) || /(^|\/)integration\/?$/.test(a)),
  );
}

/**
 * ava runs, in order: the named files as one run; or everything but the istio tests, then the istio tests.
 * Istio test files run one at a time: each istiod is a mesh's control plane and writes its root certificate into
 * every namespace (istio-ca-root-cert), so two meshes at once fight over it, as they would in a real cluster.
 */
function phases(argv: string[]): string[][] {
  const oneFileAtATime = '--concurrency=1';
  if (argv.some((a) => !a.startsWith('-'))) return [needsIstiod(argv) ? [...argv, oneFileAtATime] : argv];
  return [
    // A filter of exclusions only would select nothing: name what is included (within package.json's ava.files).
    [...argv, 'dist/test/**/*.test.js', `!${ISTIO_TESTS}**`],
    [...argv, oneFileAtATime, `${ISTIO_TESTS}**/*.test.js`],
  ];
}

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
  stopping ??= cluster
    ? cluster.stop().catch((err: Error) => console.error(`stopping the control plane: ${err.message}`))
    : Promise.resolve();
  return stopping;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping tests and the local control plane`);
    ava?.kill(sig);
    void stopCluster().then(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  });
}

// eslint-disable-next-line no-control-regex -- ESC starts the ANSI colour codes being stripped
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

async function main(): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const external = process.env.ISTIO_OPERATOR_TEST_KUBECONFIG;
  if (external) {
    console.log(`integration tests use the existing cluster in ISTIO_OPERATOR_TEST_KUBECONFIG=${external}`);
    env.KUBECONFIG = external;
  }
  if (needsIstiod(args)) {
    const releases = testedReleases();
    try {
      const t0 = Date.now();
      const bins = await istiodBinaries(releases);
      console.log(
        `[istio] istiod ${[...bins.keys()].join(', ')} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${[...bins.values()].join(' ')}`,
      );
    } catch (err) {
      console.error(`\nCannot run the Istio integration tests: ${(err as Error).message}`);
      console.log('tests: 0 passed, 1 failed');
      return 1;
    }
  }
  if (!external && needsCluster(args)) {
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
    // Local processes (istiod run by test/istio) register here to serve their Services to kube-apiserver.
    env.ISTIO_OPERATOR_TEST_ENDPOINTS_DIR = cluster.endpointsDir;
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

  const runAva = (avaArgs: string[]) =>
    new Promise<number>((resolve) => {
      ava = spawn(process.execPath, [avaCli, ...avaArgs], { cwd: repoRoot, env, stdio: ['inherit', 'pipe', 'pipe'] });
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
  let code = 0;
  const list = phases(args);
  for (const [i, p] of list.entries()) {
    if (list.length > 1) console.log(`\n==> ava ${i + 1}/${list.length}: ${p.filter((a) => !a.startsWith('-')).join(' ')}`);
    const c = await runAva(p);
    if (c !== 0) code = c;
  }

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
