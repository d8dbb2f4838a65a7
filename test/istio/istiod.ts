// A "kubelet for istiod": runs the real istiod of a release as a local process, from the istiod Deployment
// of an install already applied to the test cluster. The Deployment's `discovery` container gives the args and
// env; its mounts are written under a work dir (pod.ts) that is the process's cwd; it talks to the API server
// with its own ServiceAccount's token (so our rendered RBAC is what it gets); every listener is moved to a free
// loopback port, so that several istiods run side by side. Once /ready, it registers as the local endpoint of
// the Services that select its pods, and kube-apiserver's webhook calls reach it (test/cluster/serviceproxy.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { KubeClient } from '../../operator/apply/client.js';
import { loadConnection } from '../../operator/apply/kubeconfig.js';
import { freePorts } from '../cluster/controlplane.js';
import { registerEndpoint } from '../cluster/endpoints.js';
import { istiodBinary } from './binaries.js';
import { localPath, materialize, type PodTemplate } from './pod.js';

export interface IstiodOptions {
  /** The test cluster's kubeconfig (an admin: reads the Deployment, its ConfigMaps and Secrets, asks for tokens). */
  kubeconfig: string;
  /** Istio release whose pilot-discovery runs (built by test/istio/build.sh). */
  release: string;
  namespace: string;
  /** The istiod Deployment, e.g. `istiod` or `istiod-<revision>`. */
  deployment: string;
  /**
   * Injector config and values to run instead of the install's ConfigMap: written to ./var/lib/istio/inject/,
   * which istiod prefers over the ConfigMap. For running Istio's own injector config against the same install.
   */
  injector?: { config: string; values: string };
  /**
   * Serve the Deployment's Services to kube-apiserver (default true). An istiod started for direct calls only
   * (e.g. with `injector` overridden) must not take webhook traffic meant for the install's own.
   */
  serve?: boolean;
  /** Directory of local endpoints of the test control plane; default $ISTIO_OPERATOR_TEST_ENDPOINTS_DIR. */
  endpointsDir?: string;
  /** Run as the cluster admin of `kubeconfig` instead of the Deployment's ServiceAccount. Default false. */
  asAdmin?: boolean;
  /** Budget for /ready; default 120 s (istiod needs a few seconds alone, much more on a busy 2-core machine). */
  readyTimeoutMs?: number;
}

export interface Istiod {
  release: string;
  namespace: string;
  deployment: string;
  pid: number;
  /** The pilot-discovery executable it runs. */
  bin: string;
  workDir: string;
  logFile: string;
  /** Loopback ports of its listeners. */
  ports: Record<Listener, number>;
  /** Optional volumes that were absent (e.g. `cacerts` without a plug-in CA). */
  absentVolumes: string[];
  /** From spawn to /ready 200. */
  readyMs: number;
  /** Its log so far (stdout and stderr). */
  log(): string;
  stop(): Promise<void>;
}

const LISTENERS = {
  http: { flag: 'httpAddr', default: 8080 },
  https: { flag: 'httpsAddr', default: 15017 },
  grpc: { flag: 'grpcAddr', default: 15010 },
  secureGrpc: { flag: 'secureGRPCAddr', default: 15012 },
  monitoring: { flag: 'monitoringAddr', default: 15014 },
  ctrlz: { flag: 'ctrlz_port', default: 9876 },
} as const;
export type Listener = keyof typeof LISTENERS;

const here = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Removes the listener flags (`--x=v` and `--x v`) and `--kubeconfig` from args, returning the container port
 * each listener had (its flag's value, else istiod's default): the ports the Deployment's Services target.
 */
export function takeListenerFlags(args: string[]): { rest: string[]; containerPorts: Record<Listener, number> } {
  const byFlag = new Map<string, Listener>(Object.entries(LISTENERS).map(([k, v]) => [v.flag, k as Listener]));
  const containerPorts = Object.fromEntries(Object.entries(LISTENERS).map(([k, v]) => [k, v.default])) as Record<Listener, number>;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--?([A-Za-z_]+)(?:=(.*))?$/.exec(args[i]!);
    const name = m?.[1];
    if (!m || !name || !(byFlag.has(name) || name === 'kubeconfig')) {
      rest.push(args[i]!);
      continue;
    }
    const value = m[2] ?? args[++i] ?? '';
    const l = byFlag.get(name);
    if (l) {
      const port = Number(value.slice(value.lastIndexOf(':') + 1));
      if (port) containerPorts[l] = port;
    }
  }
  return { rest, containerPorts };
}

