// Over 500 lines by choice: each topology's story shares two clusters and the istiods started on them.
// Issue #19: two clusters, one mesh, with the real istiod of the release. Cluster A is the shared test control plane,
// cluster B a second local control plane (its own API server, etcd, CA, service proxy). Everything goes through our
// own CLI as a user runs it: `install` on each cluster, `remote-secret create -y` to connect them, `status`.
//
//   primary-remote: A primary (c1, network n1, externalIstiod), B remote (profile remote, c2) whose istiod Service
//     leads to A's istiod (remotePilotAddress: a TEST-NET address that B's service proxy sends to A's istiod's
//     well-known ports, as an east-west gateway would; exposeIstiod). A's istiod reads B's remote secret, connects to B, discovers B's Services,
//     patches B's injector webhook with its root, and injects B's pods when B's API server calls it through that
//     webhook, with the proxy configured for cluster c2.
//   multi-primary (different networks): A (c1, n1) and B (c2, n2) both primary, each with its istiod and an
//     east-west gateway; remote secrets both ways; each istiod discovers the other cluster's Service and both gateways.
//   external control plane: B the config cluster, A the external istiod's install, connected by --type config (not
//     run: see the test).
//
// ISTIO_OPERATOR_DOCS_TRANSCRIPT=<file> writes the commands run and their output there (docs/multicluster.md quotes
// it); the Istio namespace is then istio-system on both clusters, as the runbook has it (run this file alone).
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { rssKiB } from '../../cluster/pid.js';
import type { Istiod } from '../../istio/istiod.js';
import { testedReleases } from '../../istio/releases.js';
import { cli } from '../apply/_util.js';
import { kubectl, testKubeconfig, uniqueName, waitFor } from '../helpers/cluster.js';
import {
  appPod,
  cleanupMark,
  client,
  counter,
  debugJson,
  enterRelease,
  exposeIstiod,
  injectedFor,
  installIstio,
  logProblems,
  meshRoot,
  namespace,
  runIstiod,
  secondCluster,
  stopAll,
  stopSince,
  type OnCluster,
} from './_istio.js';

test.after.always(stopAll);

/** Every tested release (about 40 s each: two tests, a second control plane each, one or two istiods). */
const RELEASES = testedReleases();
const TRANSCRIPT = process.env.ISTIO_OPERATOR_DOCS_TRANSCRIPT;
const fileStart = Date.now();

// --- the docs transcript ---
const shown = new Map<string, string>(TRANSCRIPT ? [[testKubeconfig(), 'c1.kubeconfig']] : []);
function transcript(args: string[], r: { stdout: string; stderr: string }, kubeconfig: string, iopFile?: string): void {
  if (!TRANSCRIPT) return;
  const name = (f: string) => shown.get(f) ?? (iopFile && f.endsWith('.json') ? iopFile : f);
  const cmd = ['istio-operator', ...args.map(name), '--kubeconfig', name(kubeconfig)].join(' ');
  fs.appendFileSync(TRANSCRIPT, `$ ${cmd}\n${r.stderr}${r.stdout ? `--- stdout\n${r.stdout}` : ''}\n`);
}
function note(text: string): void {
  if (TRANSCRIPT) fs.appendFileSync(TRANSCRIPT, `# ${text}\n`);
}

