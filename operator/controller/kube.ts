import http from 'node:http';
import https from 'node:https';
import { loadConnection, type Connection } from '../apply/kubeconfig.js';

// A small REST client for what the controller needs beyond applying manifests: the status subresource,
// Events, Leases and streaming watches. Built on node:https with the kubeconfig read by the apply engine's
// loader (no @kubernetes/client-node: importing it costs ~90 MB of RSS, more than the rest of the operator),
// so that every request is counted (metrics) and no request shape is hidden behind a generated client.

export interface KubeResponse<T = any> {
  status: number;
  body: T;
}

export class KubeError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'KubeError';
  }
}

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'patch' | 'update' | 'delete';

export interface RequestCounter {
  (verb: Verb, path: string, status: number): void;
}

interface Auth {
  headers: Record<string, string>;
  tls: https.AgentOptions;
}

export class Kube {
  private readonly server: URL;
  onRequest?: RequestCounter;
  private auth?: { at: number; value: Auth };
  /** Keep-alive for short requests; watches get their own sockets so they never starve requests. */
  private agent?: http.Agent;
  private watchAgent?: http.Agent;

  constructor(private readonly conn: Connection) {
    this.server = new URL(conn.server);
  }

  static fromDefault(kubeconfigPath?: string, context?: string): Kube {
    return new Kube(loadConnection({ ...(kubeconfigPath ? { kubeconfig: kubeconfigPath } : {}), ...(context ? { context } : {}) }));
  }

  /** Auth headers and TLS material; refreshed every minute (token files rotate, exec credentials expire). */
  private async credentials(): Promise<Auth> {
    const now = Date.now();
    if (this.auth && now - this.auth.at < 60_000) return this.auth.value;
    let value: Auth;
    if (!this.conn.needsClientNode) {
      const c = this.conn;
      value = { headers: c.headers(), tls: { ...(c.ca ? { ca: c.ca } : {}), ...(c.cert ? { cert: c.cert } : {}), ...(c.key ? { key: c.key } : {}), ...(c.insecure ? { rejectUnauthorized: false } : {}), ...(c.servername ? { servername: c.servername } : {}) } };
    } else {
      // Exec plugins and auth providers: only client-node implements them, so it is loaded only for them.
      const { KubeConfig } = await import('@kubernetes/client-node');
      const kc = new KubeConfig();
      if ('inCluster' in this.conn.source) kc.loadFromCluster();
      else {
        kc.loadFromFile(this.conn.source.files[0]!);
        kc.setCurrentContext(this.conn.contextName);
      }
      const o: https.RequestOptions = {};
      await kc.applyToHTTPSOptions(o);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
      value = { headers, tls: { ...(o.ca ? { ca: o.ca } : {}), ...(o.cert ? { cert: o.cert } : {}), ...(o.key ? { key: o.key } : {}), ...(o.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}) } };
    }
    if (!this.agent) {
      const mk = (keepAlive: boolean) => (this.server.protocol === 'http:' ? new http.Agent({ keepAlive }) : new https.Agent({ keepAlive, maxSockets: keepAlive ? 16 : Infinity, ...value.tls }));
      this.agent = mk(true);
      this.watchAgent = mk(false);
    }
    this.auth = { at: now, value };
    return value;
  }

  close(): void {
    this.agent?.destroy();
    this.watchAgent?.destroy();
    this.agent = this.watchAgent = undefined;
    this.auth = undefined;
  }

  private async options(method: string, path: string, query?: Record<string, string | number | boolean | undefined>, headers: Record<string, string> = {}, watch = false) {
    const url = new URL(this.server.toString().replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const auth = await this.credentials();
    const opts: https.RequestOptions = {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: { Accept: 'application/json', ...auth.headers, ...headers },
      agent: watch ? this.watchAgent : this.agent,
    };
    return opts;
  }

  private transport(): typeof https | typeof http {
    return this.server.protocol === 'http:' ? http : https;
  }

  async request<T = any>(
    verb: Verb,
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    init: { query?: Record<string, string | number | boolean | undefined>; body?: unknown; contentType?: string; allow404?: boolean; timeoutMs?: number } = {},
  ): Promise<KubeResponse<T>> {
    const data = init.body === undefined ? undefined : Buffer.from(JSON.stringify(init.body));
    const headers: Record<string, string> = {};
    if (data) {
      headers['Content-Type'] = init.contentType ?? 'application/json';
      headers['Content-Length'] = String(data.length);
    }
    const opts = await this.options(method, path, init.query, headers);
    const res = await new Promise<KubeResponse<T>>((resolve, reject) => {
      const req = this.transport().request(opts, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: any = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            /* non-JSON error bodies are kept as text */
          }
          resolve({ status: r.statusCode ?? 0, body });
        });
        r.on('error', reject);
      });
      req.setTimeout(init.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${path}: timed out after ${init.timeoutMs ?? 30_000} ms`)));
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
    this.onRequest?.(verb, path, res.status);
    if (res.status === 404 && init.allow404) return res;
    if (res.status >= 400) {
      const b = res.body as any;
      throw new KubeError(res.status, b?.reason ?? '', `${method} ${path}: ${res.status} ${b?.message ?? (typeof b === 'string' ? b : '')}`.trim(), b);
    }
    return res;
  }

  get<T = any>(path: string, query?: Record<string, string | number | boolean | undefined>) {
    return this.request<T>('get', 'GET', path, { query });
  }
  async getOrNull<T = any>(path: string): Promise<T | null> {
    const r = await this.request<T>('get', 'GET', path, { allow404: true });
    return r.status === 404 ? null : r.body;
  }

  /**
   * Open a watch stream. Calls onEvent per JSON line and onDone exactly once (error, or null on a clean close).
   * Returns a function that aborts the stream (onDone is then called with null).
   */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (ev: { type: string; object: any }) => void,
    onDone: (err: unknown) => void,
  ): Promise<() => void> {
    const opts = await this.options('GET', path, { ...query, watch: 'true' }, {}, true);
    let done = false;
    const finish = (err: unknown) => {
      if (done) return;
      done = true;
      onDone(err);
    };
    const req = this.transport().request(opts, (r) => {
      this.onRequest?.('watch', path, r.statusCode ?? 0);
      if ((r.statusCode ?? 0) >= 400) {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => {
          let b: any;
          try {
            b = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            /* keep undefined */
          }
          finish(new KubeError(r.statusCode ?? 0, b?.reason ?? '', `watch ${path}: ${r.statusCode} ${b?.message ?? ''}`.trim(), b));
        });
        return;
      }
      let buf = '';
      r.setEncoding('utf8');
      r.on('data', (chunk: string) => {
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
      r.on('end', () => finish(null));
      r.on('error', (e) => finish(e));
      r.on('aborted', () => finish(null));
    });
    req.on('error', (e) => finish(aborted ? null : e));
    let aborted = false;
    req.end();
    return () => {
      aborted = true;
      req.destroy();
      finish(null);
    };
  }
}

/** REST path of a collection or object. `resource` is the plural (deployments); core group is ''. */
export function resourcePath(group: string, version: string, resource: string, namespace?: string, name?: string, subresource?: string): string {
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  return `${base}${namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${resource}${name ? `/${encodeURIComponent(name)}` : ''}${subresource ? `/${subresource}` : ''}`;
}
