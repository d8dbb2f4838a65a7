import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadConnection, type Connection } from './kubeconfig.js';

// The only door to the cluster. Every request goes through `request()`, which counts it by kind of
// verb so tests and benchmarks can assert "a no-op install writes nothing", and turns transport and
// authorization failures into sentences a user can act on.

export interface ClientOptions {
  kubeconfig?: string;
  context?: string;
  /** A client-node config to use instead of reading one (callers that already hold one). */
  kubeConfig?: KubeConfig;
  /** Per-request timeout in ms (default 30s). */
  requestTimeoutMs?: number;
}

/** Requests made so far. `dryRuns` are PATCH/POST with dryRun=All: they cost a round trip but change nothing. */
export interface RequestCounts {
  get: number;
  list: number;
  discovery: number;
  dryRun: number;
  create: number;
  patch: number;
  update: number;
  delete: number;
}

export function emptyCounts(): RequestCounts {
  return { get: 0, list: 0, discovery: 0, dryRun: 0, create: 0, patch: 0, update: 0, delete: 0 };
}
export function writesOf(c: RequestCounts): number {
  return c.create + c.patch + c.update + c.delete;
}
export function readsOf(c: RequestCounts): number {
  return c.get + c.list + c.discovery;
}

/** A non-2xx answer from the apiserver, with its Status fields kept. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly reason: string,
    readonly status: Record<string, any> | undefined,
    readonly verb: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The apiserver could not be reached at all (refused, DNS, TLS, timeout). */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreachableError';
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.code === 404;
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  /** Treat 404 as `undefined` instead of throwing. */
  allow404?: boolean;
  /** Counted as discovery rather than get. */
  discovery?: boolean;
}

export class KubeClient {
  readonly server: string;
  readonly counts: RequestCounts = emptyCounts();
  private agent: http.Agent | undefined;
  private headers: Record<string, string> = {};
  private headersAt = 0;
  private readonly timeoutMs: number;

  /** From our own kubeconfig reader (`conn`), or a client-node KubeConfig for auth only it implements. */
  constructor(private readonly conn: Connection | undefined, private kc: KubeConfig | undefined, opts: { requestTimeoutMs?: number } = {}) {
    const server = conn?.server ?? kc?.getCurrentCluster()?.server;
    if (!server) throw new Error('no Kubernetes cluster configured: pass --kubeconfig/--context, set KUBECONFIG, or run in a pod with a service account');
    this.server = server.replace(/\/+$/, '');
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
  }

  static fromOptions(opts: ClientOptions = {}): KubeClient {
    const t = opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {};
    if (opts.kubeConfig) return new KubeClient(undefined, opts.kubeConfig, t);
    return new KubeClient(loadConnection(opts), undefined, t);
  }

  get user(): string {
    return this.conn?.userName ?? this.kc?.getCurrentUser()?.name ?? 'unknown';
  }

