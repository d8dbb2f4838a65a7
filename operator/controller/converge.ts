import { createHash } from 'node:crypto';
import PQueue from 'p-queue';
import type { KubeClient } from '../apply/client.js';
import { StageError } from '../apply/install.js';
import { minusRefs, readInventory, unionRefs, writeInventory } from '../apply/inventory.js';
import { byStage, STAGES, type Owner } from '../apply/owner.js';
import { prune } from '../apply/prune.js';
import { waitForCRDs } from '../apply/readiness.js';
import { refKey, refOf, Resources, type ObjectRef } from '../apply/resources.js';
import { applyObject, canonical, type ObjectResult } from '../apply/ssa.js';
import type { K8sObject } from '../render/engine.js';
import { contentHash } from './filter.js';
import type { KObject } from './informer.js';

// The apply engine's install sequence (inventory → stages → prune → inventory), with one addition only a
// long-running controller can make: objects it applied before, whose rendered form has not changed and whose
// live resourceVersion (from the watch cache) is still the one its own apply produced, are skipped without a
// single request. A steady-state reconcile then costs a handful of requests instead of two per object, and an
// edit costs requests only for the objects it changes. Anything someone else touched has a new resourceVersion,
// so it is applied (diff-checked by the engine) again: drift is never skipped.

export interface ConvergeOptions {
  owner: Owner;
  namespace: string;
  /** Live objects from the watch cache; undefined = not cached (never skipped). */
  cached: (o: ObjectRef) => KObject | undefined;
  concurrency?: number;
  crdTimeoutMs?: number;
}

export interface ConvergeResult {
  results: ObjectResult[];
  pruned: ObjectRef[];
  /** Objects skipped by the memo (no request made). */
  skipped: number;
}

const hash = (o: unknown) => createHash('sha1').update(canonical(o)).digest('base64');

export class Converger {
  /** refKey → what we last applied and the resourceVersion it produced. */
  private readonly memo = new Map<string, { hash: string; rv: string; content: string }>();
  private readonly res: Resources;

  constructor(private readonly client: KubeClient) {
    this.res = new Resources(client);
  }

  /**
   * True when a live version of `ref` is what our own last apply produced: the same resourceVersion, or the
   * same content (status and controller bookkeeping aside), so a watch event echoing our write is not drift.
   */
  producedBy(ref: ObjectRef, rv: string | undefined, content: string | undefined): boolean {
    const m = this.memo.get(refKey(ref));
    return !!m && ((!!rv && m.rv === rv) || (!!content && m.content === content));
  }

  /** Drop every memo: the next reconcile of each object compares it with the live object again. */
  forgetAll(): void {
    this.memo.clear();
  }

  forget(refs: ObjectRef[]): void {
    for (const r of refs) this.memo.delete(refKey(r));
  }

  async converge(rendered: K8sObject[], opts: ConvergeOptions): Promise<ConvergeResult> {
    const { owner } = opts;
    const objects: K8sObject[] = [];
    for (const o of rendered) {
      // Cluster-scoped kinds must not carry a namespace, or inventory keys would not match live objects.
      if (o.metadata.namespace && !(await this.res.namespaced(o.apiVersion, o.kind).catch(() => true))) {
        const { namespace: _dropped, ...metadata } = o.metadata;
        objects.push({ ...o, metadata } as K8sObject);
      } else objects.push(o);
    }
    const refs = objects.map(refOf);
    // The namespace exists if the cache holds anything in it; otherwise ask (and create it).
    if (!objects.some((o) => o.metadata.namespace === opts.namespace && opts.cached(refOf(o)))) await this.ensureNamespace(opts.namespace);

    const previous = await readInventory(this.client, opts.namespace, owner);
    await writeInventory(this.client, { owner, namespace: opts.namespace, objects: unionRefs(previous?.objects ?? [], refs) }, previous);

    const results: ObjectResult[] = [];
    let skipped = 0;
    const q = new PQueue({ concurrency: opts.concurrency ?? 8 });
    const stages = byStage(objects);
    for (let s = 0; s < stages.length; s++) {
      const stage = stages[s]!;
      if (!stage.length) continue;
      const failures: Array<{ ref: ObjectRef; error: Error }> = [];
      const appliedCRDs: string[] = [];
      await Promise.all(
        stage.map((o) =>
          q.add(async () => {
            const ref = refOf(o);
            const k = refKey(ref);
            const h = hash(o);
            const m = this.memo.get(k);
            const live = opts.cached(ref);
            if (m && m.hash === h && live?.metadata?.resourceVersion === m.rv) {
              skipped++;
              results.push({ ref, outcome: 'unchanged' });
              return;
            }
            try {
              const r = await applyObject(this.client, this.res, o);
              results.push(r);
              const rv = r.after?.metadata?.resourceVersion;
              if (rv) this.memo.set(k, { hash: h, rv, content: contentHash(r.after as KObject) });
              else this.memo.delete(k);
              if (o.kind === 'CustomResourceDefinition' && r.outcome !== 'unchanged') appliedCRDs.push(o.metadata.name);
            } catch (e) {
              this.memo.delete(k);
              failures.push({ ref, error: e as Error });
            }
          }),
        ),
      );
      if (failures.length) {
        const later = STAGES.slice(s + 1).filter((_, i) => stages[s + 1 + i]!.length);
        throw new StageError(STAGES[s]!, failures, [...later]);
      }
      if (appliedCRDs.length) await waitForCRDs(this.client, this.res, appliedCRDs, opts.crdTimeoutMs ?? 120_000);
    }

    let pruned: ObjectRef[] = [];
    if (previous) {
      const gone = minusRefs(previous.objects, refs);
      if (gone.length) {
        pruned = (await prune(this.client, this.res, gone, owner)).deleted;
        this.forget(gone);
      }
    }
    const afterUnion = { owner, namespace: opts.namespace, objects: unionRefs(previous?.objects ?? [], refs) };
    await writeInventory(this.client, { owner, namespace: opts.namespace, objects: refs }, afterUnion);
    return { results, pruned, skipped };
  }

  private async ensureNamespace(ns: string): Promise<void> {
    const live = await this.client.request('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}`, { allow404: true });
    if (live) return;
    await this.client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } }).catch((e) => {
      if ((e as { code?: number }).code !== 409) throw e;
    });
  }
}
