import yaml from 'js-yaml';
import type { FieldIssue } from '../api/errors.js';
import { ANNOTATION_CLUSTER, LABEL_MULTICLUSTER } from '../api/labels.js';
import { CONFIG_SECRET_KEY, CONFIG_SECRET_NAME, READER_SERVICE_ACCOUNT, istiodName, remoteSecretName } from '../api/names.js';
import type { RawConfig } from '../apply/kubeconfig.js';

// Remote secrets, the pure part: what `remote-secret create` writes and how it reads what is already there. No
// cluster here: multicluster/cluster.ts does the requests and hands this module what it read.
//
// A remote secret is what a primary's istiod reads to reach another cluster: a Secret in istiod's namespace labelled
// istio/multiCluster=true whose every data key is a cluster's name holding a kubeconfig for that cluster's API server
// (istiod's secret controller, pkg/kube/multicluster). The kubeconfig authenticates as a ServiceAccount of the remote
// with a long-lived token. Same shape as `istioctl create-remote-secret`, so either tool reads the other's.

/** `remote`: a remote cluster's secret for a primary (reader account); `config`: an external control plane's config
 *  cluster (istiod's own account), which the external istiod reads as `istio-kubeconfig`. */
export const SECRET_TYPES = ['remote', 'config'] as const;
export type SecretType = (typeof SECRET_TYPES)[number];

export const SA_TOKEN_TYPE = 'kubernetes.io/service-account-token';
export const SA_NAME_ANNOTATION = 'kubernetes.io/service-account.name';

export interface Secret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: {
    name?: string;
    generateName?: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid?: string;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  type?: string;
  /** base64 values, as the API server stores and returns them. */
  data?: Record<string, string>;
  /** Plain values: the printed form (readable, as istioctl prints it); the API server turns it into data. */
  stringData?: Record<string, string>;
}

/** The account the kubeconfig authenticates as when --service-account is not given (istioctl's defaults). */
export const defaultServiceAccount = (type: SecretType): string => (type === 'config' ? istiodName('') : READER_SERVICE_ACCOUNT);
export const secretNameFor = (type: SecretType, cluster: string): string =>
  type === 'config' ? CONFIG_SECRET_NAME : remoteSecretName(cluster);
const dataKeyFor = (type: SecretType, cluster: string): string => (type === 'config' ? CONFIG_SECRET_KEY : cluster);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A cluster name becomes a Secret name and a data key, and istiod's cluster ID: a DNS-1123 label. */
export function clusterNameIssue(name: string, flag = '--name'): FieldIssue | undefined {
  if (name.length <= 63 && DNS_LABEL.test(name)) return undefined;
  return {
    path: flag,
    message: `"${name}" is not a valid cluster name`,
    hint: "a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit, e.g. cluster2",
  };
}

/** Any other name we are given for an object (namespace, service account, token secret). */
export function objectNameIssue(name: string, flag: string, max = 63): FieldIssue | undefined {
  if (name.length <= max && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) return undefined;
  return {
    path: flag,
    message: `"${name}" is not a valid name`,
    hint: `lower-case letters, digits, '-' and '.', at most ${max} characters`,
  };
}

export interface KubeconfigInput {
  cluster: string;
  server: string;
  /** The remote API server's CA, base64 (the token Secret's ca.crt, as stored). */
  caData: string;
  token: string;
  tlsServerName?: string;
}

/** The kubeconfig istiod uses for the remote: one cluster, one user (the token), one context, all named after it. */
export function kubeconfigFor(k: KubeconfigInput): string {
  const cluster: Record<string, string> = { 'certificate-authority-data': k.caData, server: k.server };
  if (k.tlsServerName) cluster['tls-server-name'] = k.tlsServerName;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: k.cluster, cluster }],
    contexts: [{ name: k.cluster, context: { cluster: k.cluster, user: k.cluster } }],
    'current-context': k.cluster,
    preferences: {},
    users: [{ name: k.cluster, user: { token: k.token } }],
  };
  return yaml.dump(doc, { lineWidth: -1, noRefs: true });
}

/** The remote secret for the primary, `data` base64 (what is applied). */
export function remoteSecretBody(p: { type: SecretType; cluster: string; namespace: string; kubeconfig: string }): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretNameFor(p.type, p.cluster),
      namespace: p.namespace,
      labels: { [LABEL_MULTICLUSTER]: 'true' },
      annotations: { [ANNOTATION_CLUSTER]: p.cluster },
    },
    data: { [dataKeyFor(p.type, p.cluster)]: Buffer.from(p.kubeconfig, 'utf8').toString('base64') },
  };
}

/** A long-lived token for `serviceAccount`, filled in by the remote's token controller. `name` undefined: a name
 *  the API server makes unique (rotation makes a new one beside the old). */
export function tokenSecretBody(serviceAccount: string, namespace: string, name?: string): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      ...(name ? { name } : { generateName: `${serviceAccount}-istio-remote-secret-token-` }),
      namespace,
      annotations: { [SA_NAME_ANNOTATION]: serviceAccount },
    },
    type: SA_TOKEN_TYPE,
  };
}

/** Whether `s` is a token Secret of `serviceAccount`. */
export const isTokenOf = (s: Secret, serviceAccount: string): boolean =>
  s.type === SA_TOKEN_TYPE && s.metadata.annotations?.[SA_NAME_ANNOTATION] === serviceAccount;

