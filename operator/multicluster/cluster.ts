// Over 500 lines by choice: create and rotate share one order of checks, writes and undo steps, read top to bottom here.
import { InputError, type FieldIssue } from '../api/errors.js';
import { OWNERSHIP_LABELS } from '../api/labels.js';
import { READER_SERVICE_ACCOUNT, readerClusterRoleName, tokenSecretName } from '../api/names.js';
import { resolveIstioOperator } from '../api/resolve.js';
import type { K8sObject } from '../api/types.js';
import { ApiError, KubeClient, UnreachableError } from '../apply/client.js';
import { FIELD_MANAGER } from '../apply/owner.js';
import { render } from '../render/index.js';
import {
  clashes,
  entriesOf,
  isTokenOf,
  kubeconfigFor,
  localServerWarning,
  newestToken,
  remoteSecretBody,
  secretNameFor,
  sameServer,
  tokenData,
  tokenSecretBody,
  type Secret,
  type SecretType,
} from './remotesecret.js';
import type { AccessReview, List, LiveWorkload } from '../api/live.js';

// Remote secrets, the part that talks to clusters: `remote-secret create` and `rotate` (cli/remote-secret.ts is
// parsing and printing). Everything is checked before the first write: both API servers answer, the user may do
// every request the command will make (SelfSubjectAccessReview), the names are valid and the primary holds no secret
// that would clash. What is created on the remote during a run that then fails is deleted again, so a failed run
// leaves the clusters as they were.

export interface Target {
  /** The flags this cluster came from, for messages: `--context`, `--primary-kubeconfig`, ... */
  flag: string;
  role: 'remote' | 'primary';
  client: KubeClient;
}

export interface RemoteSecretOptions {
  cluster: string;
  type: SecretType;
  namespace: string;
  serviceAccount: string;
  /** A token Secret of the account to use (--secret-name); default: the newest, or one created. */
  tokenSecret?: string;
  /** The API server address written into the kubeconfig; default the remote kubeconfig's. */
  server?: string;
  tlsServerName?: string;
  /** Create the reader account and its rights on the remote when missing (istioctl's --create-service-account). */
  createServiceAccount: boolean;
  /** How long the remote's token controller may take to fill a new token in. */
  tokenTimeoutMs?: number;
}

export type Step = { verb: 'created' | 'configured' | 'unchanged' | 'deleted' | 'reused'; what: string; on: 'remote' | 'primary' };

export interface RemoteSecretResult {
  secret: Secret;
  steps: Step[];
  warnings: string[];
}

/** Opens a client for `flag`'s kubeconfig/context, turning a bad kubeconfig into an input error naming the flag. */
export function connect(
  role: 'remote' | 'primary',
  flags: { kubeconfig?: string; context?: string },
  flagNames: { kubeconfig: string; context: string },
): Target {
  const flag = flags.context
    ? `${flagNames.context} ${flags.context}`
    : flags.kubeconfig
      ? `${flagNames.kubeconfig} ${flags.kubeconfig}`
      : `${flagNames.kubeconfig}/${flagNames.context}`;
  try {
    return {
      flag,
      role,
      client: KubeClient.fromOptions({
        ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
        ...(flags.context ? { context: flags.context } : {}),
      }),
    };
  } catch (e) {
    throw new InputError([
      {
        path: flags.context ? flagNames.context : flagNames.kubeconfig,
        message: `cannot use the ${role} cluster: ${(e as Error).message}`,
      },
    ]);
  }
}

/** The API server answers, and accepts the credentials: else an input error naming the flags. */
async function reachable(t: Target): Promise<void> {
  try {
    await t.client.request('GET', '/version');
  } catch (e) {
    if (e instanceof UnreachableError) {
      throw new InputError([
        {
          path: t.flag,
          message: `cannot reach the ${t.role} cluster's API server at ${t.client.server}: ${e.message}`,
          hint: 'check the kubeconfig and context, and that the cluster is up',
        },
      ]);
    }
    if (e instanceof ApiError && e.code === 401)
      throw new InputError([{ path: t.flag, message: `the ${t.role} cluster refused the credentials: ${e.message}` }]);
    // /version may be closed to some users; anything but an unreachable server or refused credentials will show
    // again, clearly, on the first real request.
  }
}

