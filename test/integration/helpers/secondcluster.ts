// A second local control plane beside the one `npm test` shares (test/run.ts), for multi-cluster tests: its own
// ports, data dir, serving CA, client CA, ServiceAccount keys, etcd and kubeconfig, with its own cluster name.
//
//   const b = await startSecondCluster(t, { name: 'c2' });   // stopped, by pid, when the test ends
//   await kubectl(['get', 'ns'], { kubeconfig: b.kubeconfig });
//
// ava allows no t.teardown() in hooks: a file that shares one second cluster across its tests calls startCluster()
// in test.before and stop() in test.after.always.
import type { ExecutionContext } from 'ava';
import { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../../cluster/controlplane.js';
import { rssKiB } from '../../cluster/pid.js';

export interface Cluster {
  /** The cluster's (and context's) name in its kubeconfig. */
  name: string;
  kubeconfig: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** The PEM the API server's serving certificate chains to. */
  caPem: string;
  plane: ControlPlane;
  /** Milliseconds from calling start to the fake node being Ready (binaries already built). */
  startMs: number;
  /** Resident memory of each component right after start, in KiB, and their sum. */
  rss: Rss;
  /** The components' resident memory now (it grows as the cluster holds more objects and watches). */
  rssNow(): Rss;
  kubeConfig(): KubeConfig;
  /** Kills the components by pid and removes the data dir; safe to call twice. */
  stop(): Promise<void>;
}

export interface Rss {
  total: number;
  byComponent: Record<string, number>;
}

function rssOf(plane: ControlPlane): Rss {
  const byComponent: Record<string, number> = {};
  for (const p of plane.processes()) byComponent[p.name] = rssKiB(p.pid) ?? 0;
  return { total: Object.values(byComponent).reduce((a, b) => a + b, 0), byComponent };
}

/** Starts a control plane the caller stops. Binaries: ISTIO_OPERATOR_BIN_DIR (set by test/run.ts), else built. */
export async function startCluster(opts: { name?: string; log?: (line: string) => void } = {}): Promise<Cluster> {
  const name = opts.name ?? 'c2';
  const t0 = Date.now();
  const plane = await startControlPlane({ clusterName: name, ...(opts.log ? { log: opts.log } : {}) });
  const startMs = Date.now() - t0;
  return {
    name,
    kubeconfig: plane.kubeconfigPath,
    server: plane.server,
    caPem: plane.caPem,
    plane,
    startMs,
    rss: rssOf(plane),
    rssNow: () => rssOf(plane),
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromFile(plane.kubeconfigPath);
      return kc;
    },
    stop: () => plane.stop(),
  };
}

/** startCluster for one test: stopped when the test ends, pass or fail. Logs its start time and memory. */
export async function startSecondCluster(t: ExecutionContext, opts: { name?: string } = {}): Promise<Cluster> {
  const c = await startCluster({ ...opts, log: (l) => t.log(`[${opts.name ?? 'c2'}] ${l}`) });
  t.teardown(() => c.stop());
  t.log(
    `second control plane ${c.name} at ${c.server}: up in ${(c.startMs / 1000).toFixed(1)} s, RSS ${(c.rss.total / 1024).toFixed(0)} MiB`,
  );
  return c;
}
