import PQueue from 'p-queue';
import type { KubeClient } from './client.js';
import { isOurCRD } from './owner.js';
import { stageIndex } from '../api/kinds.js';
import { refString, type ObjectRef, type Resources } from './resources.js';
import { LABEL_NOT_PRUNED } from '../api/labels.js';
import { ownedBy, type Owner } from '../api/owner.js';
import type { LiveCRD } from '../api/live.js';

// Deletes objects an owner applied before and no longer renders. Every candidate is read first and
// deleted only if its live labels still say it is this owner's and this revision's: the inventory says
// what we may have made, the labels prove the object is still ours (a user may have adopted it).

export interface PruneOptions {
  /** Also delete CustomResourceDefinitions (uninstall --purge only: deleting a CRD deletes every CR). */
  includeCRDs?: boolean;
  dryRun?: boolean;
  concurrency?: number;
}

export interface PruneResult {
  deleted: ObjectRef[];
  /** Not deleted, and why (not ours any more, kept by label, CRD, already gone). */
  skipped: Array<{ ref: ObjectRef; why: string }>;
}

export async function prune(
  client: KubeClient,
  res: Resources,
  candidates: ObjectRef[],
  owner: Owner,
  opts: PruneOptions = {},
): Promise<PruneResult> {
  const out: PruneResult = { deleted: [], skipped: [] };
  // Reverse stage order: webhooks go first so nothing points at a removed service, CRDs go last.
  const stages = new Map<number, ObjectRef[]>();
  for (const r of candidates) {
    const s = stageIndex(r.kind);
    stages.set(s, [...(stages.get(s) ?? []), r]);
  }
  const q = new PQueue({ concurrency: opts.concurrency ?? 8 });
  for (const s of [...stages.keys()].sort((a, b) => b - a)) {
    await q.addAll<void>(
      stages.get(s)!.map((ref) => async () => {
        if (ref.kind === 'CustomResourceDefinition' && !opts.includeCRDs)
          return void out.skipped.push({ ref, why: 'CRDs are only removed by uninstall --purge' });
        let path: string;
        try {
          path = await res.path(ref);
        } catch {
          return void out.skipped.push({ ref, why: 'kind no longer served' });
        }
        const live = await client.request<LiveCRD>('GET', path, { allow404: true });
        if (!live) return void out.skipped.push({ ref, why: 'already gone' });
        const labels = live.metadata?.labels as Record<string, string> | undefined;
        if (labels?.[LABEL_NOT_PRUNED] === 'true') return void out.skipped.push({ ref, why: `labelled ${LABEL_NOT_PRUNED}=true` });
        if (ref.kind === 'CustomResourceDefinition') {
          if (!isOurCRD(live)) return void out.skipped.push({ ref, why: 'not an Istio CRD installed by istio-operator' });
        } else if (!ownedBy(labels, owner)) return void out.skipped.push({ ref, why: 'its labels name another owner or revision' });
        if (!opts.dryRun) {
          // Precondition on uid: if the object was deleted and recreated by someone else since our read, leave it.
          await client.request('DELETE', path, {
            body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background', preconditions: { uid: live.metadata.uid } },
            allow404: true,
          });
        }
        out.deleted.push(ref);
      }),
    );
  }
  return out;
}

export function describeSkipped(r: PruneResult): string[] {
  return r.skipped.filter((s) => s.why !== 'already gone').map((s) => `kept ${refString(s.ref)}: ${s.why}`);
}
