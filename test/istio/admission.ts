// Direct calls to a local istiod's webhook server (POST /inject, /validate with an AdmissionReview), as the API
// server makes them, and what a mutating answer does to the object. For comparing two istiods on the same input;
// the tests' main path is through the API server.
import { randomUUID } from 'node:crypto';
import * as https from 'node:https';

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { message?: string; code?: number };
  patch?: string;
  patchType?: string;
  warnings?: string[];
}

/** An AdmissionReview for creating `object` (a Pod or any namespaced object) in `namespace`. */
export function admissionReview(
  object: Record<string, unknown>,
  namespace: string,
  gvr: { group: string; version: string; resource: string; kind: string },
) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind: { group: gvr.group, version: gvr.version, kind: gvr.kind },
      resource: { group: gvr.group, version: gvr.version, resource: gvr.resource },
      namespace,
      operation: 'CREATE',
      object,
      userInfo: { username: 'istio-operator-test' },
      dryRun: false,
    },
  };
}

export const POD = { group: '', version: 'v1', resource: 'pods', kind: 'Pod' };

/**
 * POSTs a review to https://127.0.0.1:<port><path>. The certificate is checked as the API server checks it:
 * against `caPem` (the mesh root) for `serverName` (`<service>.<namespace>.svc`).
 */
export function postReview(
  port: number,
  path: string,
  review: unknown,
  tls: { caPem: string; serverName: string },
): Promise<AdmissionResponse> {
  const body = JSON.stringify(review);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        ca: tls.caPem,
        servername: tls.serverName,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`POST ${path} on 127.0.0.1:${port}: HTTP ${res.statusCode}: ${text}`));
          try {
            resolve((JSON.parse(text) as { response: AdmissionResponse }).response);
          } catch (err) {
            reject(new Error(`POST ${path}: not an AdmissionReview: ${text.slice(0, 300)} (${(err as Error).message})`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`POST ${path} on 127.0.0.1:${port}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface PatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: Json;
  from?: string;
}

function pointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new Error(`bad JSON pointer ${p}`);
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Applies an RFC 6902 JSON Patch (what an admission webhook returns) to a copy of `doc`. */
export function applyJsonPatch<T>(doc: T, ops: PatchOp[]): T {
  let root = structuredClone(doc) as unknown as Json;
  const parentOf = (path: string[]): { parent: Json; key: string } => {
    let cur: Json = root;
    for (const k of path.slice(0, -1)) {
      if (cur === null || typeof cur !== 'object') throw new Error(`JSON patch: no container at ${k}`);
      cur = Array.isArray(cur) ? cur[Number(k)]! : cur[k]!;
    }
    return { parent: cur, key: path[path.length - 1]! };
  };
  const get = (p: string): Json =>
    pointer(p).reduce<Json>((cur, k) => (Array.isArray(cur) ? cur[Number(k)]! : (cur as Record<string, Json>)[k]!), root);
  const put = (p: string, value: Json, replace: boolean) => {
    const path = pointer(p);
    if (path.length === 0) {
      root = value;
      return;
    }
    const { parent, key } = parentOf(path);
    if (Array.isArray(parent)) {
      if (key === '-') parent.push(value);
      else if (replace) parent[Number(key)] = value;
      else parent.splice(Number(key), 0, value);
    } else if (parent && typeof parent === 'object') {
      parent[key] = value;
    } else {
      throw new Error(`JSON patch: cannot set ${p}`);
    }
  };
  const remove = (p: string): Json => {
    const { parent, key } = parentOf(pointer(p));
    if (Array.isArray(parent)) return parent.splice(Number(key), 1)[0]!;
    const obj = parent as Record<string, Json>;
    const v = obj[key]!;
    delete obj[key];
    return v;
  };
  for (const op of ops) {
    switch (op.op) {
      case 'add':
        put(op.path, structuredClone(op.value ?? null), false);
        break;
      case 'replace':
        put(op.path, structuredClone(op.value ?? null), true);
        break;
      case 'remove':
        remove(op.path);
        break;
      case 'move':
        put(op.path, remove(op.from!), false);
        break;
      case 'copy':
        put(op.path, structuredClone(get(op.from!)), false);
        break;
      case 'test':
        if (JSON.stringify(get(op.path)) !== JSON.stringify(op.value)) throw new Error(`JSON patch test failed at ${op.path}`);
        break;
    }
  }
  return root as unknown as T;
}

/** The object as the webhook's answer leaves it (unchanged when it sends no patch). */
export function patched<T>(object: T, res: AdmissionResponse): T {
  if (!res.patch) return object;
  return applyJsonPatch(object, JSON.parse(Buffer.from(res.patch, 'base64').toString('utf8')) as PatchOp[]);
}

/** Paths where two JSON values differ, with both sides (for a readable report). Arrays compare by index. */
export function jsonDiff(a: unknown, b: unknown, path = ''): Array<{ path: string; left: unknown; right: unknown }> {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const isObj = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
  if (Array.isArray(a) && Array.isArray(b)) {
    // Containers, volumes, env... are lists of named items: compare by name where every item has one.
    const named = (xs: unknown[]) => xs.every((x) => isObj(x) && typeof x.name === 'string');
    if (named(a) && named(b)) {
      const byName = (xs: unknown[]) => new Map(xs.map((x) => [(x as { name: string }).name, x]));
      const ma = byName(a);
      const mb = byName(b);
      const out: Array<{ path: string; left: unknown; right: unknown }> = [];
      for (const k of new Set([...ma.keys(), ...mb.keys()])) out.push(...jsonDiff(ma.get(k), mb.get(k), `${path}[name=${k}]`));
      const order = (xs: unknown[]) => xs.map((x) => (x as { name: string }).name).join(',');
      if (out.length === 0 && order(a) !== order(b)) out.push({ path: `${path} (order)`, left: order(a), right: order(b) });
      return out;
    }
    const out: Array<{ path: string; left: unknown; right: unknown }> = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) out.push(...jsonDiff(a[i], b[i], `${path}[${i}]`));
    return out;
  }
  if (isObj(a) && isObj(b)) {
    const out: Array<{ path: string; left: unknown; right: unknown }> = [];
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) out.push(...jsonDiff(a[k], b[k], `${path}.${k}`));
    return out;
  }
  return [{ path: path || '.', left: a, right: b }];
}
