// Shared helpers for integration tests, which run against the one real control plane that
// `npm test` (test/run.ts) starts for the whole run, or against ISTIO_OPERATOR_TEST_KUBECONFIG.
//
//   import { createNamespace, kubeConfig, kubectl, waitFor } from './helpers/cluster.js';
//   test('x', async (t) => {
//     const ns = await createNamespace(t, 'x');          // unique, deleted after the test
//     const core = kubeConfig().makeApiClient(CoreV1Api);
//     await waitFor('pod ready', async () => ..., { timeoutMs: 60_000 });
//   });
//
// Each test works in its own namespaces, so test files may run in parallel on one cluster.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { ExecutionContext } from 'ava';

/** Path of the kubeconfig for the test cluster; throws if the tests were not started through `npm test`. */
export function testKubeconfig(): string {
  const file = process.env.ISTIO_OPERATOR_TEST_KUBECONFIG;
  if (!file) {
    throw new Error(
      'ISTIO_OPERATOR_TEST_KUBECONFIG is not set: integration tests need a cluster. Run them through ' +
        '`npm test -- dist/test/integration/<file>.test.js` (it starts a local control plane), or point ' +
        'ISTIO_OPERATOR_TEST_KUBECONFIG at the kubeconfig of a disposable cluster (kind, k3d, `npm run cluster:up`).',
    );
  }
  return file;
}

/** A fresh KubeConfig for @kubernetes/client-node, loaded from the test cluster's kubeconfig. */
export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testKubeconfig());
  return kc;
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Runs kubectl against the test cluster. Never throws on a non-zero exit: check `code`.
 * Uses ISTIO_OPERATOR_KUBECTL (set by test/run.ts to the kubectl built with the control plane),
 * else `kubectl` on PATH.
 */
export function kubectl(args: string[], opts: { input?: string; timeoutMs?: number; kubeconfig?: string } = {}): Promise<KubectlResult> {
  const bin = process.env.ISTIO_OPERATOR_KUBECTL || 'kubectl';
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['--kubeconfig', opts.kubeconfig ?? testKubeconfig(), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => reject(new Error(`could not run ${bin}: ${err.message}`)));
    child.on('close', (code, signal) => resolve({ stdout, stderr, code: code ?? (signal ? 128 : 1) }));
    child.stdin.end(opts.input ?? '');
  });
}

/** A DNS-1123 label `<prefix>-<random>`, unique per call. */
export function uniqueName(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 50) || 'test';
  return `${clean}-${randomBytes(4).toString('hex')}`;
}

/**
 * Creates a namespace with a unique name for this test and deletes it when the test ends
 * (t.teardown; deletion is not awaited to completion, the namespace controller finishes it).
 * `labels` lets a test opt in to things like revision labels.
 */
export async function createNamespace(t: ExecutionContext, prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const name = uniqueName(prefix);
  const core = kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespace({
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'istio-operator.test/owner': 'integration', ...labels } } },
  });
  t.teardown(async () => {
    try {
      await core.deleteNamespace({ name });
    } catch {
      // Already gone, or the cluster is being torn down: nothing to clean.
    }
  });
  return name;
}

/**
 * Polls `check` until it returns a truthy value, which is returned. Errors thrown by `check` count as
 * "not yet". On timeout, throws naming `what` and the last error or value seen.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${opts.timeoutMs ?? 60_000} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}

/**
 * Waits until the API server serves a CRD's kind (condition Established). Not `kubectl wait`: for a CRD created a
 * moment ago, whose status has no conditions yet, kubectl 1.33 fails at once (".status.conditions accessor error:
 * <nil>") instead of waiting.
 */
export async function waitEstablished(crd: string, opts: { kubeconfig?: string; timeoutMs?: number } = {}): Promise<void> {
  await waitFor(
    `CRD ${crd} to be Established`,
    async () => {
      const r = await kubectl(['get', 'crd', crd, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}'], {
        timeoutMs: 10_000,
        ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
      });
      if (r.code !== 0) throw new Error(r.stderr.trim());
      return r.stdout.trim() === 'True';
    },
    { timeoutMs: opts.timeoutMs ?? 60_000 },
  );
}

/** HTTP status of an error thrown by @kubernetes/client-node (ApiException.code), or undefined. */
export function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
