// Over 500 lines by choice: the one HTTP client (TLS, proxies, retries, watches, request counting) that every layer shares.
import http from 'node:http';
import https from 'node:https';
import type { OutgoingHttpHeaders } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { clientNodeConfig, loadConnection, type Connection } from './kubeconfig.js';
import { proxyAgent } from './proxy.js';
import type { ApiStatus, LiveObject, WatchEvent } from '../api/live.js';

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
const MAX_RETRY_AFTER_ATTEMPTS = 5;

/** How long the apiserver asked us to wait before retrying this request, or undefined when it is not to be retried. */
function retryAfterMs(e: unknown, method: string): number | undefined {
  if (!(e instanceof ApiError)) return undefined;
  const after = Number(e.status?.details?.retryAfterSeconds);
  if (!(after > 0)) return undefined;
  // 429 means the request was not processed; a 5xx only proves that for a read.
  if (e.code !== 429 && !(e.code >= 500 && method === 'GET')) return undefined;
  return Math.min(after, 5) * 1000;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly reason: string,
    readonly status: ApiStatus | undefined,
    readonly verb: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * A watch that carried no event and no bookmark for this long is presumed stuck and reopened. The apiserver sends a
 * bookmark to every watch that allows them about once a minute (the watch cache's bookmark frequency) and before
 * the watch's own timeout, so a healthy watch is never idle for 90 s.
 */
export const WATCH_IDLE_TIMEOUT_MS = 90_000;
/** TCP keepalive on watch sockets: the kernel probes an idle connection after this long and drops a dead peer. */
export const WATCH_KEEPALIVE_MS = 15_000;

/** A watch went silent for longer than its idle timeout and was closed (see KubeClient.watch). */
export class WatchIdleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WatchIdleError';
  }
}

