// Over 500 lines by choice: starting and stopping the five components in order, with their certificates, in one place.
// A real, throwaway Kubernetes control plane on loopback: etcd → kube-apiserver →
// kube-controller-manager → kube-scheduler → kwok (one fake node, so scheduled pods turn Ready).
// Built from upstream sources by build.sh; nothing here fakes API semantics.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { startServiceProxy, type ServiceInfo, type ServiceProxy } from './serviceproxy.js';
import { writeClientCa } from './clientca.js';
import { freePorts, request, sleep, tail } from './net.js';
import { ensureBinaries, type Component } from './binaries.js';

// Others import these from here (test/istio picks istiod's ports with freePorts; run.ts builds the binaries).
export { freePorts };
export { ensureBinaries, kubectlPath, repoRoot } from './binaries.js';

export interface ControlPlane {
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Bearer token of a system:masters user. */
  adminToken: string;
  /** PEM bundle the apiserver's serving certificate chains to. */
  caPem: string;
  dataDir: string;
  /** Name of the cluster and context in the kubeconfig (StartOptions.clusterName). */
  clusterName: string;
  nodeName: string;
  /**
   * Where local processes register as endpoints of Services (endpoints.ts), so that kube-apiserver reaches
   * them through its `cluster` egress: how service-referenced webhooks call an istiod run by test/istio.
   */
  endpointsDir: string;
  /** Milliseconds from the first process start to /readyz, and to the fake node being Ready. */
  timings: { readyzMs: number; nodeReadyMs: number };
  /** Folder of the client CA (clientca.ts signs client certificates with it; kube-apiserver trusts it). */
  pkiDir: string;
  /**
   * Kills kube-apiserver (SIGKILL, as a crash) and, unless `startAgain` is false, starts it again on the same port
   * with the same flags and data (etcd keeps running). Resolves when /readyz answers 200 again, with when that was.
   */
  restartApiServer(opts?: { downMs?: number }): Promise<{ killedAt: number; readyAt: number }>;
  /** The components running now, by pid (what stop() kills; what a test measures the memory of). */
  processes(): Array<{ name: string; pid: number }>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Directory holding the binaries; default: run build.sh (a no-op once built). */
  binDir?: string;
  /** Created fresh and removed by stop(); default: a new temp directory. */
  dataDir?: string;
  /** Default: <dataDir>/kubeconfig. Removed by stop() too. */
  kubeconfigPath?: string;
  /** Progress lines ("etcd ready", ...); default: silent. */
  log?: (line: string) => void;
  /** Overall start budget; a loaded 2-core machine needs tens of seconds. Default 180 s. */
  timeoutMs?: number;
  /**
   * Name of the cluster, and of the context, in the kubeconfig. Default istio-operator-local. Two planes side by
   * side get distinct names, as two real clusters' kubeconfigs have, so a merged kubeconfig or a remote secret
   * made from one tells them apart.
   */
  clusterName?: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const NODE_NAME = 'kwok-node-0';

interface Proc {
  name: Component;
  child: ChildProcess;
  logFile: string;
  exited: Promise<void>;
  exitInfo?: string;
}

export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const binDir = opts.binDir ?? (await ensureBinaries());
  try {
    return await startOnce({ ...opts, binDir });
  } catch (err) {
    // Free ports are picked, then released for the components to bind: another process on a busy
    // machine can take one in between. That, and only that, is worth a second try.
    if (!/address already in use/.test((err as Error).message)) throw err;
    opts.log?.('a port was taken meanwhile; starting again on new ports');
    return startOnce({ ...opts, binDir });
  }
}

