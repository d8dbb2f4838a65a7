// Local endpoints of Services: processes on this machine that stand in for a Deployment's pods (istiod run by
// test/istio). Each registers one JSON file in a directory shared by every process of a test run; the control
// plane's service proxy (serviceproxy.ts) reads them at each CONNECT. Files, not an in-memory table, because the
// proxy lives in the process that owns the control plane and the endpoints in ava's worker processes. A crashed
// registrant leaves a file naming a dead pid: it is ignored (and removed), never routed to.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isOurs } from './pid.js';

export interface LocalEndpoint {
  /** For messages: e.g. `istio-system/istiod-1-31 (1.31.0-rc.0)`. */
  name: string;
  namespace: string;
  /** The pod template's labels, matched against Service selectors. */
  labels: Record<string, string>;
  /** containerPort → loopback port the process listens on. */
  ports: Record<string, number>;
  /** containerPort names (for a Service's named targetPort) → containerPort. */
  portNames: Record<string, number>;
  /**
   * Addresses of the cluster's network this process answers at, for Services without a selector whose
   * EndpointSlices name them (e.g. a primary's istiod, given to a remote cluster as remotePilotAddress). `ports`
   * then maps the EndpointSlice's port to the loopback port.
   */
  addresses?: string[];
  /** The process serving, and its executable: a reused pid naming another program is not ours. */
  pid: number;
  bin: string;
}

/** Registers an endpoint; returns the function that removes it. */
export function registerEndpoint(dir: string, ep: LocalEndpoint): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${ep.namespace || 'address'}.${ep.pid}${ep.addresses ? `.${ep.addresses.join('_')}` : ''}.json`);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(ep));
  fs.renameSync(tmp, file);
  return () => fs.rmSync(file, { force: true });
}

/** Endpoints whose process still runs, oldest registration first (a Service picks the first match). */
export function liveEndpoints(dir: string): LocalEndpoint[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const out: Array<{ ep: LocalEndpoint; mtime: number }> = [];
  for (const n of names) {
    const file = path.join(dir, n);
    try {
      const ep = JSON.parse(fs.readFileSync(file, 'utf8')) as LocalEndpoint;
      if (isOurs(ep.pid, ep.bin)) out.push({ ep, mtime: fs.statSync(file).mtimeMs });
      else fs.rmSync(file, { force: true });
    } catch {
      /* removed meanwhile */
    }
  }
  return out.sort((a, b) => a.mtime - b.mtime).map((x) => x.ep);
}
