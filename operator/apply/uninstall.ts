import type { KubeClient } from './client.js';
import { KINDS, ownedSelector, stageIndex } from '../api/kinds.js';
import { istiodName, revisionOf } from '../api/names.js';
import { deleteInventory, listInventories, type Inventory } from './inventory.js';
import { isOurCRD } from './owner.js';
import { prune, type PruneResult } from './prune.js';
import { refKey, refString, Resources, type ObjectRef } from './resources.js';
import { isShared } from './shared.js';
import { LABEL_COMPONENT, LABEL_REVISION } from '../api/labels.js';
import { ownedBy, ownerLabels, type Owner } from '../api/owner.js';
import type { List, LiveCRD, LiveWebhookConfiguration, Webhook } from '../api/live.js';
import type { K8sObject } from '../api/types.js';

// Removal of what an owner/revision installed: the mechanics only. Whether a revision may go (namespaces,
// pods or tags still using it) is the revision layer's decision (revision/removal.ts), taken before this runs.

export interface UninstallOptions {
  /** Remove this revision ('default' for the default revision), every owner's. */
  revision?: string;
  /** Remove what this owner installed (from -f FILE). */
  owner?: Owner;
  /** Everything we installed, CRDs included. */
  purge?: boolean;
  dryRun?: boolean;
}

export interface UninstallPlan {
  inventories: Inventory[];
  objects: ObjectRef[];
  gateways: ObjectRef[];
}

const norm = (r: string | undefined) => (!r ? 'default' : r);

export async function planUninstall(client: KubeClient, opts: UninstallOptions): Promise<UninstallPlan> {
  const all = await listInventories(client);
  const inventories = opts.purge
    ? all
    : opts.owner
      ? all.filter(
          (i) => i.owner.name === opts.owner!.name && i.owner.rev === opts.owner!.rev && i.owner.namespace === opts.owner!.namespace,
        )
      : all.filter((i) => i.owner.rev === norm(opts.revision));
  const objects = inventories.flatMap((i) => i.objects);
  const gateways = objects.filter((o) => o.kind === 'Deployment' && /gateway/.test(o.name));
  return { inventories, objects, gateways };
}

// Kinds swept by label on --purge, for objects whose inventory was lost: the kinds table's, webhooks first
// (nothing must call a removed istiod), CRDs last.
const SWEEP = [...KINDS].filter((k) => k.swept).sort((a, b) => stageIndex(b.kind) - stageIndex(a.kind));

export interface UninstallResult {
  deleted: ObjectRef[];
  skipped: PruneResult['skipped'];
  plan: UninstallPlan;
}

export async function uninstall(client: KubeClient, opts: UninstallOptions, plan?: UninstallPlan): Promise<UninstallResult> {
  const res = new Resources(client);
  plan ??= await planUninstall(client, opts);
  const deleted: ObjectRef[] = [];
  const skipped: PruneResult['skipped'] = [];
  const removing = new Set(plan.inventories.map(inventoryKey));
  const staying = opts.purge ? [] : (await listInventories(client)).filter((i) => !removing.has(inventoryKey(i)));
  for (const inv of plan.inventories) {
    const handed = staying.length ? await handOverShared(client, res, inv, staying, !!opts.dryRun) : [];
    skipped.push(...handed);
    const handedKeys = new Set(handed.map((h) => refKey(h.ref)));
    const r = await prune(
      client,
      res,
      inv.objects.filter((o) => !handedKeys.has(refKey(o))),
      inv.owner,
      { includeCRDs: !!opts.purge, dryRun: !!opts.dryRun },
    );
    deleted.push(...r.deleted);
    skipped.push(...r.skipped);
    if (!opts.dryRun) await deleteInventory(client, inv);
  }
  // No webhook may outlive the Service it calls: a tag or validator another owner made (the default tag a CLI install
  // added, then adopted by an IstioOperator) would fail every pod creation it selects (failurePolicy Fail).
  deleted.push(...(await dropOrphanedWebhooks(client, deleted, !!opts.dryRun)));
  if (opts.purge) {
    // Anything still carrying our ownership label (inventory lost, older installs): ours by label, removed.
    for (const k of SWEEP) {
      const { apiVersion, kind, optional } = k;
      const path = await res.allPath(apiVersion, kind);
      const crds = kind === 'CustomResourceDefinition';
      // An optional kind (kinds.ts) is not served where its CRD is not installed: nothing of it to sweep there.
      const listed =
        (
          await client.request<List<LiveCRD>>('GET', path, {
            query: { labelSelector: crds ? LABEL_COMPONENT : ownedSelector(k) },
            ...(optional ? { allow404: true } : {}),
          })
        )?.items ?? [];
      const items = crds ? listed.filter(isOurCRD) : listed;
      for (const it of items) {
        const ref: ObjectRef = {
          apiVersion,
          kind,
          name: it.metadata.name,
          ...(it.metadata.namespace ? { namespace: it.metadata.namespace } : {}),
        };
        if (!opts.dryRun)
          await client.request('DELETE', await res.path(ref), {
            allow404: true,
            body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
          });
        deleted.push(ref);
      }
    }
  }
  return { deleted: dedupe(deleted), skipped, plan };
}

