// Shared by the tests that run the real istiod of a release against our install (test/istio): install a control
// plane through our own install path, run its istiod from the rendered Deployment, create pods and Istio
// objects through the API server, read istiod's metrics and log. One install + istiod per file, per release and
// revision (they take tens of seconds); the file's `test.after.always` calls `stopAll()`.
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import { KubeClient } from '../../../operator/apply/client.js';
import { jsonLogger } from '../../../operator/controller/log.js';
import { Manager } from '../../../operator/controller/manager.js';
import { resolvedFrom } from '../../../operator/cli/install.js';
import { RELEASE_ANNOTATION } from '../../../operator/api/releases.js';
import { applyInstall, prepareInstall } from '../../../operator/install/workflow.js';
import { registerEndpoint } from '../../cluster/endpoints.js';
import type { K8sObject } from '../../../operator/api/types.js';
import { startIstiod, type Istiod, type IstiodOptions } from '../../istio/istiod.js';
import { configProblems, linesAt, showProblems } from '../../istio/logcheck.js';
import { cli } from '../apply/_util.js';
import { testKubeconfig, uniqueName, waitFor } from '../helpers/cluster.js';
import { startCluster, type Cluster } from '../helpers/secondcluster.js';

export interface IstioInstall {
  release: string;
  namespace: string;
  /** `default` for an install without spec.revision. */
  revision: string;
  /** istiod's Deployment and Service name: `istiod` or `istiod-<revision>`. */
  istiod: string;
  file: string;
  /** Uninstalls it now (`uninstall --revision R --force`) instead of at the end of the file; idempotent. */
  remove(): Promise<void>;
  /** The objects applied (the render), for installs with a revision (made through the install workflow). */
  objects?: K8sObject[];
  /** The cluster it is installed in: a second cluster's kubeconfig (secondCluster()); absent: the shared test cluster. */
  kubeconfig?: string;
  /** Where that cluster's API server finds local processes serving its Services (istiod), for runIstiod. */
  endpointsDir?: string;
}

/**
 * The operator in this process, as the controller tests run it, acting on the IstioOperators of `ns` and logging at
 * debug level to a file (returned, for the tests that read it); stopped, and the file removed, by stopAll().
 */
export async function startOperatorIn(ns: string): Promise<{ mgr: Manager; logFile: string }> {
  const logFile = path.join(os.tmpdir(), `istio-operator-${ns}.log`);
  const stream = fs.createWriteStream(logFile);
  const mgr = new Manager({ kubeconfig: testKubeconfig(), namespaces: [ns], concurrency: 2, log: jsonLogger({ level: 'debug', stream }) });
  onCleanup(async () => {
    await mgr.stop('test end');
    stream.end();
    fs.rmSync(logFile, { force: true });
  });
  await mgr.start();
  return { mgr, logFile };
}

/** A cluster other than the shared one (secondCluster()), for the helpers that take one; default: the shared one. */
export interface OnCluster {
  kubeconfig: string;
  endpointsDir?: string;
}

const cleanups: Array<() => Promise<void>> = [];

/** Registers a cleanup for stopAll(); the returned function runs it now instead (once) and unregisters it. */
export function onCleanup(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const run = () => {
    const i = cleanups.indexOf(run);
    if (i >= 0) cleanups.splice(i, 1);
    done ??= fn();
    return done;
  };
  cleanups.push(run);
  return run;
}

/** Stops every istiod and removes every install and namespace this file made, newest first. */
export function stopAll(): Promise<void> {
  return stopSince(0);
}

/** Where the list of things to undo stands now: stopSince(mark) undoes only what was made after. */
export function cleanupMark(): number {
  return cleanups.length;
}

/** Stops the istiods and removes the installs and namespaces made since `mark`, newest first. */
export async function stopSince(mark: number): Promise<void> {
  for (const c of cleanups.splice(mark).reverse()) {
    try {
      await c();
    } catch (err) {
      console.error(`cleanup: ${(err as Error).message}`);
    }
  }
}

let releaseInScope: string | undefined;

/**
 * Called before a file sets up for `release`: when it set up for another release before, everything made for that
 * one goes first (stopAll). Two releases' installs at once are two meshes, with two roots that each istiod writes
 * into every namespace, and, for the default revision, one cluster-wide istiod-default-validator both patch.
 */
export async function enterRelease(release: string): Promise<void> {
  if (releaseInScope !== undefined && releaseInScope !== release) await stopAll();
  releaseInScope = release;
}

export function client(on?: OnCluster): KubeClient {
  return KubeClient.fromOptions({ kubeconfig: on?.kubeconfig ?? testKubeconfig() });
}

