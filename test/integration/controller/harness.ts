import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import { Manager, type ManagerOptions } from '../../../operator/controller/manager.js';
import { jsonLogger } from '../../../operator/controller/log.js';
import { kubectl, testKubeconfig, waitEstablished, waitFor } from '../helpers/cluster.js';

// Shared by the controller's integration tests: an in-process operator per test, IstioOperators applied with
// kubectl (as a user or Argo CD would), and waits on their live status.

export const CRD_FILE = path.resolve(process.cwd(), 'crds/install.istio.io_istiooperators.yaml');

export async function ensureCRD(): Promise<void> {
  const r = await kubectl(['apply', '--server-side', '--force-conflicts', '-f', CRD_FILE]);
  if (r.code !== 0) throw new Error(`applying the IstioOperator CRD failed: ${r.stderr}`);
  await waitEstablished('istiooperators.install.istio.io');
}

/** Starts an operator in this process, watching only `namespaces`; stopped when the test ends. Logs go to a file. */
export async function startOperator(
  t: ExecutionContext,
  opts: Partial<ManagerOptions> & { namespaces: string[] },
): Promise<{ mgr: Manager; logFile: string }> {
  const logFile = path.join(os.tmpdir(), `istio-operator-${opts.namespaces[0]}-${process.pid}-${Date.now()}.log`);
  const stream = fs.createWriteStream(logFile);
  const mgr = new Manager({ kubeconfig: testKubeconfig(), concurrency: 2, log: jsonLogger({ level: 'debug', stream }), ...opts });
  t.teardown(async () => {
    await mgr.stop('test end');
    stream.end();
  });
  await mgr.start();
  return { mgr, logFile };
}

export function iopYaml(name: string, namespace: string, spec: Record<string, unknown>, annotations?: Record<string, string>): string {
  return yaml.dump({
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    spec,
  });
}

export async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input !== undefined ? { input } : {});
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

export async function getJson(args: string[]): Promise<any | undefined> {
  const r = await kubectl(['get', ...args, '-o', 'json']);
  if (r.code !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(`kubectl get ${args.join(' ')}: ${r.stderr}`);
  }
  return JSON.parse(r.stdout);
}

export async function waitForStatus(ns: string, name: string, want: string | ((iop: any) => boolean), timeoutMs = 90_000): Promise<any> {
  return waitFor(
    `IstioOperator ${ns}/${name} ${typeof want === 'string' ? `status ${want}` : 'condition'}`,
    async () => {
      const iop = await getJson(['istiooperator', '-n', ns, name]);
      if (!iop) return false;
      const ok =
        typeof want === 'string' ? iop.status?.status === want && iop.status?.observedGeneration === iop.metadata.generation : want(iop);
      return ok ? iop : false;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** Deletes an IstioOperator and waits until the finalizer let it go. */
export async function deleteIop(ns: string, name: string, timeoutMs = 60_000): Promise<void> {
  await kubectl(['delete', 'istiooperator', '-n', ns, name, '--wait=false', '--ignore-not-found']);
  await waitFor(`IstioOperator ${ns}/${name} gone`, async () => !(await getJson(['istiooperator', '-n', ns, name])), {
    timeoutMs,
    intervalMs: 250,
  });
}

/** Objects (any of our watched kinds) still labelled as owned by this IstioOperator. */
export async function ownedObjects(owner: string, ownerNs: string): Promise<string[]> {
  const kinds =
    'deployments,services,configmaps,serviceaccounts,roles,rolebindings,horizontalpodautoscalers,poddisruptionbudgets,clusterroles,clusterrolebindings,mutatingwebhookconfigurations,validatingwebhookconfigurations';
  const out = await kubectlOk([
    'get',
    kinds,
    '-A',
    '-l',
    `install.operator.istio.io/owning-resource=${owner},install.operator.istio.io/owning-resource-namespace=${ownerNs}`,
    '-o',
    'name',
  ]);
  return out.split('\n').filter(Boolean);
}
