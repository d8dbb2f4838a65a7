import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { resolveIstioOperator } from '../../operator/api/resolve.js';
import { packageRoot } from '../../operator/paths.js';
import { render, toYamlStream } from '../../operator/render/index.js';

// `istio-operator install` against `kubectl apply --server-side` of the very same rendered objects, both as
// whole processes from an empty namespace (CRDs are shared and present for both), alternating, 3 rounds each;
// then the no-op install (same input again): write requests and wall time.

const line = (label: string, value: string, target?: string, ok?: boolean) =>
  console.log(`  ${label.padEnd(44)} ${value.padStart(12)}${target ? `   target ${target.padEnd(10)} ${ok ? 'OK' : 'OVER TARGET'}` : ''}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function kubectlBin(): string {
  if (process.env.ISTIO_OPERATOR_KUBECTL) return process.env.ISTIO_OPERATOR_KUBECTL;
  const cached = path.join(os.homedir(), '.cache', 'istio-operator', 'k8s-v1.33.4', 'kubectl');
  return fs.existsSync(cached) ? cached : 'kubectl';
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): { ms: number; status: number | null; stdout: string; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd: packageRoot, encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  return { ms: performance.now() - t0, status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export const installSection = {
  name: 'install (server-side apply on a live cluster) vs kubectl apply --server-side',
  needsCluster: true,
  async run(): Promise<void> {
    const kc = (process.env.ISTIO_OPERATOR_TEST_KUBECONFIG || process.env.KUBECONFIG!).split(':')[0]!;
    const env = { ...process.env, KUBECONFIG: kc, CI: '1' };
    const kubectl = kubectlBin();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-install-'));
    const cleanups: Array<() => void> = [];
    const ours: number[] = [];
    const theirs: number[] = [];
    let noop: { ms: number; writes: number; dryRuns: number } | undefined;
    try {
      for (let round = 0; round < 3; round++) {
        for (const who of round % 2 ? (['ours', 'kubectl'] as const) : (['kubectl', 'ours'] as const)) {
          const id = randomBytes(3).toString('hex');
          const ns = `bench-inst-${id}`;
          const rev = `b${id}`;
          const iop = {
            apiVersion: 'install.istio.io/v1alpha1',
            kind: 'IstioOperator',
            metadata: { name: `bench-${id}`, namespace: ns },
            spec: { profile: 'demo', namespace: ns, revision: rev, values: { global: { istioNamespace: ns } } },
          };
          const iopFile = path.join(tmp, `${id}.json`);
          fs.writeFileSync(iopFile, JSON.stringify(iop));
          const objects = render(resolveIstioOperator({ files: [{ name: iopFile, text: JSON.stringify(iop) }] }).install).objects;
          const yamlFile = path.join(tmp, `${id}.yaml`);
          fs.writeFileSync(yamlFile, toYamlStream(objects));
          // Cleanup must never delete the CRDs: every install in the cluster shares them.
          const deleteFile = path.join(tmp, `${id}-delete.yaml`);
          fs.writeFileSync(deleteFile, toYamlStream(objects.filter((x) => x.kind !== 'CustomResourceDefinition')));
          // Both start with the namespace present, as `istio-operator install` would create it.
          spawnSync(kubectl, ['create', 'namespace', ns], { env, encoding: 'utf8' });
          if (who === 'kubectl') {
            cleanups.push(
              () => void spawnSync(kubectl, ['delete', '-f', deleteFile, '--ignore-not-found', '--wait=false'], { env }),
              () => void spawnSync(kubectl, ['delete', 'namespace', ns, '--wait=false'], { env }),
            );
            const r = timed(
              kubectl,
              ['apply', '--server-side', '--force-conflicts', '--field-manager', 'bench-kubectl', '-f', yamlFile],
              env,
            );
            if (r.status !== 0) throw new Error(`kubectl apply failed: ${r.stderr.trim().split('\n')[0]}`);
            theirs.push(r.ms);
          } else {
            const cli = path.join('bin', 'istio-operator.js');
            cleanups.push(
              () => void spawnSync(process.execPath, [cli, 'uninstall', '--revision', rev, '--force', '-y'], { env, cwd: packageRoot }),
              () => void spawnSync(kubectl, ['delete', 'namespace', ns, '--wait=false'], { env }),
            );
            const r = timed(process.execPath, [cli, 'install', '-f', iopFile, '-y', '--wait=false'], env);
            if (r.status !== 0) throw new Error(`istio-operator install failed: ${r.stderr.trim().split('\n')[0]}`);
            ours.push(r.ms);
            if (round === 2) {
              const again = timed(process.execPath, [cli, 'install', '-f', iopFile, '-y', '--wait=false'], env);
              const w = /(\d+) write requests?, (\d+) dry-runs?/.exec(again.stdout);
              noop = { ms: again.ms, writes: w ? Number(w[1]) : NaN, dryRuns: w ? Number(w[2]) : NaN };
            }
          }
        }
      }
    } finally {
      for (const c of cleanups.reverse()) c();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    const o = median(ours);
    const k = median(theirs);
    console.log(`  demo profile, whole processes, median of ${ours.length} installs each into an empty namespace (CRDs present)`);
    line('istio-operator install (--wait=false)', `${o.toFixed(0)} ms`);
    line('kubectl apply --server-side, same objects', `${k.toFixed(0)} ms`);
    line('ratio istio-operator / kubectl', `${(o / k).toFixed(2)}x`, '<= 1.3x', o / k <= 1.3);
    if (noop) {
      line('no-op install: write requests', String(noop.writes), '0', noop.writes === 0);
      line('no-op install: dry-run requests', String(noop.dryRuns));
      line('no-op install: wall time', `${noop.ms.toFixed(0)} ms`);
    }
  },
};