/** The token and CA of a token Secret once its controller filled them in (undefined until then). */
export function tokenData(s: Secret): { token: string; caData: string } | undefined {
  const token = s.data?.token;
  const ca = s.data?.['ca.crt'];
  if (!token || !ca) return undefined;
  return { token: Buffer.from(token, 'base64').toString('utf8'), caData: ca };
}

/** The token Secret to reuse: the newest of the account's (a rotation's new one wins over the token it replaced). */
export function newestToken(secrets: Secret[], serviceAccount: string): Secret | undefined {
  const mine = secrets.filter((s) => isTokenOf(s, serviceAccount));
  mine.sort(
    (a, b) =>
      String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')) ||
      String(b.metadata.name).localeCompare(String(a.metadata.name)),
  );
  return mine[0];
}

/** One cluster a remote secret on the primary points at. */
export interface RemoteEntry {
  secret: string;
  /** The data key: the cluster's name as istiod knows it. */
  cluster: string;
  server?: string;
  token?: string;
}

/** What a remote secret holds, read leniently (a hand-made secret may hold anything): one entry per data key. */
export function entriesOf(s: Secret): RemoteEntry[] {
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) values[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(s.stringData ?? {})) values[k] = v;
  return Object.entries(values).map(([cluster, text]) => {
    let kc: RawConfig | undefined;
    try {
      kc = yaml.load(text) as RawConfig | undefined;
    } catch {
      kc = undefined;
    }
    const ctxName = kc?.['current-context'];
    const ctx = (kc?.contexts ?? []).find((c) => c?.name === ctxName)?.context;
    const c = (kc?.clusters ?? []).find((x) => x?.name === ctx?.cluster) ?? kc?.clusters?.[0];
    const u = (kc?.users ?? []).find((x) => x?.name === ctx?.user) ?? kc?.users?.[0];
    const server = typeof c?.cluster?.server === 'string' ? c.cluster.server : undefined;
    const token = typeof u?.user?.token === 'string' ? u.user.token : undefined;
    return { secret: String(s.metadata.name), cluster, ...(server ? { server } : {}), ...(token ? { token } : {}) };
  });
}

/** Servers compare without a trailing slash and case-insensitively in the host (https://A:6443/ = https://a:6443). */
export function sameServer(a: string, b: string): boolean {
  const norm = (s: string) => {
    try {
      const u = new URL(s);
      return `${u.protocol}//${u.host.toLowerCase()}${u.pathname.replace(/\/+$/, '')}`;
    } catch {
      return s.replace(/\/+$/, '').toLowerCase();
    }
  };
  return norm(a) === norm(b);
}

/**
 * Why writing a secret for `want` on the primary would clash with the remote secrets already there (none: []).
 * istiod keeps the first secret that names a cluster and ignores any later one (pkg/kube/multicluster), and one API
 * server under two names would be discovered twice: both are refused rather than left for istiod to half-apply.
 * The secret of the same name for the same cluster and server is not a clash: it is updated.
 */
export function clashes(existing: Secret[], want: { secretName: string; cluster: string; server: string; keyFlag?: string }): FieldIssue[] {
  const out: FieldIssue[] = [];
  const flag = want.keyFlag ?? '--name';
  for (const s of existing) {
    for (const e of entriesOf(s)) {
      const where = `the primary's secret ${s.metadata.namespace}/${e.secret}`;
      if (e.secret === want.secretName) {
        if (e.cluster !== want.cluster) {
          out.push({
            path: flag,
            message: `${where} already holds cluster "${e.cluster}", not "${want.cluster}"`,
            hint: 'choose another --name, or delete that secret first',
          });
        } else if (e.server && !sameServer(e.server, want.server)) {
          out.push({
            path: flag,
            message: `${where} holds cluster "${e.cluster}" at ${e.server}, another API server than ${want.server}`,
            hint: 'name this cluster differently, or delete that secret first if the cluster moved (--server sets the address written)',
          });
        }
        continue;
      }
      if (e.cluster === want.cluster) {
        out.push({
          path: flag,
          message: `cluster name "${want.cluster}" is already taken by ${where} (istiod ignores a second secret for a cluster)`,
          hint: 'choose another --name',
        });
      } else if (e.server && sameServer(e.server, want.server)) {
        out.push({
          path: flag,
          message: `${where} already reaches ${want.server} as cluster "${e.cluster}": one cluster under two names would be discovered twice`,
          hint: `use --name ${e.cluster} to update that secret, or delete it first`,
        });
      }
    }
  }
  return out;
}

/** The printed form: plain text in stringData (no base64), as istioctl prints it. */
export function printableSecret(s: Secret): Secret {
  const { data, ...rest } = s;
  const stringData: Record<string, string> = {};
  for (const [k, v] of Object.entries(data ?? {})) stringData[k] = Buffer.from(v, 'base64').toString('utf8');
  return { ...rest, stringData };
}

export function formatSecret(s: Secret, format: 'yaml' | 'json'): string {
  const p = printableSecret(s);
  if (format === 'json') return JSON.stringify(p, null, 2) + '\n';
  return `# This file is autogenerated, do not edit.\n${yaml.dump(p, { lineWidth: -1, noRefs: true })}---\n`;
}

/** A server only reachable from this machine is rarely what istiod in another cluster can reach. */
export function localServerWarning(server: string): string | undefined {
  let host = '';
  try {
    host = new URL(server).hostname;
  } catch {
    return undefined;
  }
  if (host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.')) {
    return `the remote's API server is ${server}, which istiod in another cluster is unlikely to reach; pass --server with an address it can (e.g. the node or load balancer address)`;
  }
  return undefined;
}
