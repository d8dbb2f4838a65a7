import fs from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { ExecCredentialSource, type ExecConfig } from './exec.js';
import { proxyFromEnv } from './proxy.js';

// The one credential source: reads every kubeconfig form the way kubectl does, merged across all files of
// KUBECONFIG (the first file that names a cluster, user or context wins; current-context from the first file that
// sets one), or the pod's service account.
//
// Hand-written, with @kubernetes/client-node loaded only for what it alone implements here (auth-provider plugins:
// gcp, azure, oidc; SOCKS proxy-url). Measured with farm-bench (10 runs, 2-core machine, medians): reading a
// kubeconfig and building the request options takes 88 ms wall and 43 MiB peak with this module, 549 ms and
// 112 MiB with client-node's KubeConfig (loadFromFile + applyToHTTPSOptions): +460 ms on every `install`, `diff`,
// `status` or `precheck`, more than a whole no-op install. client-node 1.4.0 also does not do the job for: several
// KUBECONFIG files with the user in a later one (loadFromFile reads one file), exec plugins (see exec.ts),
// impersonation beyond `as` (no groups, uid or extra), HTTPS_PROXY/NO_PROXY, and a context's namespace.

export interface Credentials {
  /** Authorization and impersonation headers (Impersonate-Group may repeat: an array). */
  headers: OutgoingHttpHeaders;
  /** Client certificate and key: from the kubeconfig, or issued by an exec plugin (then they change on renewal). */
  cert?: Buffer;
  key?: Buffer;
}

export interface Connection {
  server: string;
  contextName: string;
  userName: string;
  /** The context's namespace, or the pod's for in-cluster config, else `default` (as kubectl). */
  namespace: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure?: boolean;
  servername?: string;
  /** HTTP(S) CONNECT proxy: the cluster's `proxy-url`, else HTTPS_PROXY/NO_PROXY from the environment. */
  proxy?: URL;
  /** The static Authorization header (token, token file, basic auth); token files are re-read. Not exec's: see credentials(). */
  headers(): Record<string, string>;
  /** Everything a request needs, exec plugins and auth providers included; cached while valid. */
  credentials(): Promise<Credentials>;
  /** The server answered 401: drop cached plugin credentials. True when a retry may get different ones. */
  invalidate(): boolean;
  /** The user or cluster needs what only client-node implements (auth-provider, a SOCKS proxy-url). */
  needsClientNode: boolean;
  /** Where it came from: files, or in-cluster. */
  source: { files: string[] } | { inCluster: true };
  /** The exec plugin, if the user has one (tests count its runs). */
  exec?: ExecCredentialSource;
  /** The merged kubeconfig as one document with absolute paths: what client-node loads when it is needed. */
  merged?: RawConfig;
}

type Named<T> = { name: string } & T;
// A kubeconfig's entries, with kubectl's field names: the fields this file reads, the rest kept as written.
export interface KubeconfigCluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
  extensions?: Array<{ name?: string; extension?: unknown }>;
  [k: string]: unknown;
}
export interface KubeconfigUser {
  token?: string;
  tokenFile?: string;
  'token-file'?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
  as?: string;
  'as-uid'?: string;
  'as-groups'?: unknown;
  'as-user-extra'?: unknown;
  [k: string]: unknown;
}
export interface KubeconfigContext {
  cluster?: string;
  user?: string;
  namespace?: string;
  [k: string]: unknown;
}
export interface RawConfig {
  apiVersion?: string;
  kind?: string;
  clusters?: Array<Named<{ cluster?: KubeconfigCluster }>>;
  users?: Array<Named<{ user?: KubeconfigUser }>>;
  contexts?: Array<Named<{ context?: KubeconfigContext }>>;
  'current-context'?: string;
  preferences?: unknown;
}

// ISTIO_OPERATOR_SA_DIR: for tests, which run the in-cluster path outside a pod (token, ca.crt in that folder).
const saDir = () => process.env.ISTIO_OPERATOR_SA_DIR || '/var/run/secrets/kubernetes.io/serviceaccount';

