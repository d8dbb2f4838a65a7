// What a kubelet does for one container of a pod, minus the container: resolve its env (values, $(VAR)
// references, fieldRef, resourceFieldRef, configMap/secret keys) and write the volumes it mounts under a work
// directory, so that a local process started in that directory finds each file at `.<mountPath>`. Istio's
// binaries read their files through cwd-relative paths (`./etc/cacerts`, `./var/lib/istio/inject`,
// `./var/run/secrets/tokens/istio-token`, ...) precisely so that they can run outside a pod like this.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { KubeClient } from '../../operator/apply/client.js';
import { quantityAmount } from '../../operator/api/quantity.js';

/* The slices of the v1 Pod API read here. */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    resourceFieldRef?: { resource: string; divisor?: string | number; containerName?: string };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
  };
}
interface KeyToPath {
  key: string;
  path: string;
}
export interface Volume {
  name: string;
  configMap?: { name: string; items?: KeyToPath[]; optional?: boolean };
  secret?: { secretName: string; items?: KeyToPath[]; optional?: boolean };
  emptyDir?: Record<string, unknown>;
  projected?: {
    sources: Array<{
      serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
      configMap?: { name: string; items?: KeyToPath[]; optional?: boolean };
      secret?: { name: string; items?: KeyToPath[]; optional?: boolean };
    }>;
  };
}
export interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: Array<{
    prefix?: string;
    configMapRef?: { name: string; optional?: boolean };
    secretRef?: { name: string; optional?: boolean };
  }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string }>;
}
export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { containers: Container[]; volumes?: Volume[]; serviceAccountName?: string; automountServiceAccountToken?: boolean };
}

/** Who the local "pod" is: what fieldRefs resolve to. */
export interface PodIdentity {
  name: string;
  namespace: string;
  uid: string;
}

const SA_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** `<workDir>/<mountPath>`: a mount path seen from a process whose cwd is the work dir. */
export function localPath(workDir: string, mountPath: string): string {
  return path.join(workDir, mountPath.replace(/^\/+/, ''));
}

/**
 * A Kubernetes quantity as a number of units of `divisor` (rounded up, as the downward API does).
 * Covers the suffixes resource fields use: m, k/M/G/T/P/E, Ki/Mi/Gi/Ti/Pi/Ei.
 */
export function quantity(q: string | number, divisor: string | number = 1): number {
  const parse = (v: string | number): number => {
    const n = quantityAmount(v);
    if (n === undefined) throw new Error(`not a quantity: ${v}`);
    return n;
  };
  return Math.ceil(parse(q) / parse(divisor) - 1e-9);
}

/**
 * resourceFieldRef: the container's limit, else (for limits) what the node offers, as the downward API does.
 * The "node" is this machine: its CPUs and memory are what the process can use.
 */
function resourceField(c: Container, resource: string, given: string | number | undefined): string {
  // The API server stores an absent divisor as "0", which the kubelet reads as 1 (Istio 1.29's env has none).
  const divisor = given === undefined || quantity(given) === 0 ? 1 : given;
  const [kind, name] = resource.split('.') as ['limits' | 'requests', string];
  const set = c.resources?.[kind]?.[name] ?? (kind === 'requests' ? c.resources?.limits?.[name] : undefined);
  if (set !== undefined) return String(quantity(set, divisor));
  if (kind === 'requests') return '0';
  const node: Record<string, number> = { cpu: os.availableParallelism(), memory: os.totalmem(), 'ephemeral-storage': 2 ** 40 };
  if (node[name] === undefined) throw new Error(`resourceFieldRef ${resource} is not supported`);
  return String(quantity(node[name]!, divisor));
}

function fieldRef(fieldPath: string, pod: PodIdentity, template: PodTemplate): string {
  const sel = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (sel) return (sel[1] === 'labels' ? template.metadata?.labels : template.metadata?.annotations)?.[sel[2]!] ?? '';
  const fields: Record<string, string> = {
    'metadata.name': pod.name,
    'metadata.namespace': pod.namespace,
    'metadata.uid': pod.uid,
    'spec.serviceAccountName': template.spec.serviceAccountName ?? 'default',
    'spec.nodeName': os.hostname(),
    // The process listens on loopback: that is its pod IP.
    'status.podIP': '127.0.0.1',
    'status.podIPs': '127.0.0.1',
    'status.hostIP': '127.0.0.1',
    'status.hostIPs': '127.0.0.1',
  };
  const v = fields[fieldPath];
  if (v === undefined) throw new Error(`fieldRef ${fieldPath} is not supported by the local kubelet`);
  return v;
}

