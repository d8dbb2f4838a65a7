// Small network and file helpers of the local control plane harness (controlplane.ts), kept apart so that
// file stays about starting processes.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';

/** Distinct free loopback ports: all listeners stay open until every port is picked. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve());
      });
      servers.push(s);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

export function tail(file: string, lines = 30): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export const sleep = (ms: number, o: { unref?: boolean } = {}) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    if (o.unref) t.unref();
  });

/** A minimal HTTPS client for the harness itself; tests use @kubernetes/client-node or kubectl. */
export function request(
  url: string,
  opts: { method?: string; token?: string; ca?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    if (payload) headers['Content-Type'] = 'application/json';
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { method: opts.method ?? 'GET', headers, ca: opts.ca, timeout: opts.timeoutMs ?? 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout requesting ${url}`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}
