// Where the local control plane's binaries come from: build.sh builds them from upstream Go modules once and
// caches them; ISTIO_OPERATOR_BIN_DIR names an already built set.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/cluster → repo root (also right for test/cluster when run from source). */
export const repoRoot = path.resolve(here, here.split(path.sep).includes('dist') ? '../../..' : '../..');
const BUILD_SCRIPT = path.join(repoRoot, 'test', 'cluster', 'build.sh');
export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
export type Component = (typeof COMPONENTS)[number];

/**
 * Returns the directory with the control plane's binaries, building them first if needed.
 * ISTIO_OPERATOR_BIN_DIR short-circuits the build (used by the detached `cluster up` server).
 * build.sh's progress goes to our stderr so a first, slow build is visible.
 */
export async function ensureBinaries(): Promise<string> {
  const preset = process.env.ISTIO_OPERATOR_BIN_DIR;
  if (preset) {
    for (const c of COMPONENTS) {
      if (!fs.existsSync(path.join(preset, c))) throw new Error(`ISTIO_OPERATOR_BIN_DIR=${preset} has no ${c} binary`);
    }
    return preset;
  }
  const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
  });
  if (code !== 0) {
    throw new Error(
      `building the local control plane failed (bash ${path.relative(process.cwd(), BUILD_SCRIPT)} exited ${code}; its output is above)`,
    );
  }
  const dir = out.trim().split('\n').pop() ?? '';
  if (!dir || !fs.existsSync(path.join(dir, 'kube-apiserver'))) {
    throw new Error(`build.sh did not print the binaries' directory as its last line (got ${JSON.stringify(dir)})`);
  }
  return dir;
}

/** Kubectl built next to the control plane, if present (build.sh builds it), else the one on PATH. */
export function kubectlPath(binDir: string | undefined): string {
  if (binDir && fs.existsSync(path.join(binDir, 'kubectl'))) return path.join(binDir, 'kubectl');
  return 'kubectl';
}
