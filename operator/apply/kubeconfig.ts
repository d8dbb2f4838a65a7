import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';

// Reads a kubeconfig the way kubectl does, without @kubernetes/client-node: importing that package costs
// more wall time than a whole no-op install (hundreds of generated modules). The common cases (token,
// token file, client certificate, basic auth, CA, insecure, in-cluster) are handled here; exec plugins,
// auth providers and proxies are flagged so the client can hand them to client-node, loaded only then.

export interface Connection {
  server: string;
  contextName: string;
  userName: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure?: boolean;
  servername?: string;
  /** Authorization (and impersonation) headers; re-read for token files. */
  headers(): Record<string, string>;
  /** The user or cluster needs what only client-node implements (exec, auth-provider, proxy-url). */
  needsClientNode: boolean;
  /** Where it came from, for the client-node fallback: files, or in-cluster. */
  source: { files: string[] } | { inCluster: true };
}

type Named<T> = { name: string } & T;
interface RawConfig {
  clusters?: Array<Named<{ cluster?: Record<string, any> }>>;
  users?: Array<Named<{ user?: Record<string, any> }>>;
  contexts?: Array<Named<{ context?: Record<string, any> }>>;
  'current-context'?: string;
}

// ISTIO_OPERATOR_SA_DIR: for tests, which run the in-cluster path outside a pod (token, ca.crt in that folder).
const saDir = () => process.env.ISTIO_OPERATOR_SA_DIR || '/var/run/secrets/kubernetes.io/serviceaccount';

/** Files kubectl would read: --kubeconfig, else every existing file of $KUBECONFIG, else ~/.kube/config. */
function configFiles(explicit?: string): string[] {
  if (explicit) {
    if (!fs.existsSync(explicit)) throw new Error(`kubeconfig ${explicit} does not exist (from --kubeconfig)`);
    return [explicit];
  }
  const env = process.env.KUBECONFIG;
  if (env) {
    const listed = env.split(path.delimiter).filter(Boolean);
    const existing = listed.filter((p) => fs.existsSync(p));
    if (!existing.length) throw new Error(`KUBECONFIG points to ${listed.join(', ')}, which does not exist; set --kubeconfig or fix KUBECONFIG`);
    return existing;
  }
  const home = path.join(os.homedir(), '.kube', 'config');
  return fs.existsSync(home) ? [home] : [];
}

function bytes(data: unknown, file: unknown, dir: string): Buffer | undefined {
  if (typeof data === 'string' && data) return Buffer.from(data, 'base64');
  if (typeof file === 'string' && file) return fs.readFileSync(path.isAbsolute(file) ? file : path.join(dir, file));
  return undefined;
}

export function loadConnection(opts: { kubeconfig?: string; context?: string } = {}): Connection {
  const files = configFiles(opts.kubeconfig);
  if (!files.length) {
    if (process.env.KUBERNETES_SERVICE_HOST && fs.existsSync(path.join(saDir(), 'token'))) return inCluster();
    throw new Error('no Kubernetes cluster configured: pass --kubeconfig/--context, set KUBECONFIG, or run in a pod with a service account');
  }
  // Merge as kubectl does: the first file that names a cluster/user/context (or current-context) wins.
  const clusters = new Map<string, { v: Record<string, any>; dir: string }>();
  const users = new Map<string, { v: Record<string, any>; dir: string }>();
  const contexts = new Map<string, Record<string, any>>();
  let current: string | undefined;
  for (const f of files) {
    let raw: RawConfig;
    try {
      raw = (yaml.load(fs.readFileSync(f, 'utf8')) ?? {}) as RawConfig;
    } catch (e) {
      throw new Error(`kubeconfig ${f} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    const dir = path.dirname(path.resolve(f));
    for (const c of raw.clusters ?? []) if (!clusters.has(c.name)) clusters.set(c.name, { v: c.cluster ?? {}, dir });
    for (const u of raw.users ?? []) if (!users.has(u.name)) users.set(u.name, { v: u.user ?? {}, dir });
    for (const c of raw.contexts ?? []) if (!contexts.has(c.name)) contexts.set(c.name, c.context ?? {});
    current ??= raw['current-context'] || undefined;
  }
  const contextName = opts.context ?? current;
  if (!contextName) throw new Error(`no current context in ${files.join(', ')}: pass --context (available: ${[...contexts.keys()].join(', ') || 'none'})`);
  const ctx = contexts.get(contextName);
  if (!ctx) throw new Error(`context "${contextName}" not found in kubeconfig (available: ${[...contexts.keys()].join(', ') || 'none'})`);
  const cluster = clusters.get(ctx.cluster);
  if (!cluster || !cluster.v.server) throw new Error(`context "${contextName}" names cluster "${ctx.cluster}", which the kubeconfig does not define (with a server)`);
  const userName = String(ctx.user ?? '');
  const user = users.get(userName) ?? { v: {}, dir: cluster.dir };
  const u = user.v;
  const c = cluster.v;
  const needsClientNode = !!(u.exec || u['auth-provider'] || c['proxy-url']);
  const headers = (): Record<string, string> => {
    const h: Record<string, string> = {};
    const tokenFile = u.tokenFile ?? u['token-file'];
    const token = u.token ?? (tokenFile ? fs.readFileSync(path.isAbsolute(tokenFile) ? tokenFile : path.join(user.dir, tokenFile), 'utf8').trim() : undefined);
    if (token) h.Authorization = `Bearer ${token}`;
    else if (u.username) h.Authorization = 'Basic ' + Buffer.from(`${u.username}:${u.password ?? ''}`).toString('base64');
    if (u.as) h['Impersonate-User'] = String(u.as);
    return h;
  };
  const conn: Connection = {
    server: String(c.server).replace(/\/+$/, ''),
    contextName,
    userName,
    headers,
    needsClientNode,
    source: { files },
  };
  const ca = bytes(c['certificate-authority-data'], c['certificate-authority'], cluster.dir);
  if (ca) conn.ca = ca;
  const cert = bytes(u['client-certificate-data'], u['client-certificate'], user.dir);
  if (cert) conn.cert = cert;
  const key = bytes(u['client-key-data'], u['client-key'], user.dir);
  if (key) conn.key = key;
  if (c['insecure-skip-tls-verify']) conn.insecure = true;
  if (c['tls-server-name']) conn.servername = String(c['tls-server-name']);
  return conn;
}

function inCluster(): Connection {
  const host = process.env.KUBERNETES_SERVICE_HOST!;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    contextName: 'in-cluster',
    userName: 'service account',
    ca: fs.readFileSync(path.join(saDir(), 'ca.crt')),
    // Projected tokens rotate: read the file again on every refresh.
    headers: () => ({ Authorization: `Bearer ${fs.readFileSync(path.join(saDir(), 'token'), 'utf8').trim()}` }),
    needsClientNode: false,
    source: { inCluster: true },
  };
}
