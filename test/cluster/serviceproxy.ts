// The local control plane's "kube-proxy": an HTTP CONNECT proxy on a unix socket that kube-apiserver uses as
// its `cluster` egress (--egress-selector-config-file). With it, admission webhooks that reference a Service
// (istiod's injector and validator, as rendered) reach a process running on this machine, exactly as the API
// server reaches a pod behind a Service in a real cluster: the webhook configurations stay untouched.
//
// kube-apiserver resolves a webhook's Service to its ClusterIP:port before dialling (ClusterIPServiceResolver),
// so a CONNECT names `<clusterIP>:<port>`; `<svc>.<ns>.svc:<port>` is accepted too. The Service's selector and
// targetPort choose among the local endpoints registered in `endpointsDir` (see endpoints.ts), as kube-proxy
// would choose among the Service's pods. Loopback targets pass through: the fake node's kubelet (kwok) listens
// there, and logs/exec/port-forward go through the same egress. A Service without a selector goes where its
// EndpointSlices say, as kube-proxy sends it, when a local process registered that address as its own: a remote
// cluster's `istiod` Service points at the primary's istiod that way (Istio's `remote` profile, remotePilotAddress). Anything
// else is refused with a reason that kube-apiserver puts into its error (`proxy error from ... code 503: 503 <reason>`).
import * as fs from 'node:fs';
import * as net from 'node:net';
import { liveEndpoints, type LocalEndpoint } from './endpoints.js';

/** The parts of a v1 Service the proxy routes by. */
export interface ServiceInfo {
  namespace: string;
  name: string;
  clusterIP?: string;
  selector?: Record<string, string>;
  ports: Array<{ name?: string; port: number; targetPort?: number | string }>;
  /** For a Service without a selector: its EndpointSlices' endpoints (addresses) and ports, as written by hand. */
  endpointSlices?: Array<{ addresses: string[]; ports: Array<{ name?: string; port?: number }> }>;
}

export interface ServiceProxyOptions {
  socketPath: string;
  endpointsDir: string;
  /** Every Service of the cluster (read at each CONNECT; the API server keeps webhook connections alive). */
  listServices: () => Promise<ServiceInfo[]>;
  /** One line per CONNECT and its outcome. */
  logFile: string;
}

export interface ServiceProxy {
  socketPath: string;
  close(): Promise<void>;
}

type Route = { ok: true; port: number; host: string; what: string } | { ok: false; reason: string };

/** Where a CONNECT target goes: a registered local endpoint of the Service, loopback as is, else nowhere. */
export async function route(target: string, endpointsDir: string, listServices: () => Promise<ServiceInfo[]>): Promise<Route> {
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(target.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port <= 0) return { ok: false, reason: `bad CONNECT target ${target}` };
  if (host === 'localhost' || (net.isIP(host) && (host.startsWith('127.') || host === '::1'))) {
    return { ok: true, host, port, what: 'loopback' };
  }
  const services = await listServices();
  const svcName = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\.cluster\.local)?$/.exec(host);
  const svc = svcName
    ? services.find((s) => s.name === svcName[1] && s.namespace === svcName[2])
    : services.find((s) => s.clusterIP === host);
  if (!svc) return { ok: false, reason: `no Service has the address ${host}` };
  const sp = svc.ports.find((p) => p.port === port);
  if (!sp) return { ok: false, reason: `Service ${svc.namespace}/${svc.name} has no port ${port}` };
  const selector = svc.selector ?? {};
  if (Object.keys(selector).length === 0) return viaEndpointSlices(svc, sp, endpointsDir);
  const matches = liveEndpoints(endpointsDir).filter(
    (e) => e.namespace === svc.namespace && Object.entries(selector).every(([k, v]) => e.labels[k] === v),
  );
  if (matches.length === 0) {
    return {
      ok: false,
      reason: `no local process serves Service ${svc.namespace}/${svc.name} (selector ${JSON.stringify(selector)}); start one with the test/istio harness`,
    };
  }
  const target2 = sp.targetPort ?? port;
  for (const e of matches) {
    const containerPort = typeof target2 === 'number' ? target2 : e.portNames[target2];
    const local = containerPort === undefined ? undefined : e.ports[String(containerPort)];
    if (local !== undefined)
      return { ok: true, host: '127.0.0.1', port: local, what: `${svc.namespace}/${svc.name}:${port} -> ${describe(e)}` };
  }
  return {
    ok: false,
    reason: `Service ${svc.namespace}/${svc.name} port ${port} targets ${target2}, which no matching local process listens for`,
  };
}