/** Files kubectl would read: --kubeconfig, else every existing file of $KUBECONFIG, else ~/.kube/config. */
export function configFiles(explicit?: string): string[] {
  if (explicit) {
    if (!fs.existsSync(explicit)) throw new Error(`kubeconfig ${explicit} does not exist (from --kubeconfig)`);
    return [explicit];
  }
  const env = process.env.KUBECONFIG;
  if (env) {
    const listed = env.split(path.delimiter).filter(Boolean);
    const existing = listed.filter((p) => fs.existsSync(p));
    if (!existing.length)
      throw new Error(`KUBECONFIG points to ${listed.join(', ')}, which does not exist; set --kubeconfig or fix KUBECONFIG`);
    return existing;
  }
  const home = path.join(os.homedir(), '.kube', 'config');
  return fs.existsSync(home) ? [home] : [];
}

function bytes(data: unknown, file: unknown, dir: string): Buffer | undefined {
  if (typeof data === 'string' && data) return Buffer.from(data, 'base64');
  if (typeof file === 'string' && file) return fs.readFileSync(abs(file, dir));
  return undefined;
}
const abs = (p: string, dir: string) => (path.isAbsolute(p) ? p : path.join(dir, p));

// Fields holding paths, which kubectl resolves against the folder of the file that defines them.
const CLUSTER_PATHS = ['certificate-authority'];
const USER_PATHS = ['client-certificate', 'client-key', 'tokenFile', 'token-file'];

interface Entry<T> {
  v: T;
  file: string;
}