type Data = Record<string, Buffer>;

/** A ConfigMap's or Secret's data as bytes; undefined when it does not exist. */
async function readData(client: KubeClient, kind: 'configmaps' | 'secrets', ns: string, name: string): Promise<Data | undefined> {
  const o = await client.request<{ data?: Record<string, string>; binaryData?: Record<string, string> }>(
    'GET',
    `/api/v1/namespaces/${ns}/${kind}/${name}`,
    { allow404: true },
  );
  if (!o) return undefined;
  const out: Data = {};
  for (const [k, v] of Object.entries(o.data ?? {})) out[k] = kind === 'secrets' ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8');
  for (const [k, v] of Object.entries(o.binaryData ?? {})) out[k] = Buffer.from(v, 'base64');
  return out;
}

/** Expands $(VAR) with variables defined earlier, as the kubelet does ($$ escapes). */
function expand(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name?: string) =>
    m === '$$' ? '$' : name !== undefined && name in env ? env[name]! : m,
  );
}

export interface ResolvedContainer {
  /** Arguments after the executable: the container's command[1:] and args, $(VAR)-expanded. */
  args: string[];
  env: Record<string, string>;
  /** Volumes that were optional and absent (e.g. `cacerts` when no plug-in CA is installed). */
  absent: string[];
  /** Every file written, relative to the work dir. */
  written: string[];
}

/**
 * Resolves `container` of `template` for a pod named `pod` and writes its mounts under `workDir`. Env values
 * that are absolute paths under a mount path (e.g. KUBECONFIG=/var/run/secrets/remote/config) are rewritten to
 * the same place under the work dir, since the process cannot see the pod's filesystem root.
 */