/**
 * A second local control plane (its own API server, etcd, CA, service proxy: test/cluster), stopped by stopAll()
 * after everything made in it since (registered first, it is stopped last of them).
 */
export async function secondCluster(name: string): Promise<Cluster & OnCluster> {
  const c = await startCluster({ name });
  onCleanup(() => c.stop());
  return Object.assign(c, { endpointsDir: c.plane.endpointsDir });
}

/** What selects the Istio release in an IstioOperator: its image tag (api/releases.ts picks the line from it). */
function releaseSpec(release: string): Record<string, unknown> {
  return { tag: release };
}

/**
 * A namespace made by this file, deleted by stopAll(). `opts.name`: that exact name instead of a fresh one (the
 * same Istio namespace in a second cluster); `opts.on`: in that cluster.
 */
export async function namespace(
  prefix: string,
  labels: Record<string, string> = {},
  opts: { name?: string; annotations?: Record<string, string>; on?: OnCluster } = {},
): Promise<string> {
  const name = opts.name ?? uniqueName(prefix);
  const c = client(opts.on);
  try {
    await c.request('POST', '/api/v1/namespaces', {
      body: {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name,
          labels: { 'istio-operator.test/owner': 'integration', ...labels },
          ...(opts.annotations ? { annotations: opts.annotations } : {}),
        },
      },
    });
    // Pods are refused until the namespace's default ServiceAccount exists (ServiceAccount admission).
    await waitFor(
      `ServiceAccount ${name}/default`,
      () => c.request('GET', `/api/v1/namespaces/${name}/serviceaccounts/default`, { allow404: true }),
      { timeoutMs: 60_000 },
    );
  } finally {
    c.close();
  }
  onCleanup(async () => {
    const d = client(opts.on);
    await d.request('DELETE', `/api/v1/namespaces/${name}`, { allow404: true }).finally(() => d.close());
  });
  return name;
}

/**
 * Installs `profile` (+ `spec`) for `release` into a fresh namespace. Without `revision`, through the CLI, as a
 * user does (default revision); with one, through install() without the default tag (as the canary test does):
 * the default tag is cluster-wide, and only the default-revision file may own what `istio-injection=enabled` selects.
 * `namespace`: an Istio namespace made before (a second revision beside the first), instead of a fresh one.
 * `releaseByTagOnly`: no release annotation, so that the image tag alone picks the release (as a user's file does).
 * `on`: into that cluster (secondCluster()) instead of the shared one; `onOutput` gets the CLI's output (for docs).
 */
