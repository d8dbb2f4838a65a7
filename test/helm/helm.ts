// Real Helm for the chart's tests, built from its Go module by test/helm/build.sh (cached in
// ~/.cache/istio-operator/helm-<version>). test/run.ts builds it before the tests start and passes its path in
// ISTIO_OPERATOR_HELM; run alone, a test builds it here (a no-op once built).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../cluster/controlplane.js';

export const HELM_BUILD_SCRIPT = path.join(repoRoot, 'test', 'helm', 'build.sh');

/** The helm binary: ISTIO_OPERATOR_HELM, else build.sh's (its progress goes to our stderr). */
export function helmPath(): string {
  const preset = process.env.ISTIO_OPERATOR_HELM;
  if (preset) {
    if (!fs.existsSync(preset)) throw new Error(`ISTIO_OPERATOR_HELM=${preset} does not exist`);
    return preset;
  }
  const r = spawnSync('bash', [HELM_BUILD_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !fs.existsSync(path.join(dir, 'helm')))
    throw new Error(`building helm failed (bash ${HELM_BUILD_SCRIPT} exited ${r.status}; its output is above)`);
  process.env.ISTIO_OPERATOR_HELM = path.join(dir, 'helm');
  return process.env.ISTIO_OPERATOR_HELM;
}

// Helm keeps a cache, config and data folder; one per process in temp space, so tests never read or write the
// user's (~/.config/helm), and nothing outlives the run's TMPDIR.
let homes: string | undefined;
function helmEnv(): NodeJS.ProcessEnv {
  homes ??= fs.mkdtempSync(path.join(os.tmpdir(), 'istio-operator-helm-'));
  return {
    ...process.env,
    HELM_CACHE_HOME: path.join(homes, 'cache'),
    HELM_CONFIG_HOME: path.join(homes, 'config'),
    HELM_DATA_HOME: path.join(homes, 'data'),
  };
}

export interface HelmResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs helm; never throws on a non-zero exit (check `code`). */
export function helm(args: string[], opts: { timeoutMs?: number } = {}): Promise<HelmResult> {
  const bin = helmPath();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: helmEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => reject(new Error(`could not run ${bin}: ${err.message}`)));
    child.on('close', (code, signal) => resolve({ stdout, stderr, code: code ?? (signal ? 128 : 1) }));
  });
}

export async function helmOk(args: string[]): Promise<string> {
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export const CHART = path.join(repoRoot, 'charts', 'istio-operator');