async function startOnce(opts: StartOptions & { binDir: string }): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  const binDir = opts.binDir;
  let deadline = Date.now() + (opts.timeoutMs ?? 180_000);
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'istio-operator-cp-'));
  fs.mkdirSync(dataDir, { recursive: true });
  const kubeconfigPath = opts.kubeconfigPath ?? path.join(dataDir, 'kubeconfig');
  const clusterName = opts.clusterName ?? 'istio-operator-local';
  const pidsFile = path.join(dataDir, 'pids');
  const procs: Proc[] = [];
  let reaper: ChildProcess | undefined;
  let proxy: ServiceProxy | undefined;
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // The data is thrown away, so nothing needs a graceful shutdown: SIGKILL is fast and certain.
    for (const p of [...procs].reverse()) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        try {
          p.child.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    await Promise.race([Promise.all(procs.map((p) => p.exited)), sleep(10_000, { unref: true })]);
    await proxy?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    if (kubeconfigPath && !kubeconfigPath.startsWith(dataDir + path.sep)) fs.rmSync(kubeconfigPath, { force: true });
    // The reaper exits by itself once the data dir is gone; killing it just makes that immediate.
    if (reaper?.pid) {
      try {
        process.kill(reaper.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };

  const launch = (name: Component, args: string[]): Proc => {
    const logFile = path.join(dataDir, 'logs', `${name}.log`);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const fd = fs.openSync(logFile, 'a');
    const bin = path.join(binDir, name);
    fs.writeSync(fd, `$ ${bin} ${args.join(' ')}\n`);
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd], cwd: dataDir, env: componentEnv() });
    fs.closeSync(fd);
    const p: Proc = { name, child, logFile, exited: Promise.resolve() };
    p.exited = new Promise((resolve) => {
      child.on('exit', (code, sig) => {
        p.exitInfo = sig ? `killed by ${sig}` : `exited with code ${code}`;
        resolve();
      });
      child.on('error', (err) => {
        p.exitInfo = `could not start: ${err.message}`;
        resolve();
      });
    });
    procs.push(p);
    if (child.pid) fs.appendFileSync(pidsFile, `${child.pid} ${bin}\n`);
    return p;
  };

  const fail = (p: Proc | undefined, what: string): Error => {
    if (!p) return new Error(`local control plane: ${what}`);
    return new Error(
      `local control plane: ${p.name} ${what}${p.exitInfo ? ` (${p.exitInfo})` : ''}; last lines of its log:\n${tail(p.logFile)}`,
    );
  };

  /** Polls until check() is true; fails early, naming the component, if a started process died. */
  const waitUntil = async (what: string, owner: Proc, check: () => Promise<boolean>): Promise<void> => {
    for (;;) {
      const dead = procs.find((p) => p.exitInfo !== undefined);
      if (dead) throw fail(dead, `stopped while waiting for ${what}`);
      try {
        if (await check()) return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) throw fail(owner, `did not become ready in time (waiting for ${what})`);
      await sleep(250);
    }
  };

  try {
    reaper = startReaper(dataDir, pidsFile);
    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort] = await freePorts(6);
    const t0 = Date.now();

    // --- credentials ---
    const pki = path.join(dataDir, 'pki');
    fs.mkdirSync(pki, { recursive: true });
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    fs.writeFileSync(path.join(pki, 'sa.pub'), publicKey);
    fs.writeFileSync(path.join(pki, 'sa.key'), privateKey, { mode: 0o600 });
    const token = () => randomBytes(24).toString('hex');
    const adminToken = token();
    const kcmToken = token();
    const schedToken = token();
    // The controller manager and scheduler run as the users the bootstrap RBAC policy binds,
    // so their permissions are the real ones, not system:masters.
    fs.writeFileSync(
      path.join(pki, 'tokens.csv'),
      [
        `${adminToken},admin,admin,"system:masters"`,
        `${kcmToken},system:kube-controller-manager,system:kube-controller-manager`,
        `${schedToken},system:kube-scheduler,system:kube-scheduler`,
      ].join('\n') + '\n',
      { mode: 0o600 },
    );

    // --- etcd ---
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    const etcd = launch('etcd', [
      `--name=default`,
      `--data-dir=${path.join(dataDir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      // Throwaway data: durability buys nothing and fsync is the slowest part on a busy disk.
      `--unsafe-no-fsync=true`,
      `--log-level=warn`,
    ]);
    await waitUntil('etcd /health', etcd, async () => {
      const r = await request(`${etcdUrl}/health`);
      return r.status === 200 && r.body.includes('"true"');
    });
    log(`etcd ready (${Date.now() - t0} ms)`);

    // --- the service proxy: kube-apiserver's way to Services (webhooks) served by local processes ---
    const endpointsDir = path.join(dataDir, 'endpoints');
    const server = `https://127.0.0.1:${apiPort}`;
    const caFile = path.join(pki, 'apiserver.crt');
    let caPem = '';
    proxy = await startServiceProxy({
      socketPath: path.join(dataDir, 'egress.sock'),
      endpointsDir,
      logFile: path.join(dataDir, 'logs', 'service-proxy.log'),
      listServices: async () => {
        const r = await request(`${server}/api/v1/services`, { token: adminToken, ca: caPem });
        if (r.status !== 200) throw new Error(`listing Services: HTTP ${r.status}`);
        const services = (JSON.parse(r.body) as { items: ServiceList }).items.map(serviceInfo);
        if (services.some((s) => !s.selector || Object.keys(s.selector).length === 0)) {
          const e = await request(`${server}/apis/discovery.k8s.io/v1/endpointslices`, { token: adminToken, ca: caPem });
          if (e.status !== 200) throw new Error(`listing EndpointSlices: HTTP ${e.status}`);
          addEndpointSlices(services, (JSON.parse(e.body) as { items: EndpointSliceList }).items);
        }
        return services;
      },
    });
    // HTTPConnect over a unix socket: over TCP, kube-apiserver v1.33 always dials the proxy with TLS and a
    // client certificate (egressselector's tcpHTTPConnectConnector), which buys nothing on loopback.
    const egressConfig = path.join(dataDir, 'egress-selector.yaml');
    fs.writeFileSync(
      egressConfig,
      yaml.dump({
        apiVersion: 'apiserver.k8s.io/v1beta1',
        kind: 'EgressSelectorConfiguration',
        egressSelections: [
          { name: 'cluster', connection: { proxyProtocol: 'HTTPConnect', transport: { uds: { udsName: proxy.socketPath } } } },
        ],
      }),
    );

    // --- kube-apiserver ---
    const clientCaFile = await writeClientCa(pki);
    const apiArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=127.0.0.1`,
      `--advertise-address=127.0.0.1`,
      `--secure-port=${apiPort}`,
      // A loopback apiserver cannot publish itself as the kubernetes Service's endpoint.
      `--endpoint-reconciler-type=none`,
      `--cert-dir=${pki}`,
      `--token-auth-file=${path.join(pki, 'tokens.csv')}`,
      `--authorization-mode=Node,RBAC`,
      `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
      `--service-account-key-file=${path.join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(pki, 'sa.key')}`,
      `--service-cluster-ip-range=10.96.0.0/16`,
      `--allow-privileged=true`,
      // This plugin taints every new node not-ready; only the node-lifecycle controller lifts it, and
      // that controller would also evict pods whenever the fake node's heartbeat lags on a busy machine.
      `--disable-admission-plugins=TaintNodesByCondition`,
      // Service-referenced webhooks (and kubelet connections) dial through the service proxy above.
      `--egress-selector-config-file=${egressConfig}`,
      // Client certificates signed by the harness's client CA (tests: certificate and exec-issued credentials).
      `--client-ca-file=${clientCaFile}`,
      `--v=1`,
    ];
    let api = launch('kube-apiserver', apiArgs);
    await waitUntil('kube-apiserver /readyz', api, async () => {
      if (!caPem) {
        if (!fs.existsSync(caFile)) return false;
        caPem = fs.readFileSync(caFile, 'utf8');
        if (!caPem.includes('END CERTIFICATE')) {
          caPem = '';
          return false;
        }
      }
      const r = await request(`${server}/readyz`, { token: adminToken, ca: caPem });
      return r.status === 200;
    });
    const readyzMs = Date.now() - t0;
    log(`kube-apiserver ready at ${server} (${readyzMs} ms)`);

    const writeKubeconfig = (file: string, user: string, tok: string) => {
      const cfg = {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: clusterName, cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
        users: [{ name: user, user: { token: tok } }],
        contexts: [{ name: clusterName, context: { cluster: clusterName, user } }],
        'current-context': clusterName,
      };
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, yaml.dump(cfg), { mode: 0o600 });
    };
    writeKubeconfig(kubeconfigPath, 'admin', adminToken);
    const kcmKubeconfig = path.join(pki, 'kube-controller-manager.kubeconfig');
    const schedKubeconfig = path.join(pki, 'kube-scheduler.kubeconfig');
    writeKubeconfig(kcmKubeconfig, 'system:kube-controller-manager', kcmToken);
    writeKubeconfig(schedKubeconfig, 'system:kube-scheduler', schedToken);

    // --- kube-controller-manager ---
    const kcm = launch('kube-controller-manager', [
      `--kubeconfig=${kcmKubeconfig}`,
      `--bind-address=127.0.0.1`,
      `--secure-port=${kcmPort}`,
      `--cert-dir=${path.join(pki, 'kcm')}`,
      `--leader-elect=false`,
      // Each controller acts as its own ServiceAccount under the bootstrap RBAC roles, as in a real cluster.
      `--use-service-account-credentials=true`,
      `--service-account-private-key-file=${path.join(pki, 'sa.key')}`,
      `--root-ca-file=${caFile}`,
      `--controllers=${[
        'garbage-collector-controller',
        'namespace-controller',
        'deployment-controller',
        'replicaset-controller',
        'serviceaccount-controller',
        'serviceaccount-token-controller',
        'root-ca-certificate-publisher-controller',
        'daemonset-controller',
        'statefulset-controller',
        'job-controller',
        'endpoints-controller',
        'endpointslice-controller',
        'disruption-controller',
        'clusterrole-aggregation-controller',
      ].join(',')}`,
      `--v=1`,
    ]);

    // --- kube-scheduler ---
    launch('kube-scheduler', [
      `--kubeconfig=${schedKubeconfig}`,
      `--bind-address=127.0.0.1`,
      `--secure-port=${schedPort}`,
      `--leader-elect=false`,
      `--v=1`,
    ]);

    // --- the fake node and kwok, which plays its kubelet ---
    const nodeBody = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: NODE_NAME,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: {
          'kubernetes.io/hostname': NODE_NAME,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'node-role.kubernetes.io/agent': '',
          type: 'kwok',
        },
      },
      spec: {},
      status: {
        capacity: { cpu: '64', memory: '256Gi', pods: '500', 'ephemeral-storage': '1Ti' },
        allocatable: { cpu: '64', memory: '256Gi', pods: '500', 'ephemeral-storage': '1Ti' },
      },
    };
    const created = await request(`${server}/api/v1/nodes`, { method: 'POST', token: adminToken, ca: caPem, body: nodeBody });
    if (created.status !== 201 && created.status !== 409) {
      throw fail(api, `refused to create the fake node: HTTP ${created.status} ${created.body}`);
    }
    const kwok = launch('kwok', [
      `--kubeconfig=${kubeconfigPath}`,
      `--manage-all-nodes=false`,
      `--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake`,
      `--server-address=127.0.0.1:${kwokPort}`,
      `--node-ip=127.0.0.1`,
      `--cidr=10.244.0.0/16`,
    ]);

    await waitUntil('the default ServiceAccount (serviceaccount controller)', kcm, async () => {
      const r = await request(`${server}/api/v1/namespaces/default/serviceaccounts/default`, { token: adminToken, ca: caPem });
      return r.status === 200;
    });
    log(`kube-controller-manager ready (${Date.now() - t0} ms)`);
    await waitUntil(`node ${NODE_NAME} Ready`, kwok, async () => {
      const r = await request(`${server}/api/v1/nodes/${NODE_NAME}`, { token: adminToken, ca: caPem });
      if (r.status !== 200) return false;
      const node = JSON.parse(r.body) as { status?: { conditions?: Array<{ type: string; status: string }> } };
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    });
    const nodeReadyMs = Date.now() - t0;
    log(`node ${NODE_NAME} Ready (${nodeReadyMs} ms)`);

    const restartApiServer = async (o: { downMs?: number } = {}) => {
      const old = api;
      const killedAt = Date.now();
      old.child.kill('SIGKILL');
      await old.exited;
      procs.splice(procs.indexOf(old), 1);
      if (o.downMs) await sleep(o.downMs);
      api = launch('kube-apiserver', apiArgs);
      deadline = Date.now() + 120_000;
      await waitUntil(
        'kube-apiserver /readyz after a restart',
        api,
        async () => (await request(`${server}/readyz`, { token: adminToken, ca: caPem, timeoutMs: 2000 })).status === 200,
      );
      const readyAt = Date.now();
      log(`kube-apiserver restarted: ready ${readyAt - killedAt} ms after the kill`);
      return { killedAt, readyAt };
    };
    const processes = () =>
      procs.filter((p) => p.exitInfo === undefined && p.child.pid !== undefined).map((p) => ({ name: p.name, pid: p.child.pid! }));
    return {
      kubeconfigPath,
      server,
      adminToken,
      caPem,
      dataDir,
      clusterName,
      nodeName: NODE_NAME,
      endpointsDir,
      timings: { readyzMs, nodeReadyMs },
      pkiDir: pki,
      restartApiServer,
      processes,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

type ServiceList = Array<{
  metadata: { name: string; namespace: string };
  spec?: {
    clusterIP?: string;
    selector?: Record<string, string>;
    ports?: Array<{ name?: string; port: number; targetPort?: number | string }>;
  };
}>;

function serviceInfo(s: ServiceList[number]): ServiceInfo {
  return {
    namespace: s.metadata.namespace,
    name: s.metadata.name,
    clusterIP: s.spec?.clusterIP,
    selector: s.spec?.selector,
    ports: s.spec?.ports ?? [],
  };
}

type EndpointSliceList = Array<{
  metadata: { namespace: string; labels?: Record<string, string> };
  endpoints?: Array<{ addresses?: string[]; conditions?: { ready?: boolean } }>;
  ports?: Array<{ name?: string; port?: number }> | null;
}>;

/** The EndpointSlices of each selectorless Service (by the kubernetes.io/service-name label), ready endpoints only. */
function addEndpointSlices(services: ServiceInfo[], slices: EndpointSliceList): void {
  for (const svc of services) {
    if (svc.selector && Object.keys(svc.selector).length > 0) continue;
    svc.endpointSlices = slices
      .filter((s) => s.metadata.namespace === svc.namespace && s.metadata.labels?.['kubernetes.io/service-name'] === svc.name)
      .map((s) => ({
        addresses: (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses ?? []),
        ports: s.ports ?? [],
      }));
  }
}

/** Components must not pick up the caller's cluster or proxy settings. */
function componentEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

/**
 * A detached watcher that outlives a crash of this process: when our pid disappears it kills the
 * components listed in the pids file and removes the data dir. It exits on its own once the data
 * dir is gone, which is what a normal stop() leaves.
 */
function startReaper(dataDir: string, pidsFile: string): ChildProcess {
  const script = path.join(here, 'reaper.js');
  if (!fs.existsSync(script)) throw new Error(`local control plane: ${script} is missing (run tsc first)`);
  const child = spawn(process.execPath, [script, String(process.pid), dataDir, pidsFile], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  return child;
}