  resetCounts(): void {
    Object.assign(this.counts, emptyCounts());
  }

  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  // One keep-alive agent: dozens of small requests cost one TLS handshake (client-node builds a fresh
  // agent per call). Auth headers are refreshed periodically, for token files and expiring tokens.
  private async prepare(): Promise<void> {
    const now = Date.now();
    if (this.agent && now - this.headersAt < 60_000) return;
    if (this.conn && !this.conn.needsClientNode) {
      this.headers = this.conn.headers();
      this.headersAt = now;
      if (!this.agent) this.agent = this.makeAgent(this.conn);
      return;
    }
    if (!this.kc) this.kc = await clientNodeConfig(this.conn!);
    const o: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(o);
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(o.headers ?? {})) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : String(v);
    if (o.auth) h['Authorization'] = 'Basic ' + Buffer.from(o.auth).toString('base64');
    this.headers = h;
    this.headersAt = now;
    if (!this.agent) {
      if (this.kc.getCurrentCluster()?.proxyUrl) this.agent = o.agent as http.Agent;
      else
        this.agent = this.makeAgent({
          ...(o.ca ? { ca: o.ca as Buffer } : {}),
          ...(o.cert ? { cert: o.cert as Buffer } : {}),
          ...(o.key ? { key: o.key as Buffer } : {}),
          ...(o.rejectUnauthorized === false ? { insecure: true } : {}),
          ...(o.servername ? { servername: o.servername } : {}),
        });
    }
  }

  private makeAgent(t: { ca?: Buffer; cert?: Buffer; key?: Buffer; insecure?: boolean; servername?: string }): http.Agent {
    if (this.server.startsWith('http:')) return new http.Agent({ keepAlive: true, maxSockets: 32 });
    return new https.Agent({
      keepAlive: true,
      maxSockets: 32,
      ...(t.ca ? { ca: t.ca } : {}),
      ...(t.cert ? { cert: t.cert } : {}),
      ...(t.key ? { key: t.key } : {}),
      ...(t.insecure ? { rejectUnauthorized: false } : {}),
      ...(t.servername ? { servername: t.servername } : {}),
    });
  }

  async request<T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<T | undefined> {
    await this.prepare();
    const q = Object.entries(opts.query ?? {}).filter(([, v]) => v !== undefined) as Array<[string, string]>;
    const url = new URL(this.server + path + (q.length ? '?' + new URLSearchParams(q).toString() : ''));
    const dryRun = opts.query?.dryRun !== undefined;
    this.count(method, path, dryRun, opts);
    const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string> = { ...this.headers, Accept: 'application/json' };
    if (body !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const mod = url.protocol === 'http:' ? http : https;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.agent, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs / 1000}s`), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => reject(this.unreachable(e as NodeJS.ErrnoException)));
      if (body !== undefined) req.write(body);
      req.end();
    });
    if (status >= 200 && status < 300) return text ? (JSON.parse(text) as T) : undefined;
    if (status === 404 && opts.allow404) return undefined;
    throw this.apiError(method, path, status, text, dryRun);
  }

  private count(method: string, path: string, dryRun: boolean, opts: RequestOptions): void {
    const c = this.counts;
    if (dryRun) c.dryRun++;
    else if (method === 'GET') {
      if (opts.discovery) c.discovery++;
      else if (isCollectionPath(path)) c.list++;
      else c.get++;
    } else if (method === 'POST') c.create++;
    else if (method === 'PATCH') c.patch++;
    else if (method === 'PUT') c.update++;
    else if (method === 'DELETE') c.delete++;
  }

  private unreachable(e: NodeJS.ErrnoException): Error {
    const why =
      e.code === 'ECONNREFUSED' ? 'connection refused'
      : e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN' ? 'host not found'
      : e.code === 'ETIMEDOUT' ? 'timed out'
      : e.code === 'ECONNRESET' ? 'connection reset'
      : /certificate|self.signed|SSL|TLS/i.test(e.message) ? `TLS error (${e.message})`
      : e.message;
    return new UnreachableError(`cannot reach the Kubernetes API at ${this.server}: ${why}; check --kubeconfig/--context (or KUBECONFIG) and that the cluster is running`);
  }

  private apiError(method: string, path: string, code: number, text: string, dryRun: boolean): ApiError {
    let status: Record<string, any> | undefined;
    try {
      status = JSON.parse(text);
    } catch {
      status = undefined;
    }
    const reason = String(status?.reason ?? '');
    const msg = String(status?.message ?? text ?? '').trim();
    const verb = verbOf(method, path, dryRun);
    const what = describePath(path);
    if (code === 401) {
      return new ApiError(`unauthorized: the API server at ${this.server} rejected the credentials of user "${this.user}" (${verb} ${what}); check the kubeconfig's user or token`, code, reason, status, verb, path);
    }
    if (code === 403) {
      return new ApiError(`forbidden: user "${this.user}" may not ${verb} ${what}: ${msg || 'no reason given'}; grant that permission (RBAC) or use a context with more rights`, code, reason, status, verb, path);
    }
    return new ApiError(`${verb} ${what}: ${msg || `HTTP ${code}`}`, code, reason, status, verb, path);
  }
}

function isCollectionPath(path: string): boolean {
  // /api/v1/pods, /api/v1/namespaces/ns/pods, /apis/g/v/kind, /apis/g/v/namespaces/ns/kind; but /api/v1/namespaces/ns is an object.
  const parts = path.replace(/^\/+/, '').split('/');
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  if (rest[0] === 'namespaces') return rest.length === 1 || rest.length === 3;
  return rest.length === 1;
}

function verbOf(method: string, path: string, dryRun: boolean): string {
  const base = method === 'GET' ? (isCollectionPath(path) ? 'list' : 'get') : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method.toLowerCase();
  return dryRun ? `${base} (dry-run)` : base;
}

/** `/apis/apps/v1/namespaces/ns/deployments/x` → `deployments.apps "x" in namespace "ns"`. */
export function describePath(path: string): string {
  const p = path.split('?')[0]!.replace(/^\/+/, '').split('/');
  const group = p[0] === 'api' ? '' : p[1]!;
  let rest = p[0] === 'api' ? p.slice(2) : p.slice(3);
  let ns = '';
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    ns = rest[1]!;
    rest = rest.slice(2);
  }
  const resource = rest[0] ?? '';
  const name = rest[1];
  const r = group ? `${resource}.${group}` : resource;
  return `${r}${name ? ` "${name}"` : ''}${ns ? ` in namespace "${ns}"` : ''}`;
}

/** client-node's KubeConfig for the same source, loaded only for exec plugins, auth providers and proxies. */
async function clientNodeConfig(conn: Connection): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if ('inCluster' in conn.source) kc.loadFromCluster();
  else {
    kc.loadFromFile(conn.source.files[0]!);
    kc.setCurrentContext(conn.contextName);
  }
  return kc;
}