/**
 * A Service without a selector, as kube-proxy routes it: to an address of its EndpointSlices, on the slice's port
 * whose name is the Service port's (EndpointSlice ports are matched by name). The API server refuses loopback
 * addresses in EndpointSlices, so an address stands for a local process that registered it (LocalEndpoint.addresses):
 * the one place that address leads to on this machine. Nothing is ever dialled at the address itself.
 */
function viaEndpointSlices(svc: ServiceInfo, sp: ServiceInfo['ports'][number], endpointsDir: string): Route {
  const what = `Service ${svc.namespace}/${svc.name}`;
  const slices = svc.endpointSlices ?? [];
  if (slices.length === 0) return { ok: false, reason: `${what} has no selector and no EndpointSlice` };
  const live = liveEndpoints(endpointsDir);
  const unserved: string[] = [];
  for (const s of slices) {
    const p = s.ports.find((x) => (x.name ?? '') === (sp.name ?? ''));
    if (p?.port === undefined) continue;
    for (const a of s.addresses) {
      const e = live.find((x) => x.addresses?.includes(a));
      const local = e?.ports[String(p.port)];
      if (e && local !== undefined)
        return { ok: true, host: '127.0.0.1', port: local, what: `${what}:${sp.port} -> endpoint ${a}:${p.port} -> ${describe(e)}` };
      unserved.push(`${a}:${p.port}`);
    }
  }
  return {
    ok: false,
    reason: unserved.length
      ? `${what} has no selector and no local process serves its endpoints (${unserved.join(', ')})`
      : `${what} has no selector and no EndpointSlice port named ${JSON.stringify(sp.name ?? '')}`,
  };
}

function describe(e: LocalEndpoint): string {
  return `${e.name} (pid ${e.pid})`;
}

/** Starts listening on `socketPath` (removed first if a stale one exists). */
export async function startServiceProxy(opts: ServiceProxyOptions): Promise<ServiceProxy> {
  fs.rmSync(opts.socketPath, { force: true });
  fs.mkdirSync(opts.endpointsDir, { recursive: true });
  const log = (line: string) => fs.appendFileSync(opts.logFile, `${new Date().toISOString()} ${line}\n`);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16_384) client.destroy();
        return;
      }
      client.off('data', onData);
      client.pause();
      const rest = head.subarray(end + 4);
      const first = head.subarray(0, end).toString('latin1').split('\r\n')[0] ?? '';
      const m = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(first);
      if (!m) {
        log(`refused: not a CONNECT: ${first}`);
        client.end('HTTP/1.1 405 only CONNECT is served here\r\n\r\n');
        return;
      }
      void connect(m[1]!, rest);
    };
    const connect = async (target: string, rest: Buffer) => {
      let r: Route;
      try {
        r = await route(target, opts.endpointsDir, opts.listServices);
      } catch (err) {
        r = { ok: false, reason: `resolving ${target}: ${(err as Error).message}` };
      }
      if (!r.ok) {
        log(`refused ${target}: ${r.reason}`);
        client.end(`HTTP/1.1 503 ${r.reason.replace(/[\r\n]+/g, ' ')}\r\n\r\n`);
        return;
      }
      const upstream = net.connect(r.port, r.host);
      let connected = false;
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.once('connect', () => {
        connected = true;
        log(`${target}: ${r.what}`);
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (rest.length) upstream.write(rest);
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      upstream.on('error', (err) => {
        if (!connected) {
          log(`refused ${target}: ${r.what}: ${err.message}`);
          client.end(`HTTP/1.1 503 ${r.what}: ${err.message}\r\n\r\n`);
        } else {
          client.destroy();
        }
      });
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.socketPath, () => resolve());
  });
  return {
    socketPath: opts.socketPath,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      fs.rmSync(opts.socketPath, { force: true });
    },
  };
}