/** The apiserver could not be reached at all (refused, DNS, TLS, timeout). */
export class UnreachableError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
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
  /** Identifies the client certificate the agents were built with: a renewed one (exec) needs new agents. */
  private agentCert = '';
  private headers: OutgoingHttpHeaders = {};
  private readonly timeoutMs: number;

  /** From our own kubeconfig reader (`conn`), or a client-node KubeConfig given by the caller. */
  constructor(
    private readonly conn: Connection | undefined,
    private kc: KubeConfig | undefined,
    opts: { requestTimeoutMs?: number } = {},
  ) {
    const server = conn?.server ?? kc?.getCurrentCluster()?.server;
    if (!server)
      throw new Error(
        'no Kubernetes cluster configured: pass --kubeconfig/--context, set KUBECONFIG, or run in a pod with a service account',
      );
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

  /** The namespace of the kubeconfig's context (or the pod's), for commands that default to it. */
  get namespace(): string {
    return this.conn?.namespace ?? this.kc?.getContextObject(this.kc.getCurrentContext())?.namespace ?? 'default';
  }

  /** The connection this client was made from (tests: exec runs, proxy). */
  get connection(): Connection | undefined {
    return this.conn;
  }

  resetCounts(): void {
    Object.assign(this.counts, emptyCounts());
  }

  close(): void {
    this.agent?.destroy();
    if (this.watchAgent !== this.agent) this.watchAgent?.destroy();
    this.agent = this.watchAgent = undefined;
  }

  // One keep-alive agent: dozens of small requests cost one TLS handshake (client-node builds a fresh agent per
  // call). Credentials are asked for before every request: cached by the connection while valid, so this is cheap,
  // and an exec plugin's expired token or certificate is renewed before it is sent.
  private async prepare(): Promise<void> {
    if (!this.conn) return this.prepareClientNode();
    const cr = await this.conn.credentials();
    this.headers = cr.headers;
    const id = cr.cert ? `${cr.cert.length}:${cr.cert.subarray(-64).toString('base64')}` : '';
    if (this.agent && id === this.agentCert) return;
    // A renewed client certificate: new connections use it; requests and watches in flight finish on the old ones.
    const old = [this.agent, this.watchAgent];
    setTimeout(() => old.forEach((a) => a?.destroy()), 120_000).unref();
    this.agentCert = id;
    const c = this.conn;
    const tls: TlsMaterial = {
      ...(c.ca ? { ca: c.ca } : {}),
      ...(cr.cert ? { cert: cr.cert } : {}),
      ...(cr.key ? { key: cr.key } : {}),
      ...(c.insecure ? { insecure: true } : {}),
      ...(c.servername ? { servername: c.servername } : {}),
    };
    if (c.proxy?.protocol.startsWith('socks')) {
      // SOCKS: client-node's agent (socks-proxy-agent) carries the TLS options itself.
      const kc = await clientNodeConfig(c.merged!, c.contextName);
      const o: https.RequestOptions = {};
      await kc.applyToHTTPSOptions(o);
      this.agent = this.watchAgent = o.agent as http.Agent;
      return;
    }
    this.agent = this.makeAgent(tls);
    this.watchAgent = this.makeAgent(tls, false);
  }

  /** A KubeConfig handed in by the caller (KubeClient.fromOptions({ kubeConfig })). */
  private async prepareClientNode(): Promise<void> {
    if (this.agent) return;
    const o: https.RequestOptions = {};
    await this.kc!.applyToHTTPSOptions(o);
    const h: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(o.headers ?? {})) if (v !== undefined) h[k] = v;
    if (o.auth) h['Authorization'] = 'Basic ' + Buffer.from(o.auth).toString('base64');
    this.headers = h;
    if (this.kc!.getCurrentCluster()?.proxyUrl) {
      this.agent = this.watchAgent = o.agent as http.Agent;
      return;
    }
    const tls: TlsMaterial = {
      ...(o.ca ? { ca: o.ca as Buffer } : {}),
      ...(o.cert ? { cert: o.cert as Buffer } : {}),
      ...(o.key ? { key: o.key as Buffer } : {}),
      ...(o.rejectUnauthorized === false ? { insecure: true } : {}),
      ...(o.servername ? { servername: o.servername } : {}),
    };
    this.agent = this.makeAgent(tls);
    this.watchAgent = this.makeAgent(tls, false);
  }

  private makeAgent(t: TlsMaterial, keepAlive = true): http.Agent {
    const sockets = keepAlive ? { keepAlive: true, maxSockets: 32 } : { keepAlive: false };
    const secure = !this.server.startsWith('http:');
    const opts: https.AgentOptions = {
      ...sockets,
      ...(t.ca ? { ca: t.ca } : {}),
      ...(t.cert ? { cert: t.cert } : {}),
      ...(t.key ? { key: t.key } : {}),
      ...(t.insecure ? { rejectUnauthorized: false } : {}),
      ...(t.servername ? { servername: t.servername } : {}),
    };
    if (this.conn?.proxy) return proxyAgent(this.conn.proxy, secure, opts);
    if (!secure) return new http.Agent(sockets);
    return new https.Agent(opts);
  }

  async request<T = LiveObject>(method: string, path: string, opts: RequestOptions = {}): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.requestOnce<T>(method, path, opts);
      } catch (e) {
        // Refused credentials from a plugin or a rotating token file: fetch fresh ones and try once more, as client-go does.
        if (e instanceof ApiError && e.code === 401 && attempt === 1 && this.conn?.invalidate()) continue;
        // The apiserver asks to come back later (429 "storage is (re)initializing" right after a CRD is created, or
        // a 5xx with retryAfterSeconds on a read): wait as asked and retry, as client-go does, a few times.
        const wait = retryAfterMs(e, method);
        if (wait !== undefined && attempt < MAX_RETRY_AFTER_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, wait));
          continue;
        }
        throw e;
      }
    }
  }

  private async requestOnce<T>(method: string, path: string, opts: RequestOptions): Promise<T | undefined> {
    await this.prepare();
    const url = this.url(path, opts.query);
    const dryRun = opts.query?.dryRun !== undefined;
    this.count(method, path, dryRun, opts);
    const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: OutgoingHttpHeaders = { ...this.headers, Accept: opts.accept ?? (opts.raw ? '*/*' : 'application/json') };
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
    const q = Object.entries(query ?? {})
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, String(v)] as [string, string]);
    return new URL(this.server + path + (q.length ? '?' + new URLSearchParams(q).toString() : ''));
  }

  /**
   * Open a watch stream (the apiserver ends it after `timeoutSeconds`). Calls onEvent per JSON line and onDone
   * exactly once (an error, or null on a clean close). Returns a function that aborts the stream (onDone is then
   * called with null). Counted by `onRequest` only: RequestCounts are the finite requests.
   *
   * A watch never hangs: its socket has TCP keepalive (a dead peer is noticed by the kernel), and a stream that
   * carries nothing for `idleTimeoutMs` (default WATCH_IDLE_TIMEOUT_MS) ends with a WatchIdleError, so the caller
   * opens a new one. That covers what keepalive cannot: a path that still answers TCP but forwards nothing (a
   * stuck proxy or load balancer). Healthy idle watches carry bookmarks, which reset the timer.
   */
  async watch(
    path: string,
    query: RequestOptions['query'],
    onEvent: (ev: WatchEvent) => void,
    onDone: (err: unknown) => void,
    accept = 'application/json',
    opts: { idleTimeoutMs?: number } = {},
  ): Promise<() => void> {
    await this.prepare();
    const url = this.url(path, { ...query, watch: 'true' });
    const mod = url.protocol === 'http:' ? http : https;
    const idleMs = opts.idleTimeoutMs ?? WATCH_IDLE_TIMEOUT_MS;
    let done = false;
    let aborted = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = (err: unknown) => {
      if (done) return;
      done = true;
      if (idle) clearTimeout(idle);
      onDone(err);
    };
    const alive = () => {
      if (idle) clearTimeout(idle);
      if (done) return;
      idle = setTimeout(() => {
        finish(new WatchIdleError(`watch ${describePath(path)} carried nothing for ${idleMs / 1000}s (not even a bookmark); reconnecting`));
        req.destroy();
      }, idleMs);
    };
    const req = mod.request(url, { method: 'GET', headers: { ...this.headers, Accept: accept }, agent: this.watchAgent }, (res) => {
      alive();
      const status = res.statusCode ?? 0;
      if (status === 401) this.conn?.invalidate();
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
        alive();
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line) continue;
          try {
            onEvent(JSON.parse(line) as WatchEvent);
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
    req.on('socket', (sock) => sock.setKeepAlive(true, WATCH_KEEPALIVE_MS));
    req.on('error', (e) => finish(aborted ? null : this.unreachable(e as NodeJS.ErrnoException)));
    req.end();
    alive();
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
      e.code === 'ECONNREFUSED'
        ? 'connection refused'
        : e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
          ? 'host not found'
          : e.code === 'ETIMEDOUT'
            ? 'timed out'
            : e.code === 'ECONNRESET'
              ? 'connection reset'
              : e.code === 'EPROXY'
                ? e.message
                : /certificate|self.signed|SSL|TLS/i.test(e.message)
                  ? `TLS error (${e.message})`
                  : e.message;
    const via = this.conn?.proxy ? ` through proxy ${this.conn.proxy.host}` : '';
    return new UnreachableError(
      `cannot reach the Kubernetes API at ${this.server}${via}: ${why}; check --kubeconfig/--context (or KUBECONFIG) and that the cluster is running`,
      e.code,
    );
  }

  private apiError(method: string, path: string, code: number, text: string, dryRun: boolean, verbName?: string): ApiError {
    let status: ApiStatus | undefined;
    try {
      status = JSON.parse(text) as ApiStatus;
    } catch {
      status = undefined;
    }
    const reason = String(status?.reason ?? '');
    const msg = String(status?.message ?? text ?? '').trim();
    const verb = verbName ?? verbOf(method, path, dryRun);
    const what = describePath(path);
    if (code === 401) {
      return new ApiError(
        `unauthorized: the API server at ${this.server} rejected the credentials of user "${this.user}" (${verb} ${what}); check the kubeconfig's user or token`,
        code,
        reason,
        status,
        verb,
        path,
      );
    }
    if (code === 403) {
      return new ApiError(
        `forbidden: user "${this.user}" may not ${verb} ${what}: ${msg || 'no reason given'}; grant that permission (RBAC) or use a context with more rights`,
        code,
        reason,
        status,
        verb,
        path,
      );
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
export function resourcePath(
  group: string,
  version: string,
  resource: string,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
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
  const base =
    method === 'GET'
      ? isCollectionPath(path)
        ? 'list'
        : 'get'
      : method === 'POST'
        ? 'create'
        : method === 'PUT'
          ? 'update'
          : method.toLowerCase();
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