/** `istio-operator <args>` against `on` (default the shared cluster A); fails the test on a non-zero exit. */
async function run(args: string[], on?: OnCluster): Promise<string> {
  const kubeconfig = on?.kubeconfig ?? testKubeconfig();
  const r = await cli(args, { kubeconfig });
  transcript(args, r, kubeconfig);
  if (r.code !== 0) throw new Error(`istio-operator ${args.join(' ')} (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** For the transcript: istio-system on A, made once an earlier test's is gone (namespaces are deleted without waiting). */
async function istioSystem(labels: Record<string, string> = {}): Promise<string> {
  const c = client();
  try {
    await waitFor('no istio-system on A', async () => !(await c.request('GET', '/api/v1/namespaces/istio-system', { allow404: true })), {
      timeoutMs: 120_000,
    });
  } finally {
    c.close();
  }
  return namespace('', labels, { name: 'istio-system' });
}

/** An IstioOperator file as a user writes it (no namespace fields: the helper adds them). */
function iop(values: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...extra, values };
}

interface Registry {
  clusters: string[];
  /** hostname → the clusters it has an address in. */
  services: Map<string, string[]>;
}

/** What istiod's registry holds: its clusters (/debug/clusterz) and its Services by cluster (/debug/registryz). */
async function registry(d: Istiod): Promise<Registry> {
  const clusterz = await debugJson<Array<{ id?: string; ID?: string; syncStatus?: string; SyncStatus?: string }>>(d, '/debug/clusterz');
  const registryz = await debugJson<Array<Record<string, any>>>(d, '/debug/registryz');
  const services = new Map<string, string[]>();
  for (const s of registryz) {
    const clusters = Object.keys(s.clusterVIPs?.Addresses ?? {});
    services.set(s.hostname, [...new Set([...(services.get(s.hostname) ?? []), ...clusters])].sort());
  }
  return { clusters: clusterz.map((c) => `${c.id ?? c.ID}:${c.syncStatus ?? c.SyncStatus}`).sort(), services };
}

/** Waits for istiod `d` to list `cluster` as synced; on a timeout, the error quotes what istiod logged about it. */
async function synced(d: Istiod, which: string, cluster: string): Promise<Registry> {
  try {
    return await waitFor(
      `istiod ${which} synced with ${cluster}`,
      async () => {
        const r = await registry(d);
        return r.clusters.includes(`${cluster}:synced`) ? r : undefined;
      },
      { timeoutMs: 90_000 },
    );
  } catch (err) {
    const about = d
      .log()
      .split('\n')
      .filter((l) => l.includes(cluster) || /\t(error|warn)\t/.test(l))
      .slice(-30);
    const last = await registry(d).catch((e: Error) => e.message);
    throw new Error(
      `${(err as Error).message}\nclusters now: ${JSON.stringify(last instanceof Object ? (last as Registry).clusters : last)}\nistiod ${which} logged:\n${about.join('\n')}`,
    );
  }
}

/** Creates a Service in a fresh namespace of `on` and waits until istiod `d` lists it with an address in `cluster`. */
async function discovered(t: ExecutionContext, d: Istiod, on: OnCluster, cluster: string, what: string): Promise<string> {
  const ns = await namespace(`mc-${what}`, {}, { on });
  const c = client(on);
  try {
    await c.request('POST', `/api/v1/namespaces/${ns}/services`, {
      body: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'shop', namespace: ns },
        spec: { selector: { app: 'shop' }, ports: [{ name: 'http', port: 8080 }] },
      },
    });
  } finally {
    c.close();
  }
  const host = `shop.${ns}.svc.cluster.local`;
  const t0 = Date.now();
  const clusters = await waitFor(
    `istiod ${d.namespace} lists ${host} in cluster ${cluster}`,
    async () => {
      const r = await registry(d);
      const cl = r.services.get(host);
      return cl?.includes(cluster) ? cl : undefined;
    },
    { timeoutMs: 60_000 },
  );
  t.log(`${host} in istiod's registry (clusters ${clusters.join(', ')}) ${Date.now() - t0} ms after its creation`);
  return host;
}

/** Resident memory of cluster A (the shared plane's processes, found by their data dir), of B and of the istiods. */
function memory(b: { rssNow(): { total: number } }, istiods: Istiod[]): string {
  const mib = (k: number) => `${(k / 1024).toFixed(0)} MiB`;
  // A's components: the processes whose command line names A's kubeconfig dir (its data dir).
  const dataDir = path.dirname(testKubeconfig());
  let a = 0;
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir)) a += rssKiB(Number(pid)) ?? 0;
    } catch {
      /* gone */
    }
  }
  const ds = istiods.map((d) => rssKiB(d.pid) ?? 0);
  return `A ${mib(a)}, B ${mib(b.rssNow().total)}, istiods ${ds.map(mib).join(' + ')}; total ${mib(a + b.rssNow().total + ds.reduce((x, y) => x + y, 0))}`;
}

