import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { KubeClient, resourcePath } from '../../operator/apply/client.js';
import { packageRoot } from '../../operator/paths.js';

// The operator's figures on a live cluster, against the issue's targets:
//   writes on a no-op reconcile (0), spec-edit → applied latency p50/p99 over 100 edits (p99 <= 1 s),
//   reconciles that applied something for 100 rapid edits (<= 5), RSS with 20 IstioOperators once settled
//   (<= 150 MB), with the figure right after their first reconciles and the peak beside it.
// The operator runs as a child process, exactly as shipped, watching one bench namespace; figures come from
// its JSON logs (one `reconciled` line per reconcile, with writes and changed-object counts).

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
const line = (label: string, value: string, target?: string, ok?: boolean) =>
  console.log(`  ${label.padEnd(44)} ${value.padStart(12)}${target ? `   target ${target.padEnd(10)} ${ok ? 'OK' : 'OVER TARGET'}` : ''}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export const operatorSection = {
  name: 'operator (reconcile on a live cluster)',
  needsCluster: true,
  async run(): Promise<void> {
    const kc = process.env.ISTIO_OPERATOR_TEST_KUBECONFIG || process.env.KUBECONFIG!;
    const kube = KubeClient.fromOptions({ kubeconfig: kc.split(':')[0]! });
    const id = randomBytes(3).toString('hex');
    const ns = `bench-op-${id}`;
    const crd = fs.readFileSync(path.join(packageRoot, 'crds/install.istio.io_istiooperators.yaml'), 'utf8');
    const yaml = (await import('js-yaml')).default;
    await kube.request('PATCH', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/istiooperators.install.istio.io', {
      body: yaml.load(crd),
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: 'istio-operator-bench', force: 'true' },
    });
    await kube.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
    const iopPath = (name?: string) => resourcePath('install.istio.io', 'v1alpha1', 'istiooperators', ns, name);
    const { child, lines } = spawnOperator(kc.split(':')[0]!, ns);
    const reconciled = (key: string, from = 0) => lines.slice(from).filter((l) => l.j.msg === 'reconciled' && l.j.istiooperator === key);
    const names: string[] = [];
    const create = async (n: number) => {
      const name = `cp-${n}`;
      names.push(name);
      await kube.request('POST', iopPath(), {
        body: {
          apiVersion: 'install.istio.io/v1alpha1',
          kind: 'IstioOperator',
          metadata: { name, namespace: ns },
          spec: { profile: 'minimal', namespace: `${ns}-i${n}`, revision: `b${id}-${n}` },
        },
      });
      return name;
    };
    const healthy = async (name: string) => {
      const o = await kube.request<any>('GET', iopPath(name));
      return o.status?.status === 'HEALTHY' && o.status.observedGeneration === o.metadata.generation;
    };
    try {
      await until('operator caches synced', () => lines.some((l) => l.j.msg === 'caches synced'));
      const first = await create(0);
      const key = `${ns}/${first}`;
      const t0 = Date.now();
      await until('first IstioOperator HEALTHY', () => healthy(first));
      line('create → HEALTHY (minimal profile)', `${Date.now() - t0} ms`);

      // No-op: an annotation change triggers a reconcile that has nothing to do.
      await sleep(1500);
      let from = lines.length;
      for (let i = 0; i < 5; i++) {
        await kube.request('PATCH', iopPath(first), {
          body: { metadata: { annotations: { 'bench/nudge': String(i) } } },
          contentType: 'application/merge-patch+json',
        });
        await until('nudge reconciled', () => reconciled(key, from).length > i, 30_000);
      }
      const noop = reconciled(key, from);
      const noopWrites = noop.reduce((n, l) => n + l.j.writes, 0);
      line('writes on 5 no-op reconciles', String(noopWrites), '0', noopWrites === 0);
      if (noopWrites) {
        const what = lines
          .slice(from)
          .filter((l) => l.j.msg === 'applied')
          .flatMap((l) => l.j.objects ?? []);
        console.log(`    written: ${what.join(', ') || '(status or finalizer only)'}`);
      }
      line('no-op reconcile time (median)', `${[...noop.map((l) => l.j.ms)].sort((a, b) => a - b)[2]} ms`);

      // Edit → applied latency, one edit at a time.
      const lat: number[] = [];
      for (let i = 0; i < 100; i++) {
        from = lines.length;
        const sent = Date.now();
        await kube.request('PATCH', iopPath(first), {
          body: { spec: { values: { pilot: { env: { BENCH_EDIT: `e${i}` } } } } },
          contentType: 'application/merge-patch+json',
        });
        const hit = await until('edit applied', () => reconciled(key, from).find((l) => l.j.changed > 0), 30_000);
        lat.push(hit.at - sent);
      }
      lat.sort((a, b) => a - b);
      line('edit → applied p50 (100 edits)', `${quantile(lat, 0.5)} ms`);
      line('edit → applied p99', `${quantile(lat, 0.99)} ms`, '<= 1000 ms', quantile(lat, 0.99) <= 1000);

      // 100 rapid edits: the queue coalesces them.
      await sleep(1000);
      from = lines.length;
      const burst0 = Date.now();
      for (let i = 0; i < 100; i++) {
        await kube.request('PATCH', iopPath(first), {
          body: { spec: { values: { pilot: { env: { BENCH_RAPID: `r${i}` } } } } },
          contentType: 'application/merge-patch+json',
        });
      }
      line('100 rapid edits sent in', `${Date.now() - burst0} ms`);
      await until('rapid edits settled', async () => (await healthy(first)) && Date.now() - (lines.at(-1)?.at ?? 0) > 1500, 60_000);
      const applies = reconciled(key, from).filter((l) => l.j.changed > 0).length;
      line('applies for 100 rapid edits', String(applies), '<= 5', applies <= 5);
      line('reconciles for 100 rapid edits', String(reconciled(key, from).length));
      const drift = lines.slice(from).filter((l) => l.j.msg === 'owned object changed');
      if (drift.length)
        console.log(`    owned-object triggers during the burst: ${drift.map((l) => `${l.j.object} (${l.j.why})`).join(', ')}`);

      // Memory with 20 IstioOperators installed and healthy.
      for (let n = 1; n < 20; n++) await create(n);
      const t1 = Date.now();
      await until('20 IstioOperators HEALTHY', async () => (await Promise.all(names.map(healthy))).every(Boolean), 600_000);
      line('19 more IstioOperators → all HEALTHY', `${((Date.now() - t1) / 1000).toFixed(1)} s`);
      // Right after the burst, V8 still holds the heap the 20 first reconciles grew (garbage mostly: the live heap is
      // about 22 MiB); its memory reducer returns it once the process is idle, about 45 s later here. The target is the
      // settled figure, what the operator holds with 20 IstioOperators; the peak is what a memory limit must allow.
      const rssKib = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
      await sleep(2000);
      const burst = rssKib();
      line('operator RSS with 20 IstioOperators, at +2 s', `${(burst / 1024).toFixed(0)} MiB`);
      // Settled: 10 s without change after it fell by a fifth, or 120 s.
      const t2 = Date.now();
      let settled = burst;
      let still = 0;
      while (Date.now() - t2 < 120_000) {
        await sleep(5000);
        const now = rssKib();
        still = Math.abs(now - settled) < 1024 ? still + 1 : 0;
        settled = now;
        if (settled < burst * 0.8 && still >= 2) break;
      }
      line(
        `  settled, ${((Date.now() - t2) / 1000).toFixed(0)} s later`,
        `${(settled / 1024).toFixed(0)} MiB`,
        '<= 150 MB',
        (settled * 1024) / 1e6 <= 150,
      );
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      // The kernel updates VmHWM lazily: a sample above it is the better figure.
      line('operator peak RSS', `${(Math.max(kib('VmHWM'), burst) / 1024).toFixed(0)} MiB`);
      // Where it goes: the operator's own metrics.
      const port = lines.find((l) => l.j.msg === 'serving metrics')?.j.port as number | undefined;
      if (port) {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        const mib = (name: string) => (Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20).toFixed(0);
        line(
          '  V8 heap used / reserved; external',
          `${mib('nodejs_heap_size_used_bytes')} / ${mib('nodejs_heap_size_total_bytes')}; ${mib('nodejs_external_memory_bytes')} MiB`,
        );
      }
    } finally {
      for (const n of names) await kube.request('DELETE', iopPath(n), { allow404: true }).catch(() => undefined);
      await until(
        'IstioOperators removed',
        async () => ((await kube.request<any>('GET', iopPath()))?.items ?? []).length === 0,
        300_000,
      ).catch((e) => console.log(`  cleanup: ${e.message}`));
      child.kill('SIGTERM');
      for (const n of names.map((_, i) => `${ns}-i${i}`).concat(ns))
        await kube.request('DELETE', `/api/v1/namespaces/${n}`, { allow404: true }).catch(() => undefined);
    }
  },
};

/** The operator as a process, acting on `ns`, with each JSON line of its debug log and when it came (benches read them). */
export function spawnOperator(
  kubeconfig: string,
  ns: string,
): { child: ChildProcessByStdio<null, null, Readable>; lines: Array<{ at: number; j: any }> } {
  const lines: Array<{ at: number; j: any }> = [];
  const child = spawn(
    process.execPath,
    [
      path.join(packageRoot, 'bin/istio-operator.js'),
      'operator',
      '--kubeconfig',
      kubeconfig,
      '--namespaces',
      ns,
      // Trusted, or the operator only reports that it may not act there (#16): benches measure what it does.
      '--trusted-namespaces',
      ns,
      // Metrics on a free loopback port (logged): the memory section reads them.
      '--metrics-addr',
      '127.0.0.1:0',
      '--health-addr',
      '0',
      '--log-level',
      'debug',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let buf = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push({ at: Date.now(), j: JSON.parse(l) });
      } catch {
        /* not ours */
      }
    }
  });
  return { child, lines };
}