const WEBHOOK_KINDS = [
  ['MutatingWebhookConfiguration', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations'],
  ['ValidatingWebhookConfiguration', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations'],
] as const;

/**
 * Webhook configurations every webhook of which calls a Service this uninstall deleted: they can only fail now.
 * Istio's (labelled istio.io/rev or istio.io/tag) are removed whoever owns them; anyone else's are left alone.
 */
async function dropOrphanedWebhooks(client: KubeClient, deleted: ObjectRef[], dryRun: boolean): Promise<ObjectRef[]> {
  const gone = new Set(deleted.filter((r) => r.kind === 'Service').map((r) => `${r.namespace}/${r.name}`));
  if (!gone.size) return [];
  const out: ObjectRef[] = [];
  for (const [kind, path] of WEBHOOK_KINDS) {
    const list = await client.request<List<LiveWebhookConfiguration>>('GET', path, { query: { labelSelector: LABEL_REVISION } });
    for (const c of list?.items ?? []) {
      const hooks = c.webhooks ?? [];
      const calls = (w: Webhook) =>
        w.clientConfig?.service && gone.has(`${w.clientConfig.service.namespace}/${w.clientConfig.service.name}`);
      if (!hooks.length || !hooks.every(calls)) continue;
      const ref: ObjectRef = { apiVersion: 'admissionregistration.k8s.io/v1', kind, name: c.metadata.name };
      if (deleted.some((d) => refKey(d) === refKey(ref))) continue;
      if (!dryRun)
        await client.request('DELETE', `${path}/${encodeURIComponent(c.metadata.name)}`, {
          allow404: true,
          body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: c.metadata.uid } },
        });
      out.push(ref);
    }
  }
  return out;
}

const inventoryKey = (i: Inventory) => `${i.namespace}/${i.owner.namespace}/${i.owner.name}/${i.owner.rev}`;

/**
 * Shared objects (Base: same name in every revision) still labelled with the owner being removed are handed to
 * an installation that stays (preferably one that lists them), instead of deleted under it: its istiod needs them.
 */
async function handOverShared(
  client: KubeClient,
  res: Resources,
  inv: Inventory,
  staying: Inventory[],
  dryRun: boolean,
): Promise<PruneResult['skipped']> {
  const out: PruneResult['skipped'] = [];
  for (const ref of inv.objects) {
    if (ref.kind === 'CustomResourceDefinition') continue;
    const path = await res.path(ref).catch(() => undefined);
    if (!path) continue;
    const live = await client.request('GET', path, { allow404: true });
    if (!live || !isShared(live as K8sObject) || !ownedBy(live.metadata?.labels, inv.owner)) continue;
    // An installation listing it, else one in the same Istio namespace (an older revision that left the newer
    // copy alone does not list it); an object of another Istio namespace is nobody else's, and a cluster-scoped
    // one (the CNI agent's ClusterRoles) goes to an installation beside the departing one, never to an unrelated
    // install that would hold it without rendering it.
    const heir =
      staying.find((s) => s.objects.some((o) => refKey(o) === refKey(ref))) ??
      staying.find((s) => s.namespace === (ref.namespace ?? inv.namespace));
    if (!heir) continue;
    if (!dryRun)
      await client.request('PATCH', path, {
        body: { metadata: { labels: ownerLabels(heir.owner) } },
        contentType: 'application/merge-patch+json',
      });
    // ztunnel still points at the departing revision's istiod until the heir applies its own spec (the operator
    // does on the relabel; from the CLI it is the heir's next install).
    const heirIstiod = istiodName(revisionOf(heir.owner.rev));
    const follow = live.metadata?.labels?.[LABEL_COMPONENT] === 'Ztunnel' ? `; its next install points it at ${heirIstiod}` : '';
    out.push({
      ref,
      why: `shared with IstioOperator ${heir.owner.namespace ? `${heir.owner.namespace}/` : ''}${heir.owner.name} (revision ${heir.owner.rev}), which keeps it${follow}`,
    });
  }
  return out;
}

function dedupe(refs: ObjectRef[]): ObjectRef[] {
  const m = new Map(refs.map((r) => [refKey(r), r]));
  return [...m.values()];
}

export { refString };
