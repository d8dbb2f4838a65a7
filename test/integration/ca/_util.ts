// Helpers for the CA integration tests: IstioOperators for a test namespace, the secrets as the cluster
// holds them (read with kubectl, not through our client), openssl on files, and the CLI.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import type { CaSpec } from '../../../operator/api/types.js';
import type { ResolvedInstall } from '../../../operator/api/install.js';
import { KubeClient } from '../../../operator/apply/client.js';
import { kubectl, testKubeconfig } from '../helpers/cluster.js';

export function iopYaml(namespace: string, ca: CaSpec, name = 'ca-test'): string {
  return JSON.stringify({
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { name },
    spec: { namespace, components: { ca } },
  });
}

export function iopFor(namespace: string, ca: CaSpec, name = 'ca-test'): ResolvedInstall {
  return resolveIstioOperator({ files: [{ name: 'test.yaml', text: iopYaml(namespace, ca, name) }] }).install;
}

export function client(t: ExecutionContext): KubeClient {
  const c = KubeClient.fromOptions({ kubeconfig: testKubeconfig() });
  t.teardown(() => c.close());
  return c;
}

export interface LiveSecret {
  resourceVersion: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Decoded data. */
  files: Record<string, string>;
}

export async function secret(ns: string, name: string): Promise<LiveSecret | undefined> {
  const r = await kubectl(['get', 'secret', '-n', ns, name, '-o', 'json']);
  if (r.code !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(`kubectl get secret ${ns}/${name}: ${r.stderr}`);
  }
  const o = JSON.parse(r.stdout);
  const files: Record<string, string> = {};
  for (const [k, v] of Object.entries<string>(o.data ?? {})) files[k] = Buffer.from(v, 'base64').toString('utf8');
  return { resourceVersion: o.metadata.resourceVersion, labels: o.metadata.labels ?? {}, annotations: o.metadata.annotations ?? {}, files };
}

export async function secretNames(ns: string): Promise<string[]> {
  const r = await kubectl(['get', 'secrets', '-n', ns, '-o', 'jsonpath={.items[*].metadata.name}']);
  return r.stdout.split(/\s+/).filter(Boolean).sort();
}

export async function createSecret(ns: string, name: string, files: Record<string, string>): Promise<void> {
  const data = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  const r = await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, type: 'Opaque', data }),
  });
  if (r.code !== 0) throw new Error(`kubectl apply secret ${ns}/${name}: ${r.stderr}`);
}

/** Writes files into a temp dir (removed after the test) and returns its path. */
export function writeFiles(t: ExecutionContext, files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-it-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [k, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, k), v);
  return dir;
}

/** openssl with its output; throws with stderr when it fails. */
export function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `openssl verify`, true when it says OK. `at` verifies at that time (the tests move the clock). */
export function verifies(caFile: string, cert: string, at?: Date, untrusted?: string): boolean {
  try {
    const args = [
      'verify',
      ...(at ? ['-attime', String(Math.floor(at.getTime() / 1000))] : []),
      '-CAfile',
      caFile,
      ...(untrusted ? ['-untrusted', untrusted] : []),
      cert,
    ];
    return /: OK\s*$/.test(openssl(args));
  } catch {
    return false;
  }
}

export function serialOf(certPem: string): string {
  return new X509Certificate(certPem).serialNumber;
}

export function countCerts(pem: string | undefined): number {
  return (pem ?? '').match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
}

// The CLI runner is the apply tests' (same flags, same kubeconfig, stdin not a TTY).
export { cli, type CliResult } from '../apply/_util.js';

/** Every base64 body line of every PEM private key in `texts`: what must never appear in output. */
export function keyBodyLines(...texts: string[]): string[] {
  const out: string[] = [];
  for (const t of texts) {
    for (const block of t.match(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g) ?? []) {
      out.push(...block.split('\n').filter((l) => l && !l.startsWith('-----')));
    }
  }
  return out;
}

export const minutes = (n: number) => n * 60_000;
export const later = (t0: Date, ms: number) => new Date(t0.getTime() + ms);