interface Want {
  verb: string;
  resource: string;
  group?: string;
  namespace?: string;
}

/** One SelfSubjectAccessReview per right the command will use; an input error listing every one denied. */
async function mayDo(t: Target, wants: Want[]): Promise<void> {
  const denied: string[] = [];
  await Promise.all(
    wants.map(async (w) => {
      const r = await t.client.request<AccessReview>('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {
            resourceAttributes: {
              verb: w.verb,
              resource: w.resource,
              group: w.group ?? '',
              ...(w.namespace ? { namespace: w.namespace } : {}),
            },
          },
        },
      });
      if (!r?.status?.allowed)
        denied.push(
          `${w.verb} ${w.resource}${w.group ? `.${w.group}` : ''}${w.namespace ? ` in namespace ${w.namespace}` : ' (cluster-wide)'}`,
        );
    }),
  );
  if (denied.length) {
    denied.sort();
    throw new InputError([
      {
        path: t.flag,
        message: `user "${t.client.user}" on the ${t.role} cluster may not: ${denied.join('; ')}`,
        hint: 'grant these rights (RBAC), or use a context that has them; nothing was written',
      },
    ]);
  }
}

const secretsPath = (ns: string, name?: string) =>
  `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets${name ? `/${encodeURIComponent(name)}` : ''}`;

async function listSecrets(c: KubeClient, ns: string, query: Record<string, string> = {}): Promise<Secret[]> {
  return (await c.request<{ items: Secret[] }>('GET', secretsPath(ns), { query }))?.items ?? [];
}

/** The reader account and its ClusterRole and binding as our render of Istio's default profile has them for `ns`
 *  (what istioctl applies when the account is missing), without install ownership labels: no install prunes them. */
