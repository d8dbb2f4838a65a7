import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

// HTTP CONNECT proxies for the API server connection: the kubeconfig's `proxy-url`, else HTTPS_PROXY / HTTP_PROXY
// with NO_PROXY from the environment, as client-go does (golang.org/x/net/http/httpproxy: loopback and localhost
// are never proxied from the environment). SOCKS proxies are left to @kubernetes/client-node.

/** The proxy for `server` from the environment, or undefined (no proxy set, NO_PROXY matches, or loopback). */
export function proxyFromEnv(server: string, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const u = new URL(server);
  const raw = u.protocol === 'https:' ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy);
  if (!raw) return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || isLoopback(host)) return undefined;
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  if (noProxyMatches(host, port, env.NO_PROXY ?? env.no_proxy ?? '')) return undefined;
  // httpproxy: a value without a scheme is http://
  return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
}

function isLoopback(host: string): boolean {
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1';
  return false;
}

/** NO_PROXY as httpproxy reads it: `*`, host names (with or without a leading dot: the domain and its subdomains), IPs, CIDRs, each optionally with :port. */
export function noProxyMatches(host: string, port: string, noProxy: string): boolean {
  for (let entry of noProxy
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)) {
    if (entry === '*') return true;
    if (entry.includes('/')) {
      if (inCidr(host, entry)) return true;
      continue;
    }
    let entryPort: string | undefined;
    const m = /^(.*):(\d+)$/.exec(entry);
    if (m && !net.isIPv6(entry)) {
      entry = m[1]!;
      entryPort = m[2];
    }
    entry = entry.replace(/^\[|\]$/g, '');
    if (entryPort && entryPort !== port) continue;
    if (net.isIP(entry)) {
      if (entry === host) return true;
      continue;
    }
    const domain = entry.replace(/^\*?\./, '');
    if (host === domain || host.endsWith(`.${domain}`)) return true;
  }
  return false;
}

function inCidr(host: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!net.isIP(host) || !net.isIP(base!) || net.isIPv4(host) !== net.isIPv4(base!)) return false;
  const list = new net.BlockList();
  try {
    list.addSubnet(base!, bits, net.isIPv4(base!) ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
  return list.check(host, net.isIPv4(host) ? 'ipv4' : 'ipv6');
}

/** Opens a tunnel to host:port through an HTTP(S) CONNECT proxy; resolves with the raw socket. */
export function connectTunnel(proxy: URL, host: string, port: number, timeoutMs = 30_000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: `${host}:${port}` };
    if (proxy.username)
      headers['Proxy-Authorization'] =
        'Basic ' + Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64');
    const mod = proxy.protocol === 'https:' ? https : http;
    const req = mod.request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT',
      path: `${host.includes(':') ? `[${host}]` : host}:${port}`,
      headers,
      agent: false,
      timeout: timeoutMs,
    });
    req.once('connect', (res, socket) => {
      if (res.statusCode === 200) return resolve(socket);
      socket.destroy();
      reject(
        Object.assign(
          new Error(`proxy ${proxy.host} refused to tunnel to ${host}:${port}: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim()),
          { code: 'EPROXY' },
        ),
      );
    });
    req.once('timeout', () =>
      req.destroy(Object.assign(new Error(`proxy ${proxy.host} did not answer within ${timeoutMs / 1000}s`), { code: 'ETIMEDOUT' })),
    );
    req.once('error', (e) => reject(Object.assign(e, { message: `proxy ${proxy.host}: ${e.message}` })));
    req.end();
  });
}

/** An agent whose connections go through `proxy` by CONNECT; TLS to the API server is inside the tunnel. */
export function proxyAgent(proxy: URL, secure: boolean, opts: https.AgentOptions): http.Agent {
  const Base = secure ? https.Agent : http.Agent;
  const agent = new Base(opts);
  // Node's agent accepts an asynchronous createConnection that answers through the callback.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- @types/node's createConnection wants a stream in the callback even on error, and its options (ClientRequestArgs) do not spread into tls.connect
  (agent as any).createConnection = (o: any, cb: (err: Error | null, s?: net.Socket) => void): undefined => {
    const host = String(o.host ?? o.hostname);
    connectTunnel(proxy, host, Number(o.port)).then(
      (raw) => {
        if (!secure) return cb(null, raw);
        let answered = false;
        const once = (e: Error | null, sock?: net.Socket) => {
          if (answered) return;
          answered = true;
          cb(e, sock);
        };
        const s = tls.connect({ ...o, socket: raw, servername: o.servername ?? (net.isIP(host) ? undefined : host) });
        s.once('secureConnect', () => once(null, s));
        s.once('error', (e) => once(e));
      },
      (e) => cb(e),
    );
    return undefined;
  };
  return agent;
}