export async function materialize(
  client: KubeClient,
  template: PodTemplate,
  containerName: string,
  pod: PodIdentity,
  workDir: string,
  clusterCaPem: string,
): Promise<ResolvedContainer> {
  const c = template.spec.containers.find((x) => x.name === containerName);
  if (!c)
    throw new Error(
      `the pod template has no container named ${containerName} (has ${template.spec.containers.map((x) => x.name).join(', ')})`,
    );
  const absent: string[] = [];
  const written: string[] = [];
  const write = (mountPath: string, rel: string, bytes: Buffer, mode = 0o644) => {
    const file = path.join(localPath(workDir, mountPath), rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, bytes, { mode });
    written.push(path.relative(workDir, file));
  };
  const pick = (data: Data, items: KeyToPath[] | undefined, what: string): Array<[string, Buffer]> => {
    if (!items) return Object.entries(data);
    return items.map((i) => {
      const v = data[i.key];
      if (v === undefined) throw new Error(`${what} has no key ${i.key}`);
      return [i.path, v];
    });
  };
  const token = async (audience: string | undefined, expirationSeconds: number | undefined): Promise<Buffer> => {
    const sa = template.spec.serviceAccountName ?? 'default';
    const r = await client.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${pod.namespace}/serviceaccounts/${sa}/token`,
      {
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: { ...(audience ? { audiences: [audience] } : {}), expirationSeconds: expirationSeconds ?? 3600 },
        },
      },
    );
    return Buffer.from(r!.status.token);
  };

  // --- volumes, mount by mount ---
  const volumes = new Map((template.spec.volumes ?? []).map((v) => [v.name, v]));
  const mounts = [...(c.volumeMounts ?? [])];
  const automount = template.spec.automountServiceAccountToken !== false && !mounts.some((m) => m.mountPath === SA_MOUNT);
  for (const m of mounts) {
    const v = volumes.get(m.name);
    if (!v) throw new Error(`volumeMount ${m.name} names no volume of the pod`);
    const files: Array<[string, Buffer]> = [];
    if (v.emptyDir) {
      fs.mkdirSync(localPath(workDir, m.mountPath), { recursive: true });
    } else if (v.configMap || v.secret) {
      const kind = v.configMap ? 'configmaps' : 'secrets';
      const name = v.configMap?.name ?? v.secret!.secretName;
      const data = await readData(client, kind, pod.namespace, name);
      if (!data) {
        if (!(v.configMap?.optional ?? v.secret?.optional))
          throw new Error(`volume ${v.name}: ${kind} ${pod.namespace}/${name} does not exist (not optional)`);
        absent.push(`${v.name} (${kind === 'configmaps' ? 'ConfigMap' : 'Secret'} ${name})`);
        continue;
      }
      files.push(...pick(data, v.configMap?.items ?? v.secret?.items, `${kind} ${name}`));
    } else if (v.projected) {
      for (const s of v.projected.sources) {
        if (s.serviceAccountToken)
          files.push([s.serviceAccountToken.path, await token(s.serviceAccountToken.audience, s.serviceAccountToken.expirationSeconds)]);
        const ref = s.configMap ?? s.secret;
        if (ref) {
          const kind = s.configMap ? 'configmaps' : 'secrets';
          const data = await readData(client, kind, pod.namespace, ref.name);
          if (!data && !ref.optional)
            throw new Error(`volume ${v.name}: ${kind} ${pod.namespace}/${ref.name} does not exist (not optional)`);
          if (data) files.push(...pick(data, ref.items, `${kind} ${ref.name}`));
        }
      }
    } else {
      throw new Error(`volume ${v.name}: only configMap, secret, projected and emptyDir volumes are supported by the local kubelet`);
    }
    if (m.subPath) {
      const f = files.find(([p]) => p === m.subPath);
      if (!f) throw new Error(`volumeMount ${m.name}: subPath ${m.subPath} is not in the volume`);
      write(path.dirname(m.mountPath), path.basename(m.mountPath), f[1]);
    } else {
      fs.mkdirSync(localPath(workDir, m.mountPath), { recursive: true });
      for (const [rel, bytes] of files) write(m.mountPath, rel, bytes, v.secret || v.projected ? 0o600 : 0o644);
    }
  }
  if (automount) {
    // What every pod gets unless it opts out: its ServiceAccount's token, the cluster CA, its namespace.
    write(SA_MOUNT, 'token', await token(undefined, 3600), 0o600);
    write(SA_MOUNT, 'ca.crt', Buffer.from(clusterCaPem));
    write(SA_MOUNT, 'namespace', Buffer.from(pod.namespace));
  }

  // --- env, in order (later entries may reference earlier ones) ---
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) continue;
    const data = await readData(client, from.configMapRef ? 'configmaps' : 'secrets', pod.namespace, ref.name);
    if (!data && !ref.optional) throw new Error(`envFrom: ${ref.name} does not exist (not optional)`);
    for (const [k, v] of Object.entries(data ?? {})) env[(from.prefix ?? '') + k] = v.toString('utf8');
  }
  for (const e of c.env ?? []) {
    const vf = e.valueFrom;
    if (!vf) env[e.name] = expand(e.value ?? '', env);
    else if (vf.fieldRef) env[e.name] = fieldRef(vf.fieldRef.fieldPath, pod, template);
    else if (vf.resourceFieldRef) env[e.name] = resourceField(c, vf.resourceFieldRef.resource, vf.resourceFieldRef.divisor);
    else {
      const ref = vf.configMapKeyRef ?? vf.secretKeyRef!;
      const data = await readData(client, vf.configMapKeyRef ? 'configmaps' : 'secrets', pod.namespace, ref.name);
      const v = data?.[ref.key];
      if (v === undefined && !ref.optional) throw new Error(`env ${e.name}: ${ref.name}/${ref.key} does not exist (not optional)`);
      if (v !== undefined) env[e.name] = v.toString('utf8');
    }
  }
  const mountPaths = mounts.map((m) => m.mountPath).concat(automount ? [SA_MOUNT] : []);
  for (const [k, v] of Object.entries(env)) {
    if (mountPaths.some((p) => v === p || v.startsWith(p.replace(/\/?$/, '/')))) env[k] = localPath(workDir, v);
  }

  const args = [...(c.command ?? []).slice(1), ...(c.args ?? [])].map((a) => expand(a, env));
  return { args, env, absent, written };
}