export async function installIstio(
  release: string,
  opts: {
    profile: string;
    revision?: string;
    spec?: Record<string, unknown>;
    namespace?: string;
    releaseByTagOnly?: boolean;
    on?: OnCluster;
    onOutput?: (r: { args: string[]; stdout: string; stderr: string }) => void;
  },
): Promise<IstioInstall> {
  const kubeconfig = opts.on?.kubeconfig ?? testKubeconfig();
  const ns = opts.namespace ?? (await namespace(`istio-${release.replace(/\./g, '-')}`, {}, opts.on ? { on: opts.on } : {}));
  const name = uniqueName(`iop-${opts.profile}`).slice(0, 40);
  const spec = opts.spec ?? {};
  const doc = {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    // The release annotation too (unless releaseByTagOnly): a test may pin another image tag (Istio's goldens use `latest`).
    metadata: { name, namespace: ns, ...(opts.releaseByTagOnly ? {} : { annotations: { [RELEASE_ANNOTATION]: release } }) },
    spec: {
      profile: opts.profile,
      namespace: ns,
      ...(opts.revision ? { revision: opts.revision } : {}),
      ...releaseSpec(release),
      ...spec,
      values: {
        ...((spec.values as Record<string, unknown>) ?? {}),
        global: { ...(((spec.values as Record<string, any>) ?? {}).global ?? {}), istioNamespace: ns },
      },
    },
  };
  const file = path.join(os.tmpdir(), `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(doc));
  const revision = opts.revision ?? 'default';
  const remove = onCleanup(async () => {
    const r = await cli(['uninstall', '--revision', revision, '--force', '-y'], { kubeconfig });
    if (r.code !== 0) console.error(`uninstall --revision ${revision}: ${r.stderr}`);
    fs.rmSync(file, { force: true });
  });
  let objects: K8sObject[] | undefined;
  if (opts.revision) {
    const c = client(opts.on);
    try {
      const p = await prepareInstall(c, resolvedFrom({ filename: [file], set: [] }));
      objects = p.objects;
      await applyInstall(c, p, { defaultTag: false, wait: true, timeoutMs: 120_000 });
    } finally {
      c.close();
    }
  } else {
    const args = ['install', '-f', file, '-y', '--timeout', '2m'];
    const r = await cli(args, { kubeconfig });
    if (r.code !== 0) throw new Error(`istio-operator install -f ${file} failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}`);
    opts.onOutput?.({ args, stdout: r.stdout, stderr: r.stderr });
  }
  return {
    release,
    namespace: ns,
    revision,
    istiod: revision === 'default' ? 'istiod' : `istiod-${revision}`,
    file,
    remove,
    kubeconfig,
    ...(opts.on?.endpointsDir ? { endpointsDir: opts.on.endpointsDir } : {}),
    ...(objects ? { objects } : {}),
  };
}

let started = 0;
/** istiod processes this file started so far (for the figures a file logs). */
export const istiodsStarted = (): number => started;

/** Runs the install's istiod (release binary), in the install's cluster; stopped by stopAll(), or earlier by its stop(). */
export async function runIstiod(inst: IstioInstall, opts: Partial<IstiodOptions> = {}): Promise<Istiod> {
  const d = await startIstiod({
    kubeconfig: inst.kubeconfig ?? testKubeconfig(),
    release: inst.release,
    namespace: inst.namespace,
    deployment: inst.istiod,
    ...(inst.endpointsDir ? { endpointsDir: inst.endpointsDir } : {}),
    ...opts,
  });
  onCleanup(() => d.stop());
  started++;
  return d;
}

/**
 * Makes a local istiod reachable from another cluster at an address of that cluster's network, on its well-known
 * ports (15010, 15012, 15017), as a remote cluster reaches a primary's istiod (through its east-west gateway): the
 * address to give the remote as values.global.remotePilotAddress. The address is from TEST-NET-2 (198.51.100.0/24,
 * which no network routes): it is a name only, `on`'s service proxy never dials it but sends what its EndpointSlices
 * lead there to the istiod's loopback ports. Unregistered by stopAll().
 */
export function exposeIstiod(d: Istiod, on: OnCluster): { address: string } {
  if (!on.endpointsDir) throw new Error('exposeIstiod: the cluster has no endpoints dir (secondCluster() gives one)');
  const address = `198.51.100.${randomInt(1, 255)}`;
  const unregister = registerEndpoint(on.endpointsDir, {
    name: `istiod ${d.release} of ${d.namespace} in another cluster, at ${address}`,
    namespace: '',
    labels: {},
    ports: { '15010': d.ports.grpc, '15012': d.ports.secureGrpc, '15017': d.ports.https },
    portNames: {},
    addresses: [address],
    pid: d.pid,
    bin: d.bin,
  });
  onCleanup(async () => unregister());
  return { address };
}

/** Lines istiod logged at `level` (Istio's format: `<time>\t<level>\t[<scope>\t]<message>`). */
export function logLines(log: string, level: 'error' | 'warn'): string[] {
  return linesAt(log, level);
}

/**
 * What istiod's log says it did not accept (test/istio/logcheck.ts): errors other than known transient ones, and
 * its warnings about our mesh config, mesh networks, injector config and env, which it logs at warn level before
 * running on defaults. Shortened lines, for `t.deepEqual(logProblems(log), [])`.
 */
export function logProblems(log: string): string[] {
  return showProblems(configProblems(log));
}

/** GET a JSON debug endpoint of istiod (e.g. `/debug/mesh`, the mesh config it runs with) on its http port. */
export async function debugJson<T = any>(d: Istiod, path: string): Promise<T> {
  const text = await new Promise<string>((resolve, reject) => {
    http
      .get(`http://127.0.0.1:${d.ports.http}${path}`, (res) => {
        let s = '';
        res.setEncoding('utf8');
        res.on('data', (x: string) => (s += x));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(s)
            : reject(new Error(`GET ${path} on istiod ${d.release}: HTTP ${res.statusCode}: ${s.slice(0, 300)}`)),
        );
      })
      .on('error', reject);
  });
  return JSON.parse(text) as T;
}

/** A Prometheus counter of istiod's monitoring endpoint, summed over its labels (0 when absent). */
export async function counter(d: Istiod, name: string): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    http
      .get(`http://127.0.0.1:${d.ports.monitoring}/metrics`, (res) => {
        let s = '';
        res.setEncoding('utf8');
        res.on('data', (x: string) => (s += x));
        res.on('end', () => resolve(s));
      })
      .on('error', reject);
  });
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** A plain app pod, as a Deployment would create it. */
export function appPod(name: string, ns: string, labels: Record<string, string> = {}): Record<string, any> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: 'shop', version: 'v1', ...labels } },
    spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', ports: [{ containerPort: 8080, name: 'http' }] }] },
  };
}

