import type { KubeClient } from '../apply/client.js';

import { revLabel } from '../api/names.js';
import { revisionUsage, type MetaLike, type PodLike, type RevisionUsage } from './usage.js';
import { LABEL_OWNER_NAME, LABEL_OWNER_NAMESPACE, LABEL_REVISION } from '../api/labels.js';

// The one reader of "who uses a revision" in a live cluster: uninstall, the operator's finalizer and InUse
// condition, `tag` and `upgrade` all call readUsage, so they can never disagree. Lists are bounded: pods are
// paged and filtered server-side (finished pods and our own control-plane pods never leave the apiserver).

export const LABEL_TAG = 'istio.io/tag';
const MWC = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';
const PAGE = 500;

export interface TagRef {
  tag: string;
  /** Revision the tag points at, as labels spell it ('default' for the default revision). */
  revision: string;
  webhook: string;
  /** IstioOperator that declares it (spec.values.revisionTags), if any: `namespace/name`. */
  declaredBy?: string;
}

export interface ReadUsageOptions {
  /** Tags this IstioOperator declares go away with it, so they do not count as users of its revision. */
  exceptOwner?: { name: string; namespace: string };
  /** Same, for several owners at once (uninstall --revision removes every owner of the revision). */
  exceptOwners?: Array<{ name: string; namespace: string }>;
}

export interface ClusterUsage extends RevisionUsage {
  /** Set when usage could not be read: the revision is then reported in use, and this says why. */
  unknown?: string;
}

type Item = {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  status?: { phase?: string };
};

async function listAll(client: KubeClient, path: string, query: Record<string, string>): Promise<Item[]> {
  const out: Item[] = [];
  let cont: string | undefined;
  do {
    const page = await client.request<{ items?: Item[]; metadata?: { continue?: string } }>('GET', path, {
      query: { ...query, limit: String(PAGE), continue: cont },
    });
    // Keep only what usage reads, so a large cluster's pod specs are not held in memory.
    for (const it of page?.items ?? [])
      out.push({
        metadata: {
          name: it.metadata.name,
          namespace: it.metadata.namespace,
          labels: it.metadata.labels,
          annotations: it.metadata.annotations,
        },
        status: { phase: it.status?.phase },
      });
    cont = page?.metadata?.continue || undefined;
  } while (cont);
  return out;
}

/** Revision tags in the cluster: the `istio.io/tag`-labelled injector webhooks. */
export async function readTags(client: KubeClient): Promise<TagRef[]> {
  return tagsFrom((await listAll(client, MWC, { labelSelector: LABEL_TAG })).map((w) => w.metadata));
}

/** Revision tags from the metadata of the `istio.io/tag`-labelled webhooks (listed, or from a watch cache). */
export function tagsFrom(hooks: MetaLike[]): TagRef[] {
  return hooks
    .filter((w) => w.labels?.[LABEL_TAG])
    .map((w) => {
      const l = w.labels ?? {};
      const owner = l[LABEL_OWNER_NAME];
      return {
        tag: l[LABEL_TAG]!,
        revision: l[LABEL_REVISION] || 'default',
        webhook: w.name,
        ...(owner ? { declaredBy: `${l[LABEL_OWNER_NAMESPACE] ?? ''}/${owner}` } : {}),
      };
    })
    .sort((a, b) => a.tag.localeCompare(b.tag) || a.webhook.localeCompare(b.webhook));
}

/** tag → revision ('' for the default revision), as revisionUsage takes it. */
export function tagMap(tags: TagRef[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags) out[t.tag] = t.revision === 'default' ? '' : t.revision;
  return out;
}

export interface ClusterSnapshot {
  namespaces: MetaLike[];
  pods: PodLike[];
  tags: TagRef[];
}

