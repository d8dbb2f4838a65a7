import type { KubeClient } from './client.js';
import { deleteInventory, listInventories, type Inventory } from './inventory.js';
import { isOurCRD, LABEL_COMPONENT, LABEL_OWNER, type Owner } from './owner.js';
import { prune, type PruneResult } from './prune.js';
import { refKey, refString, Resources, type ObjectRef } from './resources.js';

// Removal of what an owner/revision installed, guarded: a revision that namespaces, pods or revision
// tags still use is refused (unless forced), because removing it breaks injection for those workloads.

export interface UninstallOptions {
  /** Remove this revision ('default' for the default revision), every owner's. */
  revision?: string;
  /** Remove what this owner installed (from -f FILE). */
  owner?: Owner;
  /** Everything we installed, CRDs included. */
  purge?: boolean;
  force?: boolean;
  dryRun?: boolean;
}

export interface RevisionUser {
  kind: 'Namespace' | 'Pod' | 'Tag';
  name: string;
  why: string;
}

export interface UninstallPlan {
  inventories: Inventory[];
  objects: ObjectRef[];
  users: RevisionUser[];
  gateways: ObjectRef[];
}

export class RevisionInUseError extends Error {
  constructor(readonly revisions: string[], readonly users: RevisionUser[]) {
    super(
      `revision ${revisions.join(', ')} is still in use (rerun with --force to remove it anyway):\n` +
        users.map((u) => `  ${u.kind} ${u.name}: ${u.why}`).join('\n'),
    );
    this.name = 'RevisionInUseError';
  }
}

const norm = (r: string | undefined) => (!r ? 'default' : r);

/** Namespaces, pods and tags that still point at a revision. */
export async function revisionUsers(client: KubeClient, rev: string, ownObjects: Set<string>, ownerNames: Set<string> = new Set()): Promise<RevisionUser[]> {
  const users: RevisionUser[] = [];
  const list = async (path: string, selector: string) =>
    (await client.request<{ items: Array<Record<string, any>> }>('GET', path, { query: { labelSelector: selector } }))?.items ?? [];
  for (const ns of await list('/api/v1/namespaces', `istio.io/rev=${rev}`)) users.push({ kind: 'Namespace', name: ns.metadata.name, why: `labelled istio.io/rev=${rev}` });
  if (rev === 'default') {
    for (const ns of await list('/api/v1/namespaces', 'istio-injection=enabled')) users.push({ kind: 'Namespace', name: ns.metadata.name, why: 'labelled istio-injection=enabled' });
  }
  for (const p of await list('/api/v1/pods', `istio.io/rev=${rev}`)) {
    // The revision's own istiod and gateway pods carry its label too; they go with it.
    const l = p.metadata.labels ?? {};
    if (l[LABEL_COMPONENT] && ownerNames.has(l[LABEL_OWNER])) continue;
    users.push({ kind: 'Pod', name: `${p.metadata.namespace}/${p.metadata.name}`, why: `labelled istio.io/rev=${rev}` });
  }
  for (const w of await list('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', `istio.io/tag,istio.io/rev=${rev}`)) {
    if (ownObjects.has(refKey({ apiVersion: w.apiVersion, kind: 'MutatingWebhookConfiguration', name: w.metadata.name }))) continue;
    users.push({ kind: 'Tag', name: w.metadata.labels['istio.io/tag'], why: `revision tag points at ${rev} (MutatingWebhookConfiguration ${w.metadata.name})` });
  }
  return users;
}

export async function planUninstall(client: KubeClient, opts: UninstallOptions): Promise<UninstallPlan> {
  const all = await listInventories(client);
  const inventories = opts.purge
    ? all
    : opts.owner
      ? all.filter((i) => i.owner.name === opts.owner!.name && i.owner.rev === opts.owner!.rev && i.owner.namespace === opts.owner!.namespace)
      : all.filter((i) => i.owner.rev === norm(opts.revision));
  const objects = inventories.flatMap((i) => i.objects);
  const own = new Set(objects.map(refKey));
  const users: RevisionUser[] = [];
  const names = new Set(inventories.map((i) => i.owner.name));
  for (const rev of [...new Set(inventories.map((i) => i.owner.rev))]) users.push(...(await revisionUsers(client, rev, own, names)));
  const gateways = objects.filter((o) => o.kind === 'Deployment' && /gateway/.test(o.name));
  return { inventories, objects, users, gateways };
}

// Kinds swept by label on --purge, for objects whose inventory was lost.
const SWEEP: Array<[string, string]> = [
  ['admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration'],
  ['admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration'],
  ['policy/v1', 'PodDisruptionBudget'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'DaemonSet'],
  ['v1', 'Service'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
  ['rbac.authorization.k8s.io/v1', 'Role'],
  ['v1', 'ConfigMap'],
  ['v1', 'Secret'],
  ['v1', 'ServiceAccount'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRole'],
  ['apiextensions.k8s.io/v1', 'CustomResourceDefinition'],
];

export interface UninstallResult {
  deleted: ObjectRef[];
  skipped: PruneResult['skipped'];
  plan: UninstallPlan;
}

export async function uninstall(client: KubeClient, opts: UninstallOptions, plan?: UninstallPlan): Promise<UninstallResult> {
  const res = new Resources(client);
  plan ??= await planUninstall(client, opts);
  if (plan.users.length && !opts.force) throw new RevisionInUseError([...new Set(plan.inventories.map((i) => i.owner.rev))], plan.users);
  const deleted: ObjectRef[] = [];
  const skipped: PruneResult['skipped'] = [];
  for (const inv of plan.inventories) {
    const r = await prune(client, res, inv.objects, inv.owner, { includeCRDs: !!opts.purge, dryRun: !!opts.dryRun });
    deleted.push(...r.deleted);
    skipped.push(...r.skipped);
    if (!opts.dryRun) await deleteInventory(client, inv);
  }
  if (opts.purge) {
    // Anything still carrying our ownership label (inventory lost, older installs): ours by label, removed.
    for (const [apiVersion, kind] of SWEEP) {
      const path = await res.allPath(apiVersion, kind);
      const crds = kind === 'CustomResourceDefinition';
      const listed = (await client.request<{ items: Array<Record<string, any>> }>('GET', path, { query: { labelSelector: crds ? LABEL_COMPONENT : LABEL_OWNER } }))?.items ?? [];
      const items = crds ? listed.filter(isOurCRD) : listed;
      for (const it of items) {
        const ref: ObjectRef = { apiVersion, kind, name: it.metadata.name, ...(it.metadata.namespace ? { namespace: it.metadata.namespace } : {}) };
        if (!opts.dryRun) await client.request('DELETE', await res.path(ref), { allow404: true, body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' } });
        deleted.push(ref);
      }
    }
  }
  return { deleted: dedupe(deleted), skipped, plan };
}

function dedupe(refs: ObjectRef[]): ObjectRef[] {
  const m = new Map(refs.map((r) => [refKey(r), r]));
  return [...m.values()];
}

export function describeUsers(users: RevisionUser[]): string[] {
  return users.map((u) => `${u.kind} ${u.name}: ${u.why}`);
}
export { refString };