export function readerObjects(ns: string): K8sObject[] {
  const { install } = resolveIstioOperator({ sets: [`values.global.istioNamespace=${ns}`] });
  const role = readerClusterRoleName('', ns);
  const objs = render(install).objects.filter(
    (o) =>
      (o.kind === 'ServiceAccount' && o.metadata.name === READER_SERVICE_ACCOUNT && o.metadata.namespace === ns) ||
      ((o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding') && o.metadata.name === role),
  );
  for (const o of objs) for (const l of OWNERSHIP_LABELS) delete o.metadata.labels?.[l];
  return objs;
}

const objectPath = (o: K8sObject, withName = true): string => {
  const name = withName ? `/${encodeURIComponent(o.metadata.name)}` : '';
  if (o.kind === 'ServiceAccount') return `/api/v1/namespaces/${encodeURIComponent(o.metadata.namespace!)}/serviceaccounts${name}`;
  if (o.kind === 'Namespace') return `/api/v1/namespaces${name}`;
  return `/apis/rbac.authorization.k8s.io/v1/${o.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings'}${name}`;
};

/** What a run created on the remote, deleted in reverse if the run fails after. */
class Undo {
  private made: Array<{ path: string; what: string }> = [];
  constructor(private readonly client: KubeClient) {}
  add(path: string, what: string): void {
    this.made.push({ path, what });
  }
  async run(): Promise<string[]> {
    const left: string[] = [];
    for (const m of this.made.reverse()) {
      try {
        await this.client.request('DELETE', m.path, { allow404: true });
      } catch (e) {
        left.push(`${m.what}: ${(e as Error).message}`);
      }
    }
    return left;
  }
}

async function guarded<T>(undo: Undo, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const left = await undo.run();
    if (left.length) (e as Error).message += `; could not undo: ${left.join('; ')}`;
    throw e;
  }
}

/** Polls the token Secret until the remote's token controller filled in the token and CA. */
async function filledToken(
  c: KubeClient,
  ns: string,
  name: string,
  timeoutMs: number,
): Promise<{ secret: Secret; token: string; caData: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await c.request<Secret>('GET', secretsPath(ns, name), { allow404: true });
    const d = s && tokenData(s);
    if (s && d) return { secret: s, ...d };
    if (Date.now() > deadline) {
      throw new Error(
        `the remote's token controller did not fill in Secret ${ns}/${name} within ${Math.round(timeoutMs / 1000)} s (is kube-controller-manager's serviceaccount-token controller running?)`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Checked {
  server: string;
  secretName: string;
  primarySecrets: Secret[];
  warnings: string[];
}

/** Everything about the input and the primary that can be checked before writing. */
async function checkPrimary(o: RemoteSecretOptions, remote: Target, primary: Target | undefined, writes: Want[]): Promise<Checked> {
  const server = (o.server ?? remote.client.server).replace(/\/+$/, '');
  const warnings: string[] = [];
  const local = localServerWarning(server);
  if (local) warnings.push(local);
  const secretName = secretNameFor(o.type, o.cluster);
  if (!primary) return { server, secretName, primarySecrets: [], warnings };
  await reachable(primary);
  await mayDo(primary, [
    { verb: 'get', resource: 'namespaces' },
    { verb: 'list', resource: 'secrets', namespace: o.namespace },
    { verb: 'get', resource: 'secrets', namespace: o.namespace },
    ...writes,
  ]);
  const ns = await primary.client.request('GET', `/api/v1/namespaces/${encodeURIComponent(o.namespace)}`, { allow404: true });
  if (!ns)
    throw new InputError([
      {
        path: '--namespace',
        message: `namespace "${o.namespace}" does not exist on the primary cluster (${primary.client.server})`,
        hint: "the Istio namespace of the primary's istiod, where it reads remote secrets",
      },
    ]);
  if (sameServer(primary.client.server, server))
    warnings.push(
      `the remote and the primary are the same API server (${server}): istiod discovers its own cluster without a remote secret`,
    );
  const primarySecrets = await listSecrets(primary.client, o.namespace, { labelSelector: 'istio/multiCluster=true' });
  const same = primarySecrets.find((s) => s.metadata.name === secretName);
  // A Secret of that name without the label is someone else's: never overwritten.
  if (!same && (await primary.client.request('GET', secretsPath(o.namespace, secretName), { allow404: true }))) {
    throw new InputError([
      {
        path: '--name',
        message: `the primary already has a Secret ${o.namespace}/${secretName} that is not a remote secret (no istio/multiCluster=true label)`,
        hint: 'choose another --name, or remove that Secret',
      },
    ]);
  }
  const issues: FieldIssue[] = clashes(primarySecrets, { secretName, cluster: o.cluster, server });
  const own = await primaryClusterId(primary.client, o.namespace);
  if (own && own === o.cluster)
    issues.push({
      path: '--name',
      message: `"${o.cluster}" is the primary's own cluster name (its istiod's CLUSTER_ID): istiod ignores a remote secret for itself`,
      hint: "the remote cluster's name, as its IstioOperator sets values.global.multiCluster.clusterName",
    });
  if (issues.length) throw new InputError(issues);
  return { server, secretName, primarySecrets, warnings };
}

/** The cluster name the primary's istiod runs as, if its Deployment can be read (best effort: only a check). */
async function primaryClusterId(c: KubeClient, ns: string): Promise<string | undefined> {
  try {
    const list = await c.request<List<LiveWorkload>>('GET', `/apis/apps/v1/namespaces/${encodeURIComponent(ns)}/deployments`, {
      query: { labelSelector: 'app=istiod' },
    });
    for (const d of list?.items ?? []) {
      const env = (d.spec?.template?.spec?.containers ?? []).flatMap((c) => c.env ?? []);
      const v = env.find((e) => e.name === 'CLUSTER_ID')?.value;
      if (v) return String(v);
    }
  } catch {
    // Not readable: not checked.
  }
  return undefined;
}

/**
 * RBAC refuses a role that grants rights its creator does not hold, and a binding to it without `bind` (escalation
 * prevention), which no access review shows: a server-side dry run of the reader's role and binding asks the API
 * server itself, before anything is written.
 */
async function mayGrant(t: Target, reader: K8sObject[]): Promise<void> {
  for (const r of reader.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')) {
    try {
      await t.client.request('POST', objectPath(r, false), { body: r, query: { dryRun: 'All', fieldManager: FIELD_MANAGER } });
    } catch (e) {
      if (e instanceof ApiError && e.code === 409) continue;
      if (e instanceof ApiError && e.code === 403) {
        throw new InputError([
          {
            path: t.flag,
            message: `user "${t.client.user}" on the remote cluster may not create ${r.kind} ${r.metadata.name}, which grants the reader's rights: ${e.message}`,
            hint: 'use a context that holds those rights (or may escalate and bind), or install Istio on the remote first, which creates the reader account; nothing was written',
          },
        ]);
      }
      throw e;
    }
  }
}

const PRIMARY_WRITES = (ns: string): Want[] => [
  { verb: 'create', resource: 'secrets', namespace: ns },
  { verb: 'patch', resource: 'secrets', namespace: ns },
];

/** Server-side apply of the remote secret on the primary; what it did. */
async function applyToPrimary(primary: KubeClient, body: Secret, before: Secret | undefined): Promise<Step> {
  const ns = body.metadata.namespace;
  const name = body.metadata.name!;
  const same =
    !!before &&
    JSON.stringify(before.data ?? {}) === JSON.stringify(body.data) &&
    Object.entries(body.metadata.labels ?? {}).every(([k, v]) => before.metadata.labels?.[k] === v) &&
    Object.entries(body.metadata.annotations ?? {}).every(([k, v]) => before.metadata.annotations?.[k] === v);
  if (!same) {
    await primary.request('PATCH', secretsPath(ns, name), {
      query: { fieldManager: FIELD_MANAGER, force: 'true' },
      contentType: 'application/apply-patch+yaml',
      body,
    });
  }
  return { verb: !before ? 'created' : same ? 'unchanged' : 'configured', what: `Secret ${ns}/${name}`, on: 'primary' };
}

/**
 * `remote-secret create`: the remote's account (created with its rights when missing), a long-lived token for it
 * (the newest one reused, else one created), and the Secret for the primary; applied there when `primary` is given
 * and `apply` is set.
 */
export async function createRemoteSecret(
  o: RemoteSecretOptions,
  remote: Target,
  primary: Target | undefined,
  apply: boolean,
): Promise<RemoteSecretResult> {
  const ns = o.namespace;
  await reachable(remote);
  await mayDo(remote, [
    { verb: 'get', resource: 'namespaces' },
    { verb: 'get', resource: 'serviceaccounts', namespace: ns },
    { verb: 'list', resource: 'secrets', namespace: ns },
    { verb: 'get', resource: 'secrets', namespace: ns },
  ]);
  const checked = await checkPrimary(o, remote, primary, apply ? PRIMARY_WRITES(ns) : []);
  const steps: Step[] = [];

  // What exists on the remote decides what must be written there; its rights are checked before any write.
  const nsLive = await remote.client.request('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}`, { allow404: true });
  const sa = await remote.client.request(
    'GET',
    `/api/v1/namespaces/${encodeURIComponent(ns)}/serviceaccounts/${encodeURIComponent(o.serviceAccount)}`,
    { allow404: true },
  );
  let reader: K8sObject[] = [];
  if (!sa) {
    if (!o.createServiceAccount || o.type === 'config' || o.serviceAccount !== READER_SERVICE_ACCOUNT) {
      throw new InputError([
        {
          path: '--service-account',
          message: `ServiceAccount ${ns}/${o.serviceAccount} does not exist on the remote cluster (${remote.client.server})`,
          hint:
            o.type === 'config'
              ? "install the config cluster first (profile remote with values.global.configCluster=true), which creates istiod's account"
              : o.serviceAccount !== READER_SERVICE_ACCOUNT
                ? `create it and grant it the reader's rights first, or leave --service-account at ${READER_SERVICE_ACCOUNT}`
                : 'install Istio on the remote first, or allow --create-service-account',
        },
      ]);
    }
    reader = readerObjects(ns);
  }
  let token: Secret | undefined;
  if (o.tokenSecret) {
    token = await remote.client.request<Secret>('GET', secretsPath(ns, o.tokenSecret), { allow404: true });
    if (!token || !isTokenOf(token, o.serviceAccount)) {
      throw new InputError([
        {
          path: '--secret-name',
          message: `Secret ${ns}/${o.tokenSecret} on the remote ${token ? `is not a token of ServiceAccount ${o.serviceAccount} (type ${token.type ?? 'Opaque'})` : 'does not exist'}`,
          hint: `a Secret of type kubernetes.io/service-account-token annotated kubernetes.io/service-account.name: ${o.serviceAccount}, or leave --secret-name out`,
        },
      ]);
    }
  } else if (sa) {
    token = newestToken(
      await listSecrets(remote.client, ns, { fieldSelector: 'type=kubernetes.io/service-account-token' }),
      o.serviceAccount,
    );
  }
  if (!token) {
    const clash = await remote.client.request<Secret>('GET', secretsPath(ns, tokenSecretName(o.serviceAccount)), { allow404: true });
    if (clash)
      throw new InputError([
        {
          path: '--service-account',
          message: `Secret ${ns}/${tokenSecretName(o.serviceAccount)} on the remote is not a token of ${o.serviceAccount}`,
          hint: 'remove or rename that Secret',
        },
      ]);
  }
  const remoteWrites: Want[] = [];
  if (!token) remoteWrites.push({ verb: 'create', resource: 'secrets', namespace: ns });
  if (!nsLive) remoteWrites.push({ verb: 'create', resource: 'namespaces' });
  for (const r of reader) {
    remoteWrites.push({
      verb: 'create',
      resource: r.kind === 'ServiceAccount' ? 'serviceaccounts' : r.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings',
      group: r.kind === 'ServiceAccount' ? '' : 'rbac.authorization.k8s.io',
      ...(r.metadata.namespace ? { namespace: r.metadata.namespace } : {}),
    });
  }
  // Whatever is created may have to be deleted again if a later step fails: that right is checked too.
  if (remoteWrites.length) await mayDo(remote, [...remoteWrites, ...remoteWrites.map((w) => ({ ...w, verb: 'delete' }))]);
  await mayGrant(remote, reader);

  const undo = new Undo(remote.client);
  return guarded(undo, async () => {
    if (!nsLive) {
      await remote.client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
      undo.add(`/api/v1/namespaces/${encodeURIComponent(ns)}`, `Namespace ${ns}`);
      steps.push({ verb: 'created', what: `Namespace ${ns}`, on: 'remote' });
    }
    for (const r of reader) {
      // Created, not applied: an object that appeared meanwhile (409) is someone's, reused and never undone.
      try {
        await remote.client.request('POST', objectPath(r, false), { body: r, query: { fieldManager: FIELD_MANAGER } });
        undo.add(objectPath(r), `${r.kind} ${r.metadata.name}`);
        steps.push({
          verb: 'created',
          what: `${r.kind} ${r.metadata.namespace ? `${r.metadata.namespace}/` : ''}${r.metadata.name}`,
          on: 'remote',
        });
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 409)) throw e;
        steps.push({ verb: 'reused', what: `${r.kind} ${r.metadata.name}`, on: 'remote' });
      }
    }
    let name = token?.metadata.name;
    if (!name) {
      const made = await remote.client.request<Secret>('POST', secretsPath(ns), {
        body: tokenSecretBody(o.serviceAccount, ns, tokenSecretName(o.serviceAccount)),
        query: { fieldManager: FIELD_MANAGER },
      });
      name = made!.metadata.name!;
      undo.add(secretsPath(ns, name), `Secret ${ns}/${name}`);
      steps.push({ verb: 'created', what: `Secret ${ns}/${name} (token of ${o.serviceAccount})`, on: 'remote' });
    } else steps.push({ verb: 'reused', what: `Secret ${ns}/${name} (token of ${o.serviceAccount})`, on: 'remote' });
    const filled = await filledToken(remote.client, ns, name, o.tokenTimeoutMs ?? 30_000);
    const secret = secretFor(o, checked.server, filled);
    if (primary && apply)
      steps.push(
        await applyToPrimary(
          primary.client,
          secret,
          checked.primarySecrets.find((s) => s.metadata.name === checked.secretName),
        ),
      );
    return { secret, steps, warnings: checked.warnings };
  });
}

function secretFor(o: RemoteSecretOptions, server: string, t: { token: string; caData: string }): Secret {
  const kubeconfig = kubeconfigFor({
    cluster: o.cluster,
    server,
    caData: t.caData,
    token: t.token,
    ...(o.tlsServerName ? { tlsServerName: o.tlsServerName } : {}),
  });
  return remoteSecretBody({ type: o.type, cluster: o.cluster, namespace: o.namespace, kubeconfig });
}

/**
 * `remote-secret rotate`: a new token Secret for the account on the remote, the primary's secret updated to it, then
 * the token it replaced deleted (which revokes it). Needs the primary: the old token may only go once nothing uses it.
 */
export async function rotateRemoteSecret(o: RemoteSecretOptions, remote: Target, primary: Target): Promise<RemoteSecretResult> {
  const ns = o.namespace;
  await reachable(remote);
  const checked = await checkPrimary(o, remote, primary, PRIMARY_WRITES(ns));
  const current = checked.primarySecrets.find((s) => s.metadata.name === checked.secretName);
  if (!current) {
    throw new InputError([
      {
        path: '--name',
        message: `the primary has no remote secret ${ns}/${checked.secretName} to rotate`,
        hint: 'create it first: remote-secret create -y',
      },
    ]);
  }
  await mayDo(remote, [
    { verb: 'get', resource: 'serviceaccounts', namespace: ns },
    { verb: 'list', resource: 'secrets', namespace: ns },
    { verb: 'get', resource: 'secrets', namespace: ns },
    { verb: 'create', resource: 'secrets', namespace: ns },
    { verb: 'delete', resource: 'secrets', namespace: ns },
  ]);
  const sa = await remote.client.request(
    'GET',
    `/api/v1/namespaces/${encodeURIComponent(ns)}/serviceaccounts/${encodeURIComponent(o.serviceAccount)}`,
    { allow404: true },
  );
  if (!sa)
    throw new InputError([
      {
        path: '--service-account',
        message: `ServiceAccount ${ns}/${o.serviceAccount} does not exist on the remote cluster (${remote.client.server})`,
        hint: 'the account the secret authenticates as; create the secret again with remote-secret create -y',
      },
    ]);
  // The token Secret the primary's secret uses now: the one deleted once the new token is in place.
  const oldTokens = new Set(
    entriesOf(current)
      .map((e) => e.token)
      .filter(Boolean),
  );
  const tokens = (await listSecrets(remote.client, ns, { fieldSelector: 'type=kubernetes.io/service-account-token' })).filter((s) =>
    isTokenOf(s, o.serviceAccount),
  );
  const old = tokens.filter((s) => oldTokens.has(tokenData(s)?.token));
  const steps: Step[] = [];
  const warnings = [...checked.warnings];
  if (!old.length)
    warnings.push(`no token Secret of ${o.serviceAccount} on the remote holds the token the primary's secret uses: nothing to revoke`);

  const undo = new Undo(remote.client);
  const result = await guarded(undo, async () => {
    const made = await remote.client.request<Secret>('POST', secretsPath(ns), {
      body: tokenSecretBody(o.serviceAccount, ns),
      query: { fieldManager: FIELD_MANAGER },
    });
    const name = made!.metadata.name!;
    undo.add(secretsPath(ns, name), `Secret ${ns}/${name}`);
    steps.push({ verb: 'created', what: `Secret ${ns}/${name} (token of ${o.serviceAccount})`, on: 'remote' });
    const filled = await filledToken(remote.client, ns, name, o.tokenTimeoutMs ?? 30_000);
    const secret = secretFor(o, checked.server, filled);
    steps.push(await applyToPrimary(primary.client, secret, current));
    return secret;
  });
  // The primary now holds the new token: from here on the old one may go. A failure is reported, not undone.
  for (const s of old) {
    await remote.client.request('DELETE', secretsPath(ns, s.metadata.name!), {
      allow404: true,
      body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: s.metadata.uid } },
    });
    steps.push({ verb: 'deleted', what: `Secret ${ns}/${s.metadata.name} (the replaced token)`, on: 'remote' });
  }
  const others = tokens.filter((s) => !old.includes(s));
  if (others.length)
    warnings.push(
      `other token Secrets of ${o.serviceAccount} remain on the remote (${others.map((s) => s.metadata.name).join(', ')}): other primaries may use them`,
    );
  return { secret: result, steps, warnings };
}