/** Merge as kubectl does. Paths become absolute, so the result means the same from anywhere. */
export function mergeKubeconfigs(files: string[]): {
  clusters: Map<string, Entry<KubeconfigCluster>>;
  users: Map<string, Entry<KubeconfigUser>>;
  contexts: Map<string, Entry<KubeconfigContext>>;
  current?: string;
} {
  const clusters = new Map<string, Entry<KubeconfigCluster>>();
  const users = new Map<string, Entry<KubeconfigUser>>();
  const contexts = new Map<string, Entry<KubeconfigContext>>();
  let current: string | undefined;
  for (const f of files) {
    let raw: RawConfig;
    try {
      raw = (yaml.load(fs.readFileSync(f, 'utf8')) ?? {}) as RawConfig;
    } catch (e) {
      throw new Error(`kubeconfig ${f} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw))
      throw new Error(`kubeconfig ${f} is not a kubeconfig (a YAML mapping with clusters, users and contexts)`);
    const dir = path.dirname(path.resolve(f));
    const resolve = <T extends Record<string, unknown>>(v: T, keys: string[]): T => {
      const out: Record<string, unknown> = { ...v };
      for (const k of keys) {
        const p = out[k];
        if (typeof p === 'string' && p) out[k] = abs(p, dir);
      }
      return out as T;
    };
    for (const c of raw.clusters ?? [])
      if (c?.name && !clusters.has(c.name)) clusters.set(c.name, { v: resolve(c.cluster ?? {}, CLUSTER_PATHS), file: f });
    for (const u of raw.users ?? [])
      if (u?.name && !users.has(u.name)) users.set(u.name, { v: resolve(u.user ?? {}, USER_PATHS), file: f });
    for (const c of raw.contexts ?? []) if (c?.name && !contexts.has(c.name)) contexts.set(c.name, { v: c.context ?? {}, file: f });
    current ??= raw['current-context'] || undefined;
  }
  return { clusters, users, contexts, ...(current ? { current } : {}) };
}

/** Impersonation headers from a kubeconfig user: as, as-uid, as-groups, as-user-extra. */
export function impersonationHeaders(u: KubeconfigUser): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = {};
  if (u.as) h['Impersonate-User'] = String(u.as);
  if (u['as-uid']) h['Impersonate-Uid'] = String(u['as-uid']);
  const groups = u['as-groups'];
  if (Array.isArray(groups) && groups.length) h['Impersonate-Group'] = groups.map(String);
  const extra = u['as-user-extra'];
  if (extra && typeof extra === 'object') {
    for (const [k, vals] of Object.entries(extra as Record<string, unknown>)) {
      // Header names are case-insensitive, so the key travels percent-encoded (as client-go does).
      h[`Impersonate-Extra-${encodeURIComponent(k)}`] = (Array.isArray(vals) ? vals : [vals]).map(String);
    }
  }
  if (
    (h['Impersonate-Group'] || h['Impersonate-Uid'] || Object.keys(h).some((k) => k.startsWith('Impersonate-Extra-'))) &&
    !h['Impersonate-User']
  ) {
    throw new Error('impersonation needs a user: the kubeconfig sets as-groups, as-uid or as-user-extra without "as"');
  }
  return h;
}

const TOKEN_FILE_TTL_MS = 60_000;

export function loadConnection(opts: { kubeconfig?: string; context?: string } = {}): Connection {
  const files = configFiles(opts.kubeconfig);
  if (!files.length) {
    if (process.env.KUBERNETES_SERVICE_HOST && fs.existsSync(path.join(saDir(), 'token'))) return inCluster();
    throw new Error(
      'no Kubernetes cluster configured: pass --kubeconfig/--context, set KUBECONFIG, or run in a pod with a service account',
    );
  }
  const { clusters, users, contexts, current } = mergeKubeconfigs(files);
  const contextName = opts.context ?? current;
  const where = files.join(path.delimiter);
  if (!contextName)
    throw new Error(`no current context in ${files.join(', ')}: pass --context (available: ${[...contexts.keys()].join(', ') || 'none'})`);
  const ctxEntry = contexts.get(contextName);
  if (!ctxEntry)
    throw new Error(`context "${contextName}" not found in kubeconfig ${where} (available: ${[...contexts.keys()].join(', ') || 'none'})`);
  const ctx = ctxEntry.v;
  const cluster = ctx.cluster === undefined ? undefined : clusters.get(ctx.cluster);
  if (!cluster || !cluster.v.server)
    throw new Error(
      `context "${contextName}" names cluster "${ctx.cluster}", which the kubeconfig ${where} does not define (with a server)`,
    );
  const userName = String(ctx.user ?? '');
  // A context naming a user that no file defines is an error kubectl makes too: better than sending no credentials.
  if (userName && !users.has(userName))
    throw new Error(
      `context "${contextName}" names user "${userName}", which the kubeconfig ${where} does not define (users: ${[...users.keys()].join(', ') || 'none'})`,
    );
  const u = users.get(userName)?.v ?? {};
  const userFile = users.get(userName)?.file ?? cluster.file;
  const c = cluster.v;
  const server = String(c.server).replace(/\/+$/, '');

  const impersonate = impersonationHeaders(u);
  let tokenCache: { token: string | undefined; at: number } | undefined;
  const staticHeaders = (): Record<string, string> => {
    const h: Record<string, string> = {};
    let token: string | undefined = u.token ? String(u.token) : undefined;
    const tokenFile = u.tokenFile ?? u['token-file'];
    if (!token && tokenFile) {
      // Token files rotate (projected tokens, refreshed logins): re-read at most once a minute.
      if (!tokenCache || Date.now() - tokenCache.at > TOKEN_FILE_TTL_MS)
        tokenCache = { token: fs.readFileSync(tokenFile, 'utf8').trim(), at: Date.now() };
      token = tokenCache.token;
    }
    if (token) h.Authorization = `Bearer ${token}`;
    else if (u.username) h.Authorization = 'Basic ' + Buffer.from(`${u.username}:${u.password ?? ''}`).toString('base64');
    return h;
  };

  const merged: RawConfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [...clusters].map(([name, e]) => ({ name, cluster: e.v })),
    users: [...users].map(([name, e]) => ({ name, user: e.v })),
    contexts: [...contexts].map(([name, e]) => ({ name, context: e.v })),
    'current-context': contextName,
  };
  const proxyUrl = typeof c['proxy-url'] === 'string' && c['proxy-url'] ? new URL(c['proxy-url']) : proxyFromEnv(server);
  const socks = !!proxyUrl && proxyUrl.protocol.startsWith('socks');
  const authProvider = !!u['auth-provider'];

  const exec = u.exec
    ? new ExecCredentialSource(u.exec as ExecConfig, {
        userName,
        file: userFile,
        cluster: {
          server,
          ...(c['certificate-authority-data']
            ? { 'certificate-authority-data': c['certificate-authority-data'] }
            : c['certificate-authority']
              ? { 'certificate-authority-data': fs.readFileSync(c['certificate-authority']).toString('base64') }
              : {}),
          ...(c['insecure-skip-tls-verify'] ? { 'insecure-skip-tls-verify': true } : {}),
          ...(c['tls-server-name'] ? { 'tls-server-name': c['tls-server-name'] } : {}),
          ...(c['proxy-url'] ? { 'proxy-url': c['proxy-url'] } : {}),
          ...(Array.isArray(c.extensions)
            ? { config: c.extensions.find((e) => e?.name === 'client.authentication.k8s.io/exec')?.extension }
            : {}),
        },
      })
    : undefined;

  let providerHeaders: { h: Record<string, string>; at: number } | undefined;
  const conn: Connection = {
    server,
    contextName,
    userName,
    namespace: typeof ctx.namespace === 'string' && ctx.namespace ? ctx.namespace : 'default',
    headers: staticHeaders,
    async credentials() {
      const headers: OutgoingHttpHeaders = { ...staticHeaders(), ...impersonate };
      const cr: Credentials = { headers };
      if (conn.cert) cr.cert = conn.cert;
      if (conn.key) cr.key = conn.key;
      if (exec) {
        const r = await exec.get();
        if (r.token) headers.Authorization = `Bearer ${r.token}`;
        if (r.cert && r.key) {
          cr.cert = r.cert;
          cr.key = r.key;
        }
      } else if (authProvider) {
        if (!providerHeaders || Date.now() - providerHeaders.at > TOKEN_FILE_TTL_MS)
          providerHeaders = { h: await clientNodeAuth(merged, contextName), at: Date.now() };
        Object.assign(headers, providerHeaders.h);
      }
      return cr;
    },
    invalidate() {
      providerHeaders = undefined;
      tokenCache = undefined;
      if (!exec) return !!(authProvider || u.tokenFile || u['token-file']);
      exec.invalidate();
      return true;
    },
    needsClientNode: authProvider || socks,
    source: { files },
    merged,
  };
  if (exec) conn.exec = exec;
  if (proxyUrl) conn.proxy = proxyUrl;
  const ca = bytes(c['certificate-authority-data'], c['certificate-authority'], '/');
  if (ca) conn.ca = ca;
  const cert = bytes(u['client-certificate-data'], u['client-certificate'], '/');
  if (cert) conn.cert = cert;
  const key = bytes(u['client-key-data'], u['client-key'], '/');
  if (key) conn.key = key;
  if (c['insecure-skip-tls-verify']) conn.insecure = true;
  if (c['tls-server-name']) conn.servername = String(c['tls-server-name']);
  return conn;
}

/** client-node's KubeConfig for the merged config: loaded only for auth providers and SOCKS proxies. */
export async function clientNodeConfig(merged: RawConfig, contextName: string): Promise<import('@kubernetes/client-node').KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromString(yaml.dump(merged));
  kc.setCurrentContext(contextName);
  return kc;
}

async function clientNodeAuth(merged: RawConfig, contextName: string): Promise<Record<string, string>> {
  const kc = await clientNodeConfig(merged, contextName);
  const o: { headers?: Record<string, unknown>; auth?: string } = {};
  await kc.applyToHTTPSOptions(o as never);
  const h: Record<string, string> = {};
  const a = o.headers?.Authorization ?? o.headers?.authorization;
  if (a) h.Authorization = String(a);
  return h;
}

function inCluster(): Connection {
  const host = process.env.KUBERNETES_SERVICE_HOST!;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let namespace = 'default';
  try {
    namespace = fs.readFileSync(path.join(saDir(), 'namespace'), 'utf8').trim() || 'default';
  } catch {
    /* no namespace file: default, as client-go */
  }
  let cache: { token: string; at: number } | undefined;
  // Projected tokens rotate (kubelet refreshes the file at 80% of its lifetime): re-read it every minute, and at once after a 401.
  const headers = () => {
    if (!cache || Date.now() - cache.at > TOKEN_FILE_TTL_MS)
      cache = { token: fs.readFileSync(path.join(saDir(), 'token'), 'utf8').trim(), at: Date.now() };
    return { Authorization: `Bearer ${cache.token}` };
  };
  const proxy = proxyFromEnv(server);
  return {
    server,
    contextName: 'in-cluster',
    userName: 'service account',
    namespace,
    ca: fs.readFileSync(path.join(saDir(), 'ca.crt')),
    headers,
    credentials: async () => ({ headers: headers() }),
    invalidate: () => {
      cache = undefined;
      return true;
    },
    needsClientNode: false,
    source: { inCluster: true },
    ...(proxy ? { proxy } : {}),
  };
}
