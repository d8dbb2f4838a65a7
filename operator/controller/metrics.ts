import http from 'node:http';

// Prometheus text exposition, written by hand: a handful of counters, gauges and one histogram do not need a
// library, and the format is stable (https://prometheus.io/docs/instrumenting/exposition_formats/).

type Labels = Record<string, string>;
const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const fmt = (l: Labels) => {
  const e = Object.entries(l);
  return e.length ? `{${e.map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}` : '';
};

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: string,
  ) {}
  abstract lines(): string[];
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, ...this.lines()].join('\n');
  }
}

export class Counter extends Metric {
  private v = new Map<string, { l: Labels; n: number }>();
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(l: Labels = {}, by = 1): void {
    const k = fmt(l);
    const cur = this.v.get(k) ?? { l, n: 0 };
    cur.n += by;
    this.v.set(k, cur);
  }
  get(l: Labels = {}): number {
    return this.v.get(fmt(l))?.n ?? 0;
  }
  lines() {
    return [...this.v.entries()].map(([k, x]) => `${this.name}${k} ${x.n}`);
  }
}

export class Gauge extends Metric {
  private v = new Map<string, { l: Labels; n: number }>();
  constructor(
    name: string,
    help: string,
    private readonly collect?: () => Array<[Labels, number]>,
  ) {
    super(name, help, 'gauge');
  }
  set(l: Labels, n: number): void {
    this.v.set(fmt(l), { l, n });
  }
  delete(l: Labels): void {
    this.v.delete(fmt(l));
  }
  lines() {
    const entries = this.collect ? this.collect().map(([l, n]) => [fmt(l), { l, n }] as const) : [...this.v.entries()];
    return entries.map(([k, x]) => `${this.name}${k} ${x.n}`);
  }
}

/** A counter whose value is read from elsewhere at scrape time (e.g. a client's request counts). */
export class CounterFunc extends Metric {
  constructor(
    name: string,
    help: string,
    private readonly collect: () => Array<[Labels, number]>,
  ) {
    super(name, help, 'counter');
  }
  lines() {
    return this.collect().map(([l, n]) => `${this.name}${fmt(l)} ${n}`);
  }
}

export class Histogram extends Metric {
  private counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    name: string,
    help: string,
    private readonly buckets: number[],
  ) {
    super(name, help, 'histogram');
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    this.buckets.forEach((b, i) => {
      if (v <= b) this.counts[i]!++;
    });
  }
  lines() {
    return [
      ...this.buckets.map((b, i) => `${this.name}_bucket{le="${b}"} ${this.counts[i]}`),
      `${this.name}_bucket{le="+Inf"} ${this.count}`,
      `${this.name}_sum ${this.sum}`,
      `${this.name}_count ${this.count}`,
    ];
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  add<T extends Metric>(m: T): T {
    this.metrics.push(m);
    return m;
  }
  render(): string {
    return this.metrics.map((m) => m.render()).join('\n') + '\n';
  }
}

/** Serves /metrics (when a registry is given), /healthz and /readyz. Returns the bound port. */
export function serve(
  addr: string,
  routes: { metrics?: Registry; healthz?: () => boolean; readyz?: () => boolean },
  /** The flag that sets `addr`, named in a bind error so the user knows what to change. */
  flag?: string,
): Promise<{ server: http.Server; port: number }> {
  const { host, port } = parseAddr(addr, flag);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const check = (ok: boolean) => {
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(ok ? 'ok\n' : 'not ready\n');
    };
    if (path === '/metrics' && routes.metrics) {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(routes.metrics.render());
    } else if (path === '/healthz' && routes.healthz) check(routes.healthz());
    else if (path === '/readyz' && routes.readyz) check(routes.readyz());
    else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(bindError(e, addr, flag)));
    server.listen(port, host, () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : port });
    });
  });
}

/** `:8080`, `0.0.0.0:8080`, `127.0.0.1:0` → host/port. An empty host listens on every interface. */
export function parseAddr(addr: string, flag?: string): { host: string | undefined; port: number } {
  const i = addr.lastIndexOf(':');
  const host = i > 0 ? addr.slice(0, i) : undefined;
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(
      `invalid address "${addr}"${flag ? ` (${flag})` : ''}: expected [HOST]:PORT with a port from 0 to 65535, e.g. :8080 or 127.0.0.1:0`,
    );
  return { host, port };
}

/** A listen failure as a sentence naming the address and the flag that changes it (not a bare EADDRINUSE). */
export function bindError(e: NodeJS.ErrnoException, addr: string, flag?: string): Error {
  const change = flag ? `; choose another with ${flag}=HOST:PORT (${flag}=127.0.0.1:0 picks a free port, ${flag}=0 disables it)` : '';
  const why =
    e.code === 'EADDRINUSE'
      ? `address ${addr} is already in use by another process`
      : e.code === 'EACCES'
        ? `no permission to listen on ${addr} (ports below 1024 need privileges)`
        : e.code === 'EADDRNOTAVAIL'
          ? `address ${addr} is not an address of this machine`
          : `cannot listen on ${addr}: ${e.message}`;
  return Object.assign(new Error(why + change), { code: e.code });
}