/** One read of everything usage depends on; several revisions can then be judged from the same snapshot. */
export async function readSnapshot(client: KubeClient): Promise<ClusterSnapshot> {
  const [nss, pods, tags] = await Promise.all([
    listAll(client, '/api/v1/namespaces', {}),
    // Control-plane pods carry istio.io/rev too, but they are what a removal deletes, not users of it.
    listAll(client, '/api/v1/pods', {
      labelSelector: `!${LABEL_OWNER_NAME}`,
      fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed',
    }),
    readTags(client),
  ]);
  return {
    namespaces: nss.map((n) => ({ name: n.metadata.name, labels: n.metadata.labels })),
    pods: pods.map((p) => ({ ...p.metadata, phase: p.status?.phase })),
    tags,
  };
}

export function usageFrom(snap: ClusterSnapshot, revision: string, opts: ReadUsageOptions = {}): ClusterUsage {
  const u = revisionUsage(revision === 'default' ? '' : revision, {
    namespaces: snap.namespaces,
    pods: snap.pods,
    tags: tagMap(snap.tags),
  });
  const ex = [...(opts.exceptOwner ? [opts.exceptOwner] : []), ...(opts.exceptOwners ?? [])].map((o) => `${o.namespace}/${o.name}`);
  if (!ex.length) return u;
  // A tag the owner itself installed goes away with it: it is not a user by existing, only through the
  // namespaces and pods that select it (still counted above, since they would lose injection).
  const own = new Set(snap.tags.filter((t) => t.declaredBy !== undefined && ex.includes(t.declaredBy)).map((t) => t.tag));
  const tags = u.tags.filter((t) => !own.has(t));
  return { ...u, tags, inUse: u.namespaces.length + u.pods.length + tags.length > 0 };
}

/**
 * Who uses `revision` ('' or 'default' for the default revision). Never throws: when the cluster cannot be
 * read, the revision is reported in use with the reason, because removing a revision that is still needed
 * breaks injection for every workload on it.
 */
export async function readUsage(client: KubeClient, revision: string, opts: ReadUsageOptions = {}): Promise<ClusterUsage> {
  try {
    return usageFrom(await readSnapshot(client), revision, opts);
  } catch (e) {
    const rev = revision === 'default' ? '' : revision;
    return {
      revision: rev,
      inUse: true,
      namespaces: [],
      pods: [],
      tags: [],
      unknown: `cannot tell whether revision ${revLabel(rev)} is in use (${(e as Error).message}); treating it as in use`,
    };
  }
}

export interface UsageReason {
  kind: 'Namespace' | 'Pod' | 'Tag' | 'Unknown';
  name: string;
  why: string;
}

/** Each user of `u` with the label or tag that makes it one: what a refusal prints. */
export function explainUsage(snap: ClusterSnapshot, u: ClusterUsage): UsageReason[] {
  const rev = revLabel(u.revision);
  if (u.unknown) return [{ kind: 'Unknown', name: rev, why: u.unknown }];
  const via = (v: string) => (v === rev ? '' : ` (tag ${v} -> ${rev})`);
  const out: UsageReason[] = [];
  const nsByName = new Map(snap.namespaces.map((n) => [n.name, n]));
  for (const n of u.namespaces) {
    const l = nsByName.get(n)?.labels ?? {};
    const v = l[LABEL_REVISION];
    out.push({
      kind: 'Namespace',
      name: n,
      why: v !== undefined ? `labelled istio.io/rev=${v}${via(v)}` : `labelled istio-injection=enabled (default tag -> ${rev})`,
    });
  }
  const podByKey = new Map(snap.pods.map((p) => [`${p.namespace ?? ''}/${p.name}`, p]));
  for (const k of u.pods) {
    const p = podByKey.get(k);
    const a = p?.annotations?.[LABEL_REVISION];
    const v = a ?? p?.labels?.[LABEL_REVISION];
    out.push({
      kind: 'Pod',
      name: k,
      why:
        v !== undefined
          ? `${a !== undefined ? 'annotated' : 'labelled'} istio.io/rev=${v}${via(v)}`
          : `labelled sidecar.istio.io/inject=true (default tag -> ${rev})`,
    });
  }
  for (const t of u.tags) {
    const hook = snap.tags.find((x) => x.tag === t)?.webhook;
    out.push({ kind: 'Tag', name: t, why: `revision tag points at ${rev}${hook ? ` (MutatingWebhookConfiguration ${hook})` : ''}` });
  }
  return out;
}