/** Names of a pod's containers and init containers. */
export function containerNames(pod: Record<string, any>): { containers: string[]; initContainers: string[] } {
  return {
    containers: (pod.spec?.containers ?? []).map((c: { name: string }) => c.name),
    initContainers: (pod.spec?.initContainers ?? []).map((c: { name: string }) => c.name),
  };
}

/**
 * The root istiod's certificates chain to: its self-signed CA (Secret istio-ca-secret, which it creates at start),
 * for checking its serving certificate on direct calls. Not istio-ca-root-cert: every istiod of the test cluster
 * (several installs, each with its own root) writes its root into that ConfigMap in every namespace, the install's
 * own included, so which root it holds depends on which istiod wrote last.
 */
export async function meshRoot(inst: IstioInstall): Promise<string> {
  const c = client();
  try {
    const secret = await waitFor(`Secret ${inst.namespace}/istio-ca-secret`, () =>
      c.request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${inst.namespace}/secrets/istio-ca-secret`, {
        allow404: true,
      }),
    );
    return Buffer.from(secret.data?.['ca-cert.pem'] ?? '', 'base64').toString('utf8');
  } finally {
    c.close();
  }
}

/** The webhook configuration of revision tag `tag`, once the istiod of `inst` (the revision it names) patched its mesh root in. */
export async function tagWebhookPatched(tag: string, inst: IstioInstall): Promise<Record<string, any>> {
  const root = Buffer.from(await meshRoot(inst)).toString('base64');
  const c = client();
  try {
    return await waitFor(`the webhook of tag ${tag} with istiod's caBundle`, async () => {
      const list = await c.request<{ items: Array<Record<string, any>> }>(
        'GET',
        '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
        { query: { labelSelector: `istio.io/tag=${tag}` } },
      );
      const hook = list?.items.find((m) => m.metadata.labels?.['istio.io/rev'] === inst.revision);
      return hook && hook.webhooks.every((w: Record<string, any>) => w.clientConfig.caBundle === root) ? hook : undefined;
    });
  } finally {
    c.close();
  }
}

/** The revisions whose istiod a webhook configuration's Services select (`istio.io/rev` of each Service's selector). */
export async function selectedRevisions(hook: Record<string, any>): Promise<string[]> {
  const c = client();
  try {
    const revs = new Set<string>();
    for (const w of hook.webhooks as Array<Record<string, any>>) {
      const s = w.clientConfig.service as { name: string; namespace: string };
      const svc = await c.request<Record<string, any>>('GET', `/api/v1/namespaces/${s.namespace}/services/${s.name}`);
      revs.add(`${svc?.spec?.selector?.app === 'istiod' ? '' : 'not istiod: '}${svc?.spec?.selector?.['istio.io/rev']}`);
    }
    return [...revs];
  } finally {
    c.close();
  }
}

/** What istiod wrote into a pod: its sidecar, its image, and the revision it injected for. */
export function injectedFor(pod: Record<string, any>): { proxy: boolean; revision: string | undefined; image: string | undefined } {
  const all = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])] as Array<{ name: string; image?: string }>;
  const proxy = all.find((c) => c.name === 'istio-proxy');
  const status = JSON.parse(pod.metadata?.annotations?.['sidecar.istio.io/status'] ?? '{}') as { revision?: string };
  return { proxy: !!proxy, revision: status.revision, image: proxy?.image };
}

/** Creates `appPod(name)` in `ns` through the API server; returns it and how many injections each istiod counted meanwhile. */
export async function createCounted(
  ns: string,
  name: string,
  istiods: Record<string, Istiod>,
): Promise<{ pod: Record<string, any>; injected: Record<string, number> }> {
  const before = Object.fromEntries(
    await Promise.all(Object.entries(istiods).map(async ([k, d]) => [k, await counter(d, 'sidecar_injection_success_total')] as const)),
  );
  const c = client();
  try {
    const pod = (await c.request<Record<string, any>>('POST', `/api/v1/namespaces/${ns}/pods`, { body: appPod(name, ns) }))!;
    const injected = Object.fromEntries(
      await Promise.all(
        Object.entries(istiods).map(async ([k, d]) => [k, (await counter(d, 'sidecar_injection_success_total')) - before[k]!] as const),
      ),
    );
    return { pod, injected };
  } finally {
    c.close();
  }
}
