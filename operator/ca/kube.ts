// The CA's requests to the apiserver: read and server-side apply its secrets, create istiod's namespace,
// and roll the istiod Deployments that mount cacerts after it changed.
import { ApiError, type KubeClient } from '../apply/client.js';
import { FIELD_MANAGER } from '../apply/owner.js';
import type { K8sSecret } from './secrets.js';
import type { CaTarget } from './types.js';
import type { List, LiveWorkload } from '../api/live.js';

function secretPath(ns: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets/${encodeURIComponent(name)}`;
}

export async function getSecret(client: KubeClient, ns: string, name: string): Promise<K8sSecret | undefined> {
  return client.request<K8sSecret>('GET', secretPath(ns, name), { allow404: true });
}

// Server-side apply with our one field manager: the fields we stop declaring (the previous root's keys,
// the rotation annotations) are removed by the apiserver, and other managers' fields are left alone.
export async function applySecret(client: KubeClient, body: K8sSecret): Promise<void> {
  await client.request('PATCH', secretPath(body.metadata.namespace, body.metadata.name), {
    query: { fieldManager: FIELD_MANAGER, force: 'true' },
    contentType: 'application/apply-patch+yaml',
    body,
  });
}

export const ANNOTATION_RELOADED = 'ca.operator.istio.io/reloaded-at';
const RESTART_FIELD_MANAGER = 'istio-operator-ca';

/**
 * Rolls the istiod Deployments that mount the CA secret, as `kubectl rollout restart` does: a pod template
 * annotation. A field manager of its own keeps it out of what install applies, so the next install neither
 * removes it (another rollout) nor counts it as drift.
 */
export async function restartIstiods(client: KubeClient, t: CaTarget, now: Date, dryRun: boolean): Promise<string[]> {
  const list = await client.request<List<LiveWorkload>>('GET', `/apis/apps/v1/namespaces/${encodeURIComponent(t.namespace)}/deployments`, {
    query: { labelSelector: 'app=istiod' },
  });
  const out: string[] = [];
  for (const d of list?.items ?? []) {
    const vols = d.spec?.template?.spec?.volumes ?? [];
    if (!vols.some((v) => v.secret?.secretName === t.secretName)) continue;
    if (!dryRun) {
      await client.request(
        'PATCH',
        `/apis/apps/v1/namespaces/${encodeURIComponent(t.namespace)}/deployments/${encodeURIComponent(d.metadata.name)}`,
        {
          query: { fieldManager: RESTART_FIELD_MANAGER },
          contentType: 'application/strategic-merge-patch+json',
          body: { spec: { template: { metadata: { annotations: { [ANNOTATION_RELOADED]: now.toISOString() } } } } },
        },
      );
    }
    out.push(`${t.namespace}/${d.metadata.name}`);
  }
  return out;
}

/** Created plain, as install does (and as istioctl does): istiod's namespace may not exist before the first install. */
export async function ensureNamespace(client: KubeClient, ns: string): Promise<void> {
  const live = await client.request('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}`, { allow404: true });
  if (live) return;
  await client
    .request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } })
    .catch((e) => {
      if (!(e instanceof ApiError && e.code === 409)) throw e;
    });
}
