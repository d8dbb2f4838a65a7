import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadConnection, type Connection } from './kubeconfig.js';

// The only door to the cluster, for the CLI and the controller alike. Every request goes through `request()`
// (or `watch()`), which counts it by kind of verb so tests and benchmarks can assert "a no-op install writes
// nothing", reports it to `onRequest` (the controller's metrics), and turns transport and authorization failures
// into sentences a user can act on. Built on node:http(s), not client-node: importing that costs ~90 MB of RSS,
// more than the rest of the operator, so it is loaded only for auth only it implements.

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

/** What a request did, as RBAC names it (watch included: the controller's informers stream). */
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'patch' | 'update' | 'delete';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Treat 404 as `undefined` instead of throwing. */
  allow404?: boolean;
  /** Counted as discovery rather than get. */
  discovery?: boolean;
  /** Accept header (default application/json): metadata-only lists ask for PartialObjectMetadataList (see METADATA_ONLY). */
  accept?: string;
  /** Return the body as text (e.g. the apiserver's /metrics). */
  raw?: boolean;
}

/** Accept headers that make the apiserver answer with metadata only: labels and names, no specs or statuses. */
export const METADATA_ONLY = {
  list: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
  watch: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json',
} as const;

export class KubeClient {
  readonly server: string;
  readonly counts: RequestCounts = emptyCounts();
  /** Called once per answered request (any HTTP status; not for transport failures) and per opened watch. */
  onRequest?: (verb: Verb, path: string, status: number) => void;
  private agent: http.Agent | undefined;
  /** Watches get their own sockets so that long-lived streams never starve short requests. */
  private watchAgent: http.Agent | undefined;
  private tls: TlsMaterial = {};
  private proxied = false;
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
    if (this.watchAgent !== this.agent) this.watchAgent?.destroy();
    this.agent = this.watchAgent = undefined;
  }

  // One keep-alive agent: dozens of small requests cost one TLS handshake (client-node builds a fresh
  // agent per call). Auth headers are refreshed periodically, for token files and expiring tokens.
  private async prepare(): Promise<void> {
    const now = Date.now();
    if (this.agent && now - this.headersAt < 60_000) return;
    if (this.conn && !this.conn.needsClientNode) {
      this.headers = this.conn.headers();
      this.headersAt = now;
      if (!this.agent) {
        const c = this.conn;
        this.tls = { ...(c.ca ? { ca: c.ca } : {}), ...(c.cert ? { cert: c.cert } : {}), ...(c.key ? { key: c.key } : {}), ...(c.insecure ? { insecure: true } : {}), ...(c.servername ? { servername: c.servername } : {}) };
        this.agent = this.makeAgent(this.tls);
      }
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
      if (this.kc.getCurrentCluster()?.proxyUrl) {
        this.agent = o.agent as http.Agent;
        this.proxied = true;
      } else {
        this.tls = {
          ...(o.ca ? { ca: o.ca as Buffer } : {}),
          ...(o.cert ? { cert: o.cert as Buffer } : {}),
          ...(o.key ? { key: o.key as Buffer } : {}),
          ...(o.rejectUnauthorized === false ? { insecure: true } : {}),
          ...(o.servername ? { servername: o.servername } : {}),
        };
        this.agent = this.makeAgent(this.tls);
      }
    }
  }

  private makeAgent(t: TlsMaterial, keepAlive = true): http.Agent {
    const sockets = keepAlive ? { keepAlive: true, maxSockets: 32 } : { keepAlive: false };
    if (this.server.startsWith('http:')) return new http.Agent(sockets);
    return new https.Agent({
      ...sockets,
      ...(t.ca ? { ca: t.ca } : {}),
      ...(t.cert ? { cert: t.cert } : {}),
      ...(t.key ? { key: t.key } : {}),
      ...(t.insecure ? { rejectUnauthorized: false } : {}),
      ...(t.servername ? { servername: t.servername } : {}),
    });
  }

  async request<T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<T | undefined> {
    await this.prepare();
    const url = this.url(path, opts.query);
    const dryRun = opts.query?.dryRun !== undefined;
    this.count(method, path, dryRun, opts);
    const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string> = { ...this.headers, Accept: opts.accept ?? (opts.raw ? '*/*' : 'application/json') };
    if (body !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const mod = url.protocol === 'http:' ? http : https;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.agent, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          this.onRequest?.(verbOf(method, path, false) as Verb, path, res.statusCode ?? 0);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs / 1000}s`), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => reject(this.unreachable(e as NodeJS.ErrnoException)));
      if (body !== undefined) req.write(body);
      req.end();
    });
    if (status >= 200 && status < 300) return opts.raw ? (text as T) : text ? (JSON.parse(text) as T) : undefined;
    if (status === 404 && opts.allow404) return undefined;
    throw this.apiError(method, path, status, text, dryRun);
  }

  private url(path: string, query: RequestOptions['query']): URL {
    const q = Object.entries(query ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)] as [string, string]);
    return new URL(this.server + path + (q.length ? '?' + new URLSearchParams(q).toString() : ''));
  }

  /**
   * Open a watch stream (no timeout: the apiserver ends it after `timeoutSeconds`). Calls onEvent per JSON line
   * and onDone exactly once (an error, or null on a clean close). Returns a function that aborts the stream
   * (onDone is then called with null). Counted by `onRequest` only: RequestCounts are the finite requests.
   */
  async watch(
    path: string,
    query: RequestOptions['query'],
    onEvent: (ev: { type: string; object: any }) => void,
    onDone: (err: unknown) => void,
    accept = 'application/json',
  ): Promise<() => void> {
    await this.prepare();
    this.watchAgent ??= this.proxied ? this.agent : this.makeAgent(this.tls, false);
    const url = this.url(path, { ...query, watch: 'true' });
    const mod = url.protocol === 'http:' ? http : https;
    let done = false;
    let aborted = false;
    const finish = (err: unknown) => {
      if (done) return;
      done = true;
      onDone(err);
    };
    const req = mod.request(url, { method: 'GET', headers: { ...this.headers, Accept: accept }, agent: this.watchAgent }, (res) => {
      const status = res.statusCode ?? 0;
      this.onRequest?.('watch', path, status);
      if (status >= 400) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(this.apiError('GET', path, status, Buffer.concat(chunks).toString('utf8'), false, 'watch')));
        return;
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line) continue;
          try {
            onEvent(JSON.parse(line));
          } catch (e) {
            finish(e);
            req.destroy();
            return;
          }
        }
      });
      res.on('end', () => finish(null));
      res.on('error', (e) => finish(e));
      res.on('aborted', () => finish(null));
    });
    req.on('error', (e) => finish(aborted ? null : this.unreachable(e as NodeJS.ErrnoException)));
    req.end();
    return () => {
      aborted = true;
      req.destroy();
      finish(null);
    };
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

  private apiError(method: string, path: string, code: number, text: string, dryRun: boolean, verbName?: string): ApiError {
    let status: Record<string, any> | undefined;
    try {
      status = JSON.parse(text);
    } catch {
      status = undefined;
    }
    const reason = String(status?.reason ?? '');
    const msg = String(status?.message ?? text ?? '').trim();
    const verb = verbName ?? verbOf(method, path, dryRun);
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

interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure?: boolean;
  servername?: string;
}

/** REST path of a collection or object. `resource` is the plural (deployments); core group is ''. */
export function resourcePath(group: string, version: string, resource: string, namespace?: string, name?: string, subresource?: string): string {
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  return `${base}${namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${resource}${name ? `/${encodeURIComponent(name)}` : ''}${subresource ? `/${subresource}` : ''}`;
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
