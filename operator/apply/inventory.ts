import { type KubeClient } from './client.js';
import { FIELD_MANAGER } from './owner.js';
import { refKey, type ObjectRef } from './resources.js';
import { LABEL_INVENTORY, LABEL_OWNER_NAME, LABEL_OWNER_NAMESPACE, LABEL_REVISION } from '../api/labels.js';
import { ownerLabels, type Owner } from '../api/owner.js';
import type { List, LiveConfigMap, LiveObject } from '../api/live.js';

// What an owner (IstioOperator name + revision) applied, kept in a ConfigMap in the Istio namespace so it
// survives the process. Prune works from this list, not from a label selector: a label selector would
// also match look-alike objects (another install, a user's copy), which is how Istio's installer over-deleted.

export interface Inventory {
  owner: Owner;
  namespace: string;
  objects: ObjectRef[];
  /** The IstioOperator spec as the user wrote it (profile named, not merged): `upgrade plan` starts from it. */
  spec?: Record<string, unknown>;
}

export function inventoryName(owner: Owner): string {
  const clean = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '');
  const n = `istio-operator-inventory-${clean(owner.name) || 'unknown'}-${clean(owner.rev) || 'default'}`;
  return n.length > 253 ? n.slice(0, 253) : n;
}

function sortRefs(refs: ObjectRef[]): ObjectRef[] {
  const seen = new Map<string, ObjectRef>();
  for (const r of refs)
    seen.set(refKey(r), { apiVersion: r.apiVersion, kind: r.kind, ...(r.namespace ? { namespace: r.namespace } : {}), name: r.name });
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}

function path(namespace: string, name?: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps${name ? '/' + encodeURIComponent(name) : ''}`;
}

function parse(cm: LiveConfigMap): Inventory {
  const l = cm.metadata?.labels ?? {};
  let objects: ObjectRef[] = [];
  try {
    objects = JSON.parse(cm.data?.objects ?? '[]') as ObjectRef[];
  } catch {
    throw new Error(
      `inventory ConfigMap ${cm.metadata?.namespace}/${cm.metadata?.name} is corrupt (data.objects is not JSON); delete it to start a fresh inventory`,
    );
  }
  let spec: Record<string, unknown> | undefined;
  try {
    spec = cm.data?.spec ? (JSON.parse(cm.data.spec) as Record<string, unknown>) : undefined;
  } catch {
    spec = undefined; // informational only: a plan without it proposes the default profile and says so
  }
  return {
    owner: { name: l[LABEL_OWNER_NAME] ?? 'unknown', namespace: l[LABEL_OWNER_NAMESPACE] ?? '', rev: l[LABEL_REVISION] ?? 'default' },
    namespace: cm.metadata.namespace ?? '',
    objects,
    ...(spec ? { spec } : {}),
  };
}

export async function readInventory(client: KubeClient, namespace: string, owner: Owner): Promise<Inventory | undefined> {
  const cm = await client.request<LiveConfigMap>('GET', path(namespace, inventoryName(owner)), { allow404: true });
  return cm ? parse(cm) : undefined;
}

/** Every inventory in the cluster (uninstall --purge, uninstall --revision). */
export async function listInventories(client: KubeClient): Promise<Inventory[]> {
  const list = await client.request<List<LiveConfigMap>>('GET', '/api/v1/configmaps', {
    query: { labelSelector: `${LABEL_INVENTORY}=true` },
  });
  return (list?.items ?? []).map(parse);
}

/**
 * Writes the inventory unless `previous` already says the same. Returns the ConfigMap as the apiserver returned it
 * (the controller remembers it, so that the watch's echo of our own write is not drift), or undefined when nothing
 * was written.
 */
export async function writeInventory(client: KubeClient, inv: Inventory, previous: Inventory | undefined): Promise<LiveObject | undefined> {
  const objects = sortRefs(inv.objects);
  // A spec not given keeps the recorded one (a prune-only rewrite knows no spec).
  const spec = inv.spec ?? previous?.spec;
  const specText = spec ? JSON.stringify(spec) : undefined;
  if (
    previous &&
    JSON.stringify(sortRefs(previous.objects)) === JSON.stringify(objects) &&
    (previous.spec ? JSON.stringify(previous.spec) : undefined) === specText
  )
    return undefined;
  const body = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: inventoryName(inv.owner),
      namespace: inv.namespace,
      labels: { ...ownerLabels(inv.owner), [LABEL_INVENTORY]: 'true' },
    },
    data: { objects: JSON.stringify(objects, null, 1), ...(specText ? { spec: specText } : {}) },
  };
  return client.request<LiveObject>('PATCH', path(inv.namespace, body.metadata.name), {
    query: { fieldManager: FIELD_MANAGER, force: 'true' },
    body: JSON.stringify(body),
    contentType: 'application/apply-patch+yaml',
  });
}

export async function deleteInventory(client: KubeClient, inv: Inventory): Promise<void> {
  await client.request('DELETE', path(inv.namespace, inventoryName(inv.owner)), { allow404: true });
}

export function unionRefs(a: ObjectRef[], b: ObjectRef[]): ObjectRef[] {
  return sortRefs([...a, ...b]);
}

/** Refs in `prev` that are not in `next`. */
export function minusRefs(prev: ObjectRef[], next: ObjectRef[]): ObjectRef[] {
  const keep = new Set(next.map(refKey));
  return prev.filter((r) => !keep.has(refKey(r)));
}
