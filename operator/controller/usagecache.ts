import { resourcePath, type KubeClient } from '../apply/client.js';
import { LABEL_OWNER_NAME, LABEL_REVISION, LABEL_TAG } from '../api/labels.js';
import { tagsFrom, usageFrom, type ClusterSnapshot, type ClusterUsage, type ReadUsageOptions } from '../revision/cluster.js';
import { Informer, kubeSource, type KObject } from './informer.js';
import type { LogFn } from './log.js';

// Who uses a revision, from watch caches instead of a LIST per reconcile (which on a cluster of 10k pods was the
// operator's biggest cost). Metadata-only watches of Pods, Namespaces and the revision-tag webhooks feed the same
// pure judgement the CLI uses (revision/cluster.ts usageFrom), so the two can never disagree. The answer stays
// exact in the one direction that matters: a cache that has not synced, or whose watch is failing, makes every
// revision "in use", with the reason, as an unreadable cluster does for the CLI.

/** Keep only what usage reads: a pod's spec and most of its metadata (managedFields!) would dominate the heap. */
function slimMeta(o: KObject): KObject {
  const md = o.metadata ?? {};
  const rev = md.annotations?.[LABEL_REVISION];
  return {
    metadata: {
      name: md.name,
      ...(md.namespace ? { namespace: md.namespace } : {}),
      ...(md.resourceVersion ? { resourceVersion: md.resourceVersion } : {}),
      ...(md.labels ? { labels: md.labels } : {}),
      ...(rev !== undefined ? { annotations: { [LABEL_REVISION]: rev } } : {}),
    },
  };
}

export class UsageCache {
  private readonly pods: Informer<KObject>;
  private readonly namespaces: Informer<KObject>;
  private readonly tags: Informer<KObject>;

  constructor(kube: KubeClient, log?: LogFn) {
    const inf = (name: string, path: string, sel: { labelSelector?: string; fieldSelector?: string }) =>
      new Informer<KObject>(kubeSource(kube, path, { ...sel, metadataOnly: true }), { name, transform: slimMeta, ...(log ? { log } : {}) });
    // Control-plane pods carry istio.io/rev too, but they are what a removal deletes, not users of it; finished
    // pods use nothing. Both are filtered by the apiserver, as the CLI's LIST filters them.
    this.pods = inf('pods (metadata)', '/api/v1/pods', {
      labelSelector: `!${LABEL_OWNER_NAME}`,
      fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed',
    });
    this.namespaces = inf('namespaces (metadata)', '/api/v1/namespaces', {});
    this.tags = inf('revision tags (metadata)', resourcePath('admissionregistration.k8s.io', 'v1', 'mutatingwebhookconfigurations'), {
      labelSelector: LABEL_TAG,
    });
  }

  get informers(): Array<[string, Informer<KObject>]> {
    return [
      ['pods', this.pods],
      ['namespaces', this.namespaces],
      ['revision-tags', this.tags],
    ];
  }

  start(): Promise<void> {
    return Promise.all(this.informers.map(([, i]) => i.start())).then(() => undefined);
  }

  stop(): void {
    for (const [, i] of this.informers) i.stop();
  }

  /** Why the caches cannot be trusted now, or undefined when they can. */
  private unreadable(): string | undefined {
    const bad = this.informers
      .filter(([, i]) => !i.hasSynced || i.failing)
      .map(([n, i]) => `${n} ${i.hasSynced ? 'watch failing' : 'not listed yet'}`);
    return bad.length ? `the operator's cache of ${bad.join(', ')}` : undefined;
  }

  snapshot(): ClusterSnapshot | { unknown: string } {
    const why = this.unreadable();
    if (why) return { unknown: why };
    const meta = (o: KObject) => ({
      name: o.metadata?.name ?? '',
      ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}),
      ...(o.metadata?.labels ? { labels: o.metadata.labels } : {}),
      ...(o.metadata?.annotations ? { annotations: o.metadata.annotations } : {}),
    });
    return {
      namespaces: this.namespaces.list().map(meta),
      pods: this.pods.list().map(meta),
      tags: tagsFrom(this.tags.list().map(meta)),
    };
  }

  /** Who uses `revision` ('default' or '' for the default revision); in use, with the reason, when the caches cannot tell. */
  usage(revision: string, opts: ReadUsageOptions = {}): ClusterUsage {
    const snap = this.snapshot();
    if ('unknown' in snap) {
      const rev = revision === 'default' ? '' : revision;
      return {
        revision: rev,
        inUse: true,
        namespaces: [],
        pods: [],
        tags: [],
        unknown: `cannot tell whether revision ${revision || 'default'} is in use (${snap.unknown}); treating it as in use`,
      };
    }
    return usageFrom(snap, revision, opts);
  }
}
