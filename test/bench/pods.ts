import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { KubeClient, resourcePath } from '../../operator/apply/client.js';
import { packageRoot } from '../../operator/paths.js';
import { spawnOperator } from './operator.js';

// What a no-op reconcile costs on a cluster with many pods (BENCH_PODS, default 2,000, held Pending by a scheduling
// gate so they cost the cluster nothing but their objects).
// Whether a revision is in use depends on every pod's labels; an operator that LISTs the pods on every reconcile
// pays for the cluster's size each time, one that keeps a metadata-only watch cache pays once.
// Figures: no-op reconcile time (median of 10), the apiserver's pod LIST count during them (its own metrics, all
// clients: taken once no namespace is being deleted, as the namespace controller LISTs pods to empty one), and
// the operator's RSS.

const line = (label: string, value: string) => console.log(`  ${label.padEnd(44)} ${value.padStart(12)}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 300_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** The apiserver's count of LIST requests for pods so far (apiserver_request_total, verb LIST, resource pods). */
async function podLists(kube: KubeClient): Promise<number> {
  const text = await kube.request<string>('GET', '/metrics', { raw: true });
  let n = 0;
  for (const l of String(text).split('\n')) {
    if (
      l.startsWith('apiserver_request_total{') &&
      l.includes('resource="pods"') &&
      l.includes('verb="LIST"') &&
      l.includes('subresource=""')
    )
      n += Number(l.split(' ').pop());
  }
  return n;
}

export const podsSection = {
  name: `operator no-op reconcile with ${process.env.BENCH_PODS ?? 2000} pods in the cluster`,
  needsCluster: true,
  async run(): Promise<void> {
    const pods = Number(process.env.BENCH_PODS ?? 2000);
    const kc = (process.env.ISTIO_OPERATOR_TEST_KUBECONFIG || process.env.KUBECONFIG!).split(':')[0]!;
    const kube = KubeClient.fromOptions({ kubeconfig: kc });
    const id = randomBytes(3).toString('hex');
    const ns = `bench-pods-${id}`;
    const apps = `${ns}-apps`;
    await kube.request('PATCH', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/istiooperators.install.istio.io', {
      body: yaml.load(fs.readFileSync(path.join(packageRoot, 'crds/install.istio.io_istiooperators.yaml'), 'utf8')),
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: 'istio-operator-bench', force: 'true' },
    });
    for (const n of [ns, apps])
      await kube.request('POST', '/api/v1/namespaces', {
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n, labels: { 'istio.io/rev': `b${id}` } } },
      });
    const t0 = Date.now();
    for (let i = 0; i < pods; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, pods - i) }, (_, j) =>
          kube.request('POST', `/api/v1/namespaces/${apps}/pods`, {
            body: {
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: { name: `p-${i + j}`, labels: { app: 'bench', 'istio.io/rev': `b${id}` } }, // Held back from scheduling: they exist (and count as users of the revision) without filling the kwok node.
              spec: { schedulingGates: [{ name: 'bench.istio-operator/hold' }], containers: [{ name: 'c', image: 'busybox' }] },
            },
          }),
        ),
      );
    }
    line(`${pods} pods created in`, `${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const iopPath = (name?: string) => resourcePath('install.istio.io', 'v1alpha1', 'istiooperators', ns, name);
    const { child, lines } = spawnOperator(kc, ns);
    const name = 'cp';
    const key = `${ns}/${name}`;
    const reconciled = (from = 0) => lines.slice(from).filter((l) => l.j.msg === 'reconciled' && l.j.istiooperator === key);
    try {
      await until('operator caches synced', () => lines.some((l) => l.j.msg === 'caches synced'));
      await kube.request('POST', iopPath(), {
        body: {
          apiVersion: 'install.istio.io/v1alpha1',
          kind: 'IstioOperator',
          metadata: { name, namespace: ns },
          spec: { profile: 'minimal', namespace: ns, revision: `b${id}` },
        },
      });
      await until('IstioOperator HEALTHY', async () => {
        const o = await kube.request<any>('GET', iopPath(name));
        return o.status?.status === 'HEALTHY' && o.status.observedGeneration === o.metadata.generation;
      });
      // The count is the apiserver's, of every client: the namespace controller LISTs the pods of each namespace it
      // deletes (an earlier section's, say), so the count starts once no namespace is terminating.
      await until(
        'no namespace terminating',
        async () =>
          !(await kube.request<{ items: Array<{ status?: { phase?: string } }> }>('GET', '/api/v1/namespaces'))?.items.some(
            (n) => n.status?.phase === 'Terminating',
          ),
      );
      await sleep(1500);
      const from = lines.length;
      const lists0 = await podLists(kube);
      for (let i = 0; i < 10; i++) {
        await kube.request('PATCH', iopPath(name), {
          body: { metadata: { annotations: { 'bench/nudge': String(i) } } },
          contentType: 'application/merge-patch+json',
        });
        await until('nudge reconciled', () => reconciled(from).length > i, 60_000);
      }
      const lists = (await podLists(kube)) - lists0;
      const ms = reconciled(from)
        .map((l) => l.j.ms as number)
        .sort((a, b) => a - b);
      const inUse = (await kube.request<any>('GET', iopPath(name))).status?.conditions?.find((c: any) => c.type === 'InUse');
      line('no-op reconcile time (median of 10)', `${ms[5]} ms`);
      line('no-op reconcile time (max)', `${ms.at(-1)} ms`);
      line('pod LISTs during 10 no-op reconciles', String(lists));
      line('InUse condition', `${inUse?.status ?? '?'}`);
      console.log(`    ${inUse?.message ?? ''}`.slice(0, 160));
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      line('operator RSS', `${(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024).toFixed(0)} MiB`);
    } finally {
      await kube.request('DELETE', iopPath(name), { allow404: true }).catch(() => undefined);
      // The revision is in use by the pods and both labelled namespaces: the pods go and the IstioOperator's own
      // namespace is unlabelled first, then the IstioOperator can finalize.
      await kube.request('DELETE', `/api/v1/namespaces/${apps}`, { allow404: true }).catch(() => undefined);
      await kube
        .request('PATCH', `/api/v1/namespaces/${ns}`, {
          body: { metadata: { labels: { 'istio.io/rev': null } } },
          contentType: 'application/merge-patch+json',
        })
        .catch(() => undefined);
      await until('IstioOperator removed', async () => !(await kube.request('GET', iopPath(name), { allow404: true })), 300_000).catch(
        (e) => console.log(`  cleanup: ${e.message}`),
      );
      child.kill('SIGTERM');
      await kube.request('DELETE', `/api/v1/namespaces/${ns}`, { allow404: true }).catch(() => undefined);
      kube.close();
    }
  },
};