/** What to show of a log when istiod failed: its error lines (shortened), then its last lines. */
function logSummary(file: string, lines = 15): string {
  let text: string[];
  try {
    text = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  } catch {
    return '(no log)';
  }
  const short = (l: string) => (l.length > 600 ? `${l.slice(0, 600)}...` : l);
  const errors = text.filter((l) => l.split('\t')[1] === 'error' || l.startsWith('Error:')).map(short);
  // With error lines, the last lines are mostly what the error quotes (e.g. a whole injection template).
  const last = text.slice(errors.length ? -5 : -lines).map(short);
  return `${errors.length ? `error lines:\n${errors.join('\n')}\n` : ''}last lines:\n${last.join('\n')}`;
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Same approach as the control plane's: a detached watcher that kills istiod if this process dies first. */
function startReaper(workDir: string, pidsFile: string): ChildProcess {
  const script = path.join(here, '..', 'cluster', 'reaper.js');
  if (!fs.existsSync(script)) throw new Error(`${script} is missing (run tsc first)`);
  const child = spawn(process.execPath, [script, String(process.pid), workDir, pidsFile], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}

/** Starts istiod for the Deployment and resolves once it answers /ready 200. */
export async function startIstiod(opts: IstiodOptions): Promise<Istiod> {
  const bin = await istiodBinary(opts.release);
  const client = KubeClient.fromOptions({ kubeconfig: opts.kubeconfig });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `istiod-${opts.release}-`));
  const pidsFile = path.join(workDir, 'pids');
  const logFile = path.join(workDir, 'istiod.log');
  let child: ChildProcess | undefined;
  let reaper: ChildProcess | undefined;
  let unregister: (() => void) | undefined;
  let exitInfo: string | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    unregister?.();
    if (child && exitInfo === undefined) {
      // SIGTERM first: istiod then gives up its leader leases, so another istiod of the revision takes over at once.
      child.kill('SIGTERM');
      const t = setTimeout(() => child?.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    fs.rmSync(workDir, { recursive: true, force: true });
    if (reaper?.pid) {
      try {
        process.kill(reaper.pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    client.close();
  };

  try {
    reaper = startReaper(workDir, pidsFile);
    const what = `Deployment ${opts.namespace}/${opts.deployment}`;
    const dep = await client.request<{ spec: { template: PodTemplate } }>(
      'GET',
      `/apis/apps/v1/namespaces/${opts.namespace}/deployments/${opts.deployment}`,
      { allow404: true },
    );
    if (!dep) throw new Error(`${what} does not exist: install first`);
    const template = dep.spec.template;
    const conn = loadConnection({ kubeconfig: opts.kubeconfig });
    const caPem = conn.ca?.toString('utf8') ?? '';
    const pod = { name: `${opts.deployment}-local-${randomBytes(3).toString('hex')}`, namespace: opts.namespace, uid: randomUUID() };
    const resolved = await materialize(client, template, 'discovery', pod, workDir, caPem);

    // Its own kubeconfig: the API server as given, the Deployment's ServiceAccount as the user.
    const sa = template.spec.serviceAccountName ?? 'default';
    let user: Record<string, string>;
    if (opts.asAdmin) {
      user = conn.headers().Authorization?.startsWith('Bearer ') ? { token: conn.headers().Authorization!.slice(7) } : {};
      if (!user.token) throw new Error('asAdmin needs a token user in the kubeconfig');
    } else {
      const tr = await client.request<{ status: { token: string } }>(
        'POST',
        `/api/v1/namespaces/${opts.namespace}/serviceaccounts/${sa}/token`,
        {
          body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 24 * 3600 } },
        },
      );
      user = { token: tr!.status.token };
    }
    const kubeconfig = path.join(workDir, 'kubeconfig');
    fs.writeFileSync(
      kubeconfig,
      yaml.dump({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'c',
            cluster: { server: conn.server, ...(caPem ? { 'certificate-authority-data': Buffer.from(caPem).toString('base64') } : {}) },
          },
        ],
        users: [{ name: 'u', user }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'c',
      }),
      { mode: 0o600 },
    );

    if (opts.injector) {
      const dir = localPath(workDir, '/var/lib/istio/inject');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'config'), opts.injector.config);
      fs.writeFileSync(path.join(dir, 'values'), opts.injector.values);
    }

    const { rest, containerPorts } = takeListenerFlags(resolved.args);
    const picked = await freePorts(Object.keys(LISTENERS).length);
    const ports = Object.fromEntries(Object.keys(LISTENERS).map((k, i) => [k, picked[i]!])) as Record<Listener, number>;
    const args = [
      ...rest,
      `--kubeconfig=${kubeconfig}`,
      ...Object.entries(LISTENERS).map(([k, l]) =>
        k === 'ctrlz' ? `--${l.flag}=${ports[k as Listener]}` : `--${l.flag}=127.0.0.1:${ports[k as Listener]}`,
      ),
      '--ctrlz_address=127.0.0.1',
    ];
    // Only the container's env, plus what a process needs to run at all; not the caller's cluster settings.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: workDir, TMPDIR: workDir, ...resolved.env };

    const fd = fs.openSync(logFile, 'a');
    fs.writeSync(
      fd,
      `$ ${bin} ${args.join(' ')}\n# env: ${Object.keys(resolved.env).join(' ')}\n# absent optional volumes: ${resolved.absent.join(', ') || 'none'}\n`,
    );
    const t0 = Date.now();
    child = spawn(bin, args, { cwd: workDir, env, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    const c = child;
    exited = new Promise((resolve) => {
      c.on('exit', (code, sig) => {
        exitInfo = sig ? `killed by ${sig}` : `exited with code ${code}`;
        resolve();
      });
      c.on('error', (err) => {
        exitInfo = `could not start: ${err.message}`;
        resolve();
      });
    });
    if (!c.pid) {
      await exited;
      throw new Error(`istiod ${opts.release} for ${what}: ${exitInfo}`);
    }
    fs.appendFileSync(pidsFile, `${c.pid} ${bin}\n`);

    const timeoutMs = opts.readyTimeoutMs ?? 120_000;
    const readyUrl = `http://127.0.0.1:${ports.http}/ready`;
    for (;;) {
      if (exitInfo !== undefined)
        throw new Error(`istiod ${opts.release} for ${what} ${exitInfo} before ${readyUrl} answered 200; its log:\n${logSummary(logFile)}`);
      const status = await getStatus(readyUrl).catch(() => 0);
      if (status === 200) break;
      if (Date.now() - t0 > timeoutMs) {
        throw new Error(
          `istiod ${opts.release} for ${what}: ${readyUrl} did not answer 200 within ${timeoutMs / 1000}s (last: ${status || 'no answer'}); its log:\n${logSummary(logFile)}`,
        );
      }
      await sleep(200);
    }
    const readyMs = Date.now() - t0;

    if (opts.serve !== false) {
      const dir = opts.endpointsDir ?? process.env.ISTIO_OPERATOR_TEST_ENDPOINTS_DIR;
      if (!dir)
        throw new Error(
          'no endpoints dir: the API server can reach a local istiod only through the test control plane (npm test sets ISTIO_OPERATOR_TEST_ENDPOINTS_DIR)',
        );
      const container = template.spec.containers.find((x) => x.name === 'discovery')!;
      const localPorts: Record<string, number> = {};
      for (const l of Object.keys(LISTENERS) as Listener[]) localPorts[String(containerPorts[l])] = ports[l];
      const portNames = Object.fromEntries((container.ports ?? []).filter((p) => p.name).map((p) => [p.name!, p.containerPort]));
      unregister = registerEndpoint(dir, {
        name: `${pod.namespace}/${pod.name} (istiod ${opts.release})`,
        namespace: opts.namespace,
        labels: template.metadata?.labels ?? {},
        ports: localPorts,
        portNames,
        pid: c.pid,
        bin,
      });
    }

    return {
      release: opts.release,
      namespace: opts.namespace,
      deployment: opts.deployment,
      pid: c.pid,
      bin,
      workDir,
      logFile,
      ports,
      absentVolumes: resolved.absent,
      readyMs,
      log: () => fs.readFileSync(logFile, 'utf8'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
