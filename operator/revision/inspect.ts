import type { KubeClient } from '../apply/client.js';
import { listInventories, type Inventory } from '../apply/inventory.js';
import { readSnapshot, tagMap, usageFrom, type ClusterSnapshot } from './cluster.js';
import { plannedObjects, planUpgrade, revisionForVersion, type InstalledRevision, type UpgradePlan } from './plan.js';
import { readRevisions, type LiveRevision } from './tags.js';
import { revLabel } from '../api/names.js';
import { LABEL_INJECTION, LABEL_REVISION } from '../api/labels.js';
import { DEFAULT_TAG } from '../api/names.js';
import type { List, LiveWebhookConfiguration } from '../api/live.js';

// Reads the cluster for `upgrade plan` and `upgrade status`; the decisions stay in plan.ts and usage.ts.

export interface ClusterView {
  kubernetesVersion: string;
  revisions: LiveRevision[];
  snapshot: ClusterSnapshot;
  /** Gateway Deployments per revision label value: `namespace/name`. */
  gateways: Map<string, string[]>;
  webhooks: LiveWebhookConfiguration[];
  /** Every install's inventory: the spec each revision was installed from. */
  inventories: Inventory[];
}

/** `istioNamespace` limits the view to the revisions whose istiod runs there (one mesh of several). */
export async function readClusterView(client: KubeClient, istioNamespace?: string): Promise<ClusterView> {
  const [version, revisions, snapshot, deploys, hooks, inventories] = await Promise.all([
    client.request<{ gitVersion?: string }>('GET', '/version'),
    readRevisions(client),
    readSnapshot(client),
    client.request<List>('GET', '/apis/apps/v1/deployments', { query: { labelSelector: `${LABEL_REVISION},app!=istiod` } }),
    client.request<List<LiveWebhookConfiguration>>('GET', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations'),
    listInventories(client),
  ]);
  const gateways = new Map<string, string[]>();
  for (const d of deploys?.items ?? []) {
    const l = d.metadata.labels ?? {};
    if (!/gateway/.test(`${l.istio ?? ''} ${l.app ?? ''} ${d.metadata.name}`)) continue;
    const rev = l[LABEL_REVISION] as string;
    gateways.set(rev, [...(gateways.get(rev) ?? []), `${d.metadata.namespace}/${d.metadata.name}`]);
  }
  const mine = istioNamespace ? revisions.filter((r) => r.namespace === istioNamespace) : revisions;
  return {
    kubernetesVersion: version?.gitVersion ?? 'unknown',
    revisions: mine,
    snapshot,
    gateways,
    webhooks: hooks?.items ?? [],
    inventories,
  };
}

/** Pod-injecting webhooks that would also answer for `revision`: it already has a webhook, or a webhook selects every pod. */
export function overlappingWebhooks(hooks: LiveWebhookConfiguration[], revision: string): string[] {
  const out: string[] = [];
  for (const c of hooks) {
    for (const w of c.webhooks ?? []) {
      const onPods = (w.rules ?? []).some(
        (r) => (r.resources ?? []).some((x) => x === 'pods' || x === '*') && (r.operations ?? []).some((o) => o === 'CREATE' || o === '*'),
      );
      if (!onPods) continue;
      const exprs = [...(w.namespaceSelector?.matchExpressions ?? []), ...(w.objectSelector?.matchExpressions ?? [])];
      const labels = { ...(w.namespaceSelector?.matchLabels ?? {}), ...(w.objectSelector?.matchLabels ?? {}) };
      const names =
        exprs.some((e) => e.key === LABEL_REVISION && e.operator === 'In' && (e.values ?? []).includes(revision)) ||
        labels[LABEL_REVISION] === revision;
      const everything = /sidecar-injector/.test(w.name ?? '') && exprs.length === 0 && Object.keys(labels).length === 0;
      if (names || everything) {
        out.push(
          `MutatingWebhookConfiguration ${c.metadata.name} (webhook ${w.name}${everything ? ', no selector: every pod' : `, selects istio.io/rev=${revision}`})`,
        );
        break;
      }
    }
  }
  return out;
}

/** The spec the revision's install recorded: its istiod's inventory (the one listing the istiod Deployment). */
function specOf(inventories: Inventory[], namespace: string, revision: string): { spec?: Record<string, unknown> } {
  const istiod = revision === DEFAULT_TAG ? 'istiod' : `istiod-${revision}`;
  const inv = inventories.find(
    (i) => i.namespace === namespace && i.spec && i.objects.some((o) => o.kind === 'Deployment' && o.name === istiod),
  );
  return inv?.spec ? { spec: inv.spec } : {};
}

export function installedRevisions(view: ClusterView): InstalledRevision[] {
  return view.revisions.map((r) => {
    const u = usageFrom(view.snapshot, r.revision);
    return {
      revision: r.revision === DEFAULT_TAG ? '' : r.revision,
      version: r.version,
      namespace: r.namespace,
      tags: view.snapshot.tags.filter((t) => t.revision === r.revision).map((t) => t.tag),
      namespaces: u.namespaces,
      pods: u.pods.length,
      gateways: view.gateways.get(r.revision) ?? [],
      ...specOf(view.inventories, r.namespace, r.revision),
    };
  });
}

export function planFromView(view: ClusterView, target: string, newRevision?: string): UpgradePlan {
  const rev = newRevision || revisionForVersion(target);
  const plan = planUpgrade({
    target,
    kubernetesVersion: view.kubernetesVersion,
    installed: installedRevisions(view),
    overlappingWebhooks: overlappingWebhooks(view.webhooks, rev),
    newRevision: rev,
  });
  const manifest = plan.steps[0]?.manifest;
  return plan.ok && manifest ? { ...plan, objects: plannedObjects(manifest) } : plan;
}

export interface RevisionStatus {
  revision: string;
  version: string;
  tags: string[];
  namespaces: string[];
  pods: number;
}

export interface UpgradeStatus {
  revisions: RevisionStatus[];
  /** Pods whose namespace now selects another revision than the one they run: restart them. */
  toRestart: Array<{ pod: string; runs: string; selected: string }>;
  /** Revisions nothing uses any more: safe to remove. */
  removable: string[];
}

/** Which revision a namespace's new pods get (label value resolved through tags), or undefined. */
function selectedRevision(labels: Record<string, string> | undefined, tags: Record<string, string>): string | undefined {
  const l = labels ?? {};
  const v = l[LABEL_REVISION] ?? (l[LABEL_INJECTION] === 'enabled' ? DEFAULT_TAG : undefined);
  if (v === undefined) return undefined;
  return v in tags ? revLabel(tags[v]!) : v;
}

export function upgradeStatus(view: ClusterView): UpgradeStatus {
  const tags = tagMap(view.snapshot.tags);
  const revisions = view.revisions.map((r) => {
    const u = usageFrom(view.snapshot, r.revision);
    return { revision: r.revision, version: r.version, tags: u.tags, namespaces: u.namespaces, pods: u.pods.length, inUse: u.inUse };
  });
  const nsLabels = new Map(view.snapshot.namespaces.map((n) => [n.name, n.labels]));
  const toRestart: UpgradeStatus['toRestart'] = [];
  for (const p of view.snapshot.pods) {
    const v = p.annotations?.[LABEL_REVISION] ?? p.labels?.[LABEL_REVISION];
    if (v === undefined) continue;
    const runs = v in tags ? revLabel(tags[v]!) : v;
    const selected = selectedRevision(nsLabels.get(p.namespace ?? ''), tags);
    if (selected && selected !== runs) toRestart.push({ pod: `${p.namespace}/${p.name}`, runs, selected });
  }
  return {
    revisions: revisions.map(({ inUse: _i, ...r }) => r),
    toRestart: toRestart.sort((a, b) => a.pod.localeCompare(b.pod)),
    removable: revisions.filter((r) => !r.inUse).map((r) => r.revision),
  };
}
