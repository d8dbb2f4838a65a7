// Helpers for the apply integration tests: run the real CLI against the test cluster, and read objects back.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import { KubeClient } from '../../../operator/apply/client.js';
import { Resources, refOf, type ObjectRef } from '../../../operator/apply/resources.js';
import { render, type K8sObject } from '../../../operator/render/index.js';
import { testKubeconfig, uniqueName } from '../helpers/cluster.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const bin = path.join(root, 'bin', 'istio-operator.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `istio-operator <args>` against the test cluster (or `kubeconfig`), stdin not a TTY. */
export function cli(args: string[], opts: { kubeconfig?: string | null; env?: Record<string, string> } = {}): Promise<CliResult> {
  const kc =
    opts.kubeconfig === undefined ? ['--kubeconfig', testKubeconfig()] : opts.kubeconfig === null ? [] : ['--kubeconfig', opts.kubeconfig];
  const flagsAfterCommand = [args[0]!, ...args.slice(1), ...kc];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...flagsAfterCommand], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CI: '1', ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export interface Install {
  name: string;
  namespace: string;
  revision: string;
  file: string;
}

/** An IstioOperator file with its own name, namespace and revision, so tests never share objects. */
export function iopFile(
  t: ExecutionContext,
  namespace: string,
  profile: string,
  spec: Record<string, unknown> = {},
  revision?: string,
): Install {
  const name = uniqueName(`iop-${profile}`).slice(0, 40);
  const rev = revision ?? `r${uniqueName('x').slice(2, 10)}`;
  const doc = {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { name, namespace },
    spec: {
      profile,
      namespace,
      revision: rev,
      ...spec,
      values: { ...((spec.values as object) ?? {}), global: { istioNamespace: namespace } },
    },
  };
  const file = path.join(os.tmpdir(), `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(doc));
  t.teardown(() => fs.rmSync(file, { force: true }));
  return { name, namespace, revision: rev, file };
}

/** What the CLI renders for the same input, in-process. */
export function rendered(file: string, sets: string[] = []): K8sObject[] {
  return render(resolveIstioOperator({ files: [{ name: file, text: fs.readFileSync(file, 'utf8') }], sets }).install).objects;
}

/** `N write requests` of the install summary. */
export function writesIn(stdout: string): number {
  const m = /(\d+) write requests?/.exec(stdout);
  if (!m) throw new Error(`no write count in output:\n${stdout}`);
  return Number(m[1]);
}

/**
 * Writes of the install summary not counting CRD applies. CRDs are shared by every install in the cluster
 * (other tests, other files running at the same time relabel them), so tests about one install's own
 * objects discount them; the no-op test does not.
 */
export function ownWrites(stdout: string): number {
  const crdLines = stdout.split('\n').filter((l) => /^(created|configured|replaced) CustomResourceDefinition /.test(l)).length;
  return writesIn(stdout) - crdLines;
}

export function client(): KubeClient {
  return KubeClient.fromOptions({ kubeconfig: testKubeconfig() });
}

/** Live objects for refs (undefined where missing). */
export async function readAll(refs: ObjectRef[]): Promise<Array<Record<string, any> | undefined>> {
  const c = client();
  const res = new Resources(c);
  try {
    return await Promise.all(
      refs.map(async (r) => {
        const ref = { ...r };
        if (!(await res.namespaced(ref.apiVersion, ref.kind))) delete ref.namespace;
        return c.request<Record<string, any>>('GET', await res.path(ref), { allow404: true });
      }),
    );
  } finally {
    c.close();
  }
}

export function refs(objects: K8sObject[]): ObjectRef[] {
  return objects.map(refOf);
}

/** resourceVersion of each object, keyed kind/ns/name; CRDs (shared by all installs) only if asked. */
export async function versions(all: K8sObject[], opts: { crds?: boolean } = {}): Promise<Record<string, string | undefined>> {
  const objects = opts.crds ? all : all.filter((o) => o.kind !== 'CustomResourceDefinition');
  const live = await readAll(refs(objects));
  return Object.fromEntries(objects.map((o, i) => [`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, versionOf(live[i])]));
}

/** Kinds whose status Kubernetes' controllers keep writing (each write a new resourceVersion): not ours. */
const STATUS_WRITTEN = new Set(['Deployment', 'DaemonSet', 'HorizontalPodAutoscaler', 'PodDisruptionBudget']);

/**
 * What changes when we write the object: its resourceVersion; for the kinds above (whose status and revision
 * annotation Kubernetes' controllers write after each rollout) the generation and our own managedFields entries.
 */
export function versionOf(o: Record<string, any> | undefined): string | undefined {
  if (!o) return undefined;
  if (!STATUS_WRITTEN.has(o.kind)) return o.metadata?.resourceVersion;
  const ours = (o.metadata?.managedFields ?? []).filter((m: any) => String(m.manager).startsWith('istio-operator'));
  return `generation ${o.metadata?.generation} ${JSON.stringify(ours)}`;
}

/** Uninstalls a revision at teardown (best effort), so cluster-scoped objects do not pile up. */
export function cleanupRevision(t: ExecutionContext, rev: string): void {
  t.teardown(async () => {
    await cli(['uninstall', '--revision', rev, '--force', '-y']);
  });
}