for (const release of RELEASES) {
  test.serial(
    `${release}: primary-remote: A's istiod reads B's remote secret, discovers B's Services, and injects B's pods through B's webhook for cluster c2`,
    async (t) => {
      t.timeout(480_000);
      await enterRelease(release);
      const mark = cleanupMark();
      t.teardown(() => stopSince(mark));
      const t0 = Date.now();
      note(`primary-remote, Istio ${release}`);

      // Cluster A: the primary (c1, n1). externalIstiod: it also serves remote clusters (patches their webhooks).
      const nsA = TRANSCRIPT ? await istioSystem() : undefined;
      const primaryValues = { global: { meshID: 'mesh1', multiCluster: { clusterName: 'c1' }, network: 'n1', externalIstiod: true } };
      const a = await installIstio(release, {
        profile: 'default',
        spec: iop(primaryValues),
        ...(nsA ? { namespace: nsA } : {}),
        onOutput: (r) => transcript(r.args, r, testKubeconfig(), 'primary-c1.yaml'),
      });
      const istiodA = await runIstiod(a);
      t.log(`A: istiod ${release} ready in ${istiodA.readyMs} ms`);

      // Cluster B: a remote (c2) in the same Istio namespace, its istiod Service leading to A's istiod.
      const b = await secondCluster('c2');
      shown.set(b.kubeconfig, 'c2.kubeconfig');
      const exposed = exposeIstiod(istiodA, b);
      t.log(`B: control plane c2 up in ${(b.startMs / 1000).toFixed(1)} s; A's istiod at ${exposed.address} for it`);
      // The primary may lead the remote's controllers (webhook patching, istio-ca-root-cert) only where the remote says so.
      await namespace('', {}, { name: a.namespace, annotations: { 'topology.istio.io/controlPlaneClusters': 'c1' }, on: b });
      const injectionPath = '/inject/cluster/c2/net/n1';
      await installIstio(release, {
        profile: 'remote',
        namespace: a.namespace,
        on: b,
        spec: iop({
          global: { meshID: 'mesh1', multiCluster: { clusterName: 'c2' }, network: 'n1', remotePilotAddress: exposed.address },
          istiodRemote: { injectionPath },
        }),
        onOutput: (r) => transcript(r.args, r, b.kubeconfig, 'remote-c2.yaml'),
      });
      // Its injector webhooks (the revision's and the default tag's) lead to B's istiod Service, at A's injection path for c2.
      const injectorHooks = async (): Promise<Array<Record<string, any>>> => {
        const c = client(b);
        try {
          const list = await c.request<{ items: Array<Record<string, any>> }>(
            'GET',
            '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
            { query: { labelSelector: 'app=sidecar-injector,istio.io/rev=default' } },
          );
          return list?.items ?? [];
        } finally {
          c.close();
        }
      };
      const hooks = await injectorHooks();
      t.true(hooks.length > 0, "B's injector webhook configurations");
      t.log(`B's injector webhooks: ${hooks.map((h) => h.metadata.name).join(', ')}`);
      for (const h of hooks)
        for (const w of h.webhooks)
          t.deepEqual(
            w.clientConfig.service,
            { name: 'istiod', namespace: a.namespace, path: injectionPath, port: 443 },
            `${h.metadata.name} ${w.name}`,
          );

      // Connect them: B's remote secret, applied to A by our CLI.
      await run(['remote-secret', 'create', '--name', 'c2', '-n', a.namespace, '-y', '--primary-kubeconfig', testKubeconfig()], b);
      const secretA = await waitFor('the remote secret on A', async () => {
        const c = client();
        try {
          return await c.request<Record<string, any>>('GET', `/api/v1/namespaces/${a.namespace}/secrets/istio-remote-secret-c2`, {
            allow404: true,
          });
        } finally {
          c.close();
        }
      });
      t.is(secretA.metadata.labels['istio/multiCluster'], 'true');

      // istiod connects to B: c2 in its clusters, synced; a Service made on B appears in its registry, in c2.
      const tc = Date.now();
      const reg = await synced(istiodA, 'A', 'c2');
      t.log(`c2 synced in istiod A ${Date.now() - tc} ms after the secret; clusters ${reg.clusters.join(', ')}`);
      t.true(reg.clusters.includes('c1:synced'), reg.clusters.join(', '));
      await discovered(t, istiodA, b, 'c2', 'on-b');

      // A's istiod writes its root into B's webhook (as it does its own) and into B's namespaces.
      const root = await meshRoot(a);
      const rootB64 = Buffer.from(root).toString('base64');
      await waitFor(
        "A's root in B's injector webhooks",
        async () => (await injectorHooks()).every((h) => h.webhooks.every((w: any) => w.clientConfig.caBundle === rootB64)),
        { timeoutMs: 60_000 },
      );

      // A pod made on B, in a namespace with istio-injection=enabled: B's API server calls the webhook, which leads
      // through B's istiod Service and its EndpointSlice (remotePilotAddress) to A's istiod.
      const apps = await namespace('mc-apps', { 'istio-injection': 'enabled' }, { on: b });
      await waitFor(
        `istio-ca-root-cert from A's istiod in ${apps} on B`,
        async () => {
          const c = client(b);
          try {
            const cm = await c.request<Record<string, any>>('GET', `/api/v1/namespaces/${apps}/configmaps/istio-ca-root-cert`, {
              allow404: true,
            });
            return cm?.data?.['root-cert.pem'] === root;
          } finally {
            c.close();
          }
        },
        { timeoutMs: 60_000 },
      );
      const before = await counter(istiodA, 'sidecar_injection_success_total');
      const c = client(b);
      t.teardown(() => c.close());
      const pod = (await c.request<Record<string, any>>('POST', `/api/v1/namespaces/${apps}/pods`, { body: appPod('shop', apps) }))!;
      // Each of B's webhook configurations that selects the namespace calls it once (the revision's and the default tag's).
      const injections = (await counter(istiodA, 'sidecar_injection_success_total')) - before;
      t.true(injections >= 1, "A's istiod counted the injection");
      t.log(`A's istiod injected B's pod (${injections} webhook call(s))`);
      t.is(
        pod.spec.containers.filter((x: any) => x.name === 'istio-proxy').length +
          (pod.spec.initContainers ?? []).filter((x: any) => x.name === 'istio-proxy').length,
        1,
        'one istio-proxy',
      );
      const proxyLog = fs.readFileSync(path.join(b.plane.dataDir, 'logs', 'service-proxy.log'), 'utf8');
      t.regex(
        proxyLog,
        new RegExp(`Service ${a.namespace}/istiod:443 -> endpoint ${exposed.address.replace(/\./g, '\\.')}:15017 -> `),
        "B's API server reached A's istiod through remotePilotAddress",
      );
      const inj = injectedFor(pod);
      t.true(inj.proxy, 'the pod has istio-proxy');
      t.is(inj.revision, 'default');
      const proxy = pod.spec.containers.find((x: any) => x.name === 'istio-proxy');
      const env = Object.fromEntries((proxy.env ?? []).map((e: any) => [e.name, e.value]));
      t.is(env.ISTIO_META_CLUSTER_ID, 'c2', 'the proxy belongs to cluster c2');
      t.is(env.ISTIO_META_NETWORK, 'n1');
      t.is(env.ISTIO_META_MESH_ID, 'mesh1');
      // The proxy reaches istiod at the address B resolves for it: B's istiod Service (to A, through the EndpointSlice).
      t.regex(JSON.stringify(proxy.args ?? []) + JSON.stringify(env), new RegExp(`istiod\\.${a.namespace}\\.svc:15012`));

      // What the user sees: on B the remote install, served by A's istiod at its address, and B's proxy its own.
      const statusB = await run(['status'], b);
      t.regex(
        statusB,
        new RegExp(
          `^IstioOperator ${a.namespace}/\\S+ +default +${release.split('.').slice(0, 2).join('\\.')} +${release.replace(/\./g, '\\.')} +HEALTHY +${a.namespace} +default +1 `,
          'm',
        ),
      );
      t.regex(
        statusB,
        new RegExp(`no istiod in this cluster; injection by Service ${a.namespace}/istiod at ${exposed.address.replace(/\./g, '\\.')}`),
      );
      t.notRegex(statusB, /have no control plane/);
      await run(['status'], undefined);
      t.deepEqual(logProblems(istiodA.log()), [], "A's istiod logged problems");
      t.log(`memory with A primary + B remote + istiod A: ${memory(b, [istiodA])}`);
      t.log(`primary-remote ${release}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    },
  );

  test.serial(
    `${release}: multi-primary on two networks: two istiods, remote secrets both ways, each discovers the other's Service`,
    async (t) => {
      t.timeout(480_000);
      await enterRelease(release);
      const mark = cleanupMark();
      t.teardown(() => stopSince(mark));
      const t0 = Date.now();
      note(`multi-primary, Istio ${release}`);

      const nsName = TRANSCRIPT ? 'istio-system' : uniqueName(`istio-${release.replace(/\./g, '-')}`);
      const nsA = TRANSCRIPT
        ? await istioSystem({ 'topology.istio.io/network': 'n1' })
        : await namespace('', { 'topology.istio.io/network': 'n1' }, { name: nsName });
      const b = await secondCluster('c2');
      shown.set(b.kubeconfig, 'c2.kubeconfig');
      const nsB = await namespace('', { 'topology.istio.io/network': 'n2' }, { name: nsName, on: b });

      const primary = (cluster: string, network: string) =>
        iop({ global: { meshID: 'mesh1', multiCluster: { clusterName: cluster }, network } });
      const a = await installIstio(release, {
        profile: 'default',
        namespace: nsA,
        spec: primary('c1', 'n1'),
        onOutput: (r) => transcript(r.args, r, testKubeconfig(), 'primary-c1.yaml'),
      });
      const pb = await installIstio(release, {
        profile: 'default',
        namespace: nsB,
        on: b,
        spec: primary('c2', 'n2'),
        onOutput: (r) => transcript(r.args, r, b.kubeconfig, 'primary-c2.yaml'),
      });
      const [istiodA, istiodB] = await Promise.all([runIstiod(a), runIstiod(pb)]);
      t.log(`istiod A ready in ${istiodA.readyMs} ms, istiod B in ${istiodB.readyMs} ms`);

      // Each cluster's east-west gateway, as Istio's multi-primary-on-different-networks guide installs it (a second
      // IstioOperator beside the control plane's), and the Gateway that exposes the mesh's services through it.
      const eastwest = (network: string) => ({
        revision: '',
        components: {
          ingressGateways: [
            {
              name: 'istio-eastwestgateway',
              enabled: true,
              label: { istio: 'eastwestgateway', app: 'istio-eastwestgateway', 'topology.istio.io/network': network },
              k8s: {
                env: [{ name: 'ISTIO_META_REQUESTED_NETWORK_VIEW', value: network }],
                service: {
                  ports: [
                    { name: 'status-port', port: 15021, targetPort: 15021 },
                    { name: 'tls', port: 15443, targetPort: 15443 },
                    { name: 'tls-istiod', port: 15012, targetPort: 15012 },
                    { name: 'tls-webhook', port: 15017, targetPort: 15017 },
                  ],
                },
              },
            },
          ],
        },
        values: { gateways: { 'istio-ingressgateway': { injectionTemplate: 'gateway' } }, global: { network } },
      });
      const crossNetwork = {
        apiVersion: 'networking.istio.io/v1',
        kind: 'Gateway',
        metadata: { name: 'cross-network-gateway', namespace: nsName },
        spec: {
          selector: { istio: 'eastwestgateway' },
          servers: [{ port: { number: 15443, name: 'tls', protocol: 'TLS' }, tls: { mode: 'AUTO_PASSTHROUGH' }, hosts: ['*.local'] }],
        },
      };
      // What a cloud load balancer would give each gateway's Service (TEST-NET-2 addresses, never dialled).
      const lbAddress = { n1: `198.51.100.${randomInt(1, 127)}`, n2: `198.51.100.${randomInt(128, 255)}` };
      for (const [on, network, kc] of [
        [undefined, 'n1', testKubeconfig()],
        [b, 'n2', b.kubeconfig],
      ] as const) {
        await installIstio(release, {
          profile: 'empty',
          namespace: nsName,
          spec: eastwest(network),
          ...(on ? { on } : {}),
          onOutput: (r) => transcript(r.args, r, kc, `eastwest-${network}.yaml`),
        });
        const c = client(on);
        try {
          // Through the API server: the Gateway is validated by that cluster's istiod.
          await c.request('POST', `/apis/networking.istio.io/v1/namespaces/${nsName}/gateways`, { body: crossNetwork });
          await c.request('PATCH', `/api/v1/namespaces/${nsName}/services/istio-eastwestgateway/status`, {
            body: { status: { loadBalancer: { ingress: [{ ip: lbAddress[network] }] } } },
            contentType: 'application/merge-patch+json',
          });
        } finally {
          c.close();
        }
      }

      // Remote secrets both ways.
      await run(['remote-secret', 'create', '--name', 'c2', '-n', nsName, '-y', '--primary-kubeconfig', testKubeconfig()], b);
      await run(['remote-secret', 'create', '--name', 'c1', '-n', nsName, '-y', '--primary-kubeconfig', b.kubeconfig], undefined);

      for (const [d, other] of [
        [istiodA, 'c2'],
        [istiodB, 'c1'],
      ] as const) {
        const tc = Date.now();
        const reg = await synced(d, d === istiodA ? 'A' : 'B', other);
        t.log(
          `istiod ${d === istiodA ? 'A' : 'B'}: clusters ${reg.clusters.join(', ')} (${other} synced ${Date.now() - tc} ms after the check began)`,
        );
      }
      // Each istiod knows both networks' gateways: its own cluster's, and the other's, read through the remote secret.
      const gateways = ['c1 n1 ' + lbAddress.n1 + ':15443', 'c2 n2 ' + lbAddress.n2 + ':15443'];
      for (const [d, which] of [
        [istiodA, 'A'],
        [istiodB, 'B'],
      ] as const) {
        const seen = await waitFor(
          `istiod ${which} lists both east-west gateways`,
          async () => {
            const gw = await debugJson<Array<{ Network?: string; Cluster?: string; Addr?: string; Port?: number }> | null>(
              d,
              '/debug/networkz',
            );
            const got = (gw ?? []).map((g) => `${g.Cluster} ${g.Network} ${g.Addr}:${g.Port}`).sort();
            return JSON.stringify(got) === JSON.stringify(gateways) ? got : undefined;
          },
          { timeoutMs: 60_000 },
        );
        t.log(`istiod ${which}'s cross-network gateways: ${seen.join(', ')}`);
      }
      const onA = { kubeconfig: testKubeconfig() };
      await discovered(t, istiodA, b, 'c2', 'on-b');
      await discovered(t, istiodB, onA, 'c1', 'on-a');

      await run(['status'], undefined);
      await run(['status'], b);
      t.deepEqual(logProblems(istiodA.log()), [], "A's istiod logged problems");
      t.deepEqual(logProblems(istiodB.log()), [], "B's istiod logged problems");
      t.log(`memory with two primaries + two istiods: ${memory(b, [istiodA, istiodB])}`);
      t.log(
        `multi-primary ${release}: ${((Date.now() - t0) / 1000).toFixed(1)} s; file so far ${((Date.now() - fileStart) / 1000).toFixed(1)} s`,
      );
    },
  );
}

/**
 * The external control plane, as far as a process outside a pod can take it: the config cluster (B, profile remote
 * with configCluster) and the external istiod's install (A, namespace of its own), connected by `remote-secret
 * create --type config`. istiod itself is not run: an external istiod watches its own cluster's secrets through
 * in-cluster config (LOCAL_CLUSTER_SECRET_WATCHER), which reads the pod's fixed token path, and runs against the
 * config cluster through the mounted istio-kubeconfig; what it would read is checked instead, with its credentials.
 */
test.serial(
  'external control plane: the config cluster and the external istiod installed by our CLI, connected by remote-secret --type config',
  async (t) => {
    t.timeout(300_000);
    const release = RELEASES.includes('1.30.3') ? '1.30.3' : RELEASES.at(-1)!;
    await enterRelease(release);
    const mark = cleanupMark();
    t.teardown(() => stopSince(mark));
    note(`external control plane, Istio ${release}`);
    const ns = TRANSCRIPT ? 'external-istiod' : uniqueName('external-istiod');
    const host = 'istiod.external.example.com';
    const nsA = await namespace('', {}, { name: ns });
    const b = await secondCluster('c2');
    shown.set(b.kubeconfig, 'c2.kubeconfig');
    const nsB = await namespace('', {}, { name: ns, on: b });

    // B, the config cluster: Istio's CRDs and config live here, its webhooks call the external istiod by URL.
    const injectionURL = `https://${host}:15017/inject/cluster/c2/net/n1`;
    await installIstio(release, {
      profile: 'remote',
      namespace: nsB,
      on: b,
      spec: iop({
        global: { configCluster: true },
        pilot: { configMap: true },
        istiodRemote: { injectionURL },
        base: { validationURL: `https://${host}:15017/validate` },
      }),
      onOutput: (r) => transcript(r.args, r, b.kubeconfig, 'config-c2.yaml'),
    });
    const cb = client(b);
    t.teardown(() => cb.close());
    const hooks = await cb.request<{ items: Array<Record<string, any>> }>(
      'GET',
      '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      { query: { labelSelector: 'app=sidecar-injector' } },
    );
    t.true((hooks?.items ?? []).length > 0);
    for (const h of hooks!.items) for (const w of h.webhooks) t.is(w.clientConfig.url, injectionURL, `${h.metadata.name} ${w.name}`);
    t.truthy(
      await cb.request('GET', `/api/v1/namespaces/${nsB}/serviceaccounts/istiod`, { allow404: true }),
      'the config cluster has the istiod account the external istiod acts as',
    );

    // A's istio-kubeconfig: B's istiod account, as the external istiod reads its config cluster.
    await run(
      [
        'remote-secret',
        'create',
        '--type',
        'config',
        '--name',
        'c2',
        '-n',
        ns,
        '--service-account',
        'istiod',
        '--create-service-account=false',
        '-y',
        '--primary-kubeconfig',
        testKubeconfig(),
      ],
      b,
    );
    const ca = client();
    t.teardown(() => ca.close());
    const secret = await ca.request<Record<string, any>>('GET', `/api/v1/namespaces/${nsA}/secrets/istio-kubeconfig`);
    const kubeconfig = Buffer.from(secret!.data.config, 'base64').toString('utf8');
    const kcFile = path.join(fs.mkdtempSync(path.join(path.dirname(testKubeconfig()), 'istio-kubeconfig-')), 'config');
    fs.writeFileSync(kcFile, kubeconfig, { mode: 0o600 });
    t.teardown(() => fs.rmSync(path.dirname(kcFile), { recursive: true, force: true }));
    // What istiod reads of its config cluster: Services everywhere, its mesh config in its namespace.
    for (const args of [
      ['get', 'services', '-A', '-o', 'name'],
      ['get', 'configmap', 'istio', '-n', nsB, '-o', 'name'],
    ]) {
      const r = await kubectl(args, { kubeconfig: kcFile });
      t.is(r.code, 0, `kubectl ${args.join(' ')} with istio-kubeconfig: ${r.stderr}`);
    }

    // A, the external cluster: istiod for c2, reading B through that secret (Istio's external istiod IstioOperator).
    const volume = (name: string, cm: string, mountPath: string) => [
      { path: 'spec.template.spec.volumes[100]', value: `name: ${name}\nconfigMap:\n  name: ${cm}` },
      { path: 'spec.template.spec.containers[0].volumeMounts[100]', value: `name: ${name}\nmountPath: ${mountPath}` },
    ];
    const ext = await installIstio(release, {
      profile: 'empty',
      namespace: nsA,
      spec: {
        meshConfig: { rootNamespace: ns, defaultConfig: { discoveryAddress: `${host}:15012` } },
        components: {
          pilot: {
            enabled: true,
            k8s: {
              overlays: [
                {
                  kind: 'Deployment',
                  name: 'istiod',
                  patches: [
                    ...volume('config-volume', 'istio', '/etc/istio/config'),
                    ...volume('inject-volume', 'istio-sidecar-injector', '/var/lib/istio/inject'),
                  ],
                },
              ],
              env: [
                { name: 'INJECTION_WEBHOOK_CONFIG_NAME', value: '' },
                { name: 'VALIDATION_WEBHOOK_CONFIG_NAME', value: '' },
                { name: 'EXTERNAL_ISTIOD', value: 'true' },
                { name: 'LOCAL_CLUSTER_SECRET_WATCHER', value: 'true' },
                { name: 'CLUSTER_ID', value: 'c2' },
                { name: 'SHARED_MESH_CONFIG', value: 'istio' },
              ],
            },
          },
        },
        values: {
          global: {
            externalIstiod: true,
            caAddress: `${host}:15012`,
            operatorManageWebhooks: true,
            configValidation: false,
            meshID: 'mesh1',
            multiCluster: { clusterName: 'c2' },
            network: 'n1',
          },
        },
      },
      onOutput: (r) => transcript(r.args, r, testKubeconfig(), 'external-istiod.yaml'),
    });
    const dep = await ca.request<Record<string, any>>('GET', `/apis/apps/v1/namespaces/${ns}/deployments/${ext.istiod}`);
    const pod = dep!.spec.template.spec;
    const discovery = pod.containers.find((c: any) => c.name === 'discovery');
    const env = Object.fromEntries((discovery.env ?? []).map((e: any) => [e.name, e.value]));
    t.is(env.CLUSTER_ID, 'c2');
    t.is(env.EXTERNAL_ISTIOD, 'true');
    // The secret made above is what the Deployment mounts as its kubeconfig for the config cluster.
    const remoteVolume = pod.volumes.find((v: any) => v.secret?.secretName === 'istio-kubeconfig');
    t.truthy(remoteVolume, `the external istiod mounts istio-kubeconfig: ${JSON.stringify(pod.volumes.map((v: any) => v.name))}`);
    const mount = discovery.volumeMounts.find((m: any) => m.name === remoteVolume.name);
    t.is(env.KUBECONFIG, `${mount.mountPath}/config`, 'and reads it as its KUBECONFIG');
    t.regex(
      await run(['status'], b),
      new RegExp(`HEALTHY[\\s\\S]*no istiod in this cluster; injection by ${injectionURL.replace(/\./g, '\\.')}`),
    );
    await run(['status'], undefined);
  },
);
