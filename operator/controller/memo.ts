import { createHash } from 'node:crypto';
import { refKey, refOf, type ObjectRef } from '../apply/resources.js';
import { canonical, type ObjectResult } from '../apply/ssa.js';
import type { K8sObject } from '../api/types.js';
import { contentHash } from './filter.js';
import type { KObject } from './informer.js';

// What only a long-running controller can know: objects it applied before, whose rendered form has not changed
// and whose live resourceVersion (from the watch cache) is still the one its own apply produced, need no request
// at all (install()'s `skip`). A steady-state reconcile then costs a handful of requests instead of two per
// object, and an edit costs requests only for the objects it changes. Anything someone else touched has a new
// resourceVersion, so it is applied (diff-checked by the engine) again: drift is never skipped.

export class ApplyMemo {
  /** refKey → what we last applied and the resourceVersion it produced. */
  private readonly memo = new Map<string, { hash: string; rv: string; content: string }>();
  /** skip() and record() see the same rendered object: hash it once. */
  private readonly hashes = new WeakMap<K8sObject, string>();

  private hash(o: K8sObject): string {
    let h = this.hashes.get(o);
    if (h === undefined) this.hashes.set(o, (h = createHash('sha1').update(canonical(o)).digest('base64')));
    return h;
  }

  /** install()'s `skip`: applied by us as rendered now, and unchanged live since (`live` from the watch cache). */
  unchanged(o: K8sObject, live: KObject | undefined): boolean {
    const m = this.memo.get(refKey(refOf(o)));
    return !!m && m.hash === this.hash(o) && live?.metadata?.resourceVersion === m.rv;
  }

  /** install()'s `onApplied`. */
  record(o: K8sObject, r: ObjectResult): void {
    const k = refKey(refOf(o));
    const rv = r.after?.metadata?.resourceVersion;
    if (rv) this.memo.set(k, { hash: this.hash(o), rv, content: contentHash(r.after as KObject) });
    else this.memo.delete(k);
  }

  /** A write of ours that is not a rendered object (the inventory): remembered only so that its echo is known. */
  recordWrite(live: KObject): void {
    const md = live.metadata;
    if (!live.apiVersion || !live.kind || !md?.name || !md.resourceVersion) return;
    const ref: ObjectRef = {
      apiVersion: live.apiVersion,
      kind: live.kind,
      name: md.name,
      ...(md.namespace ? { namespace: md.namespace } : {}),
    };
    // No rendered object hashes to '': `unchanged` never skips on this entry.
    this.memo.set(refKey(ref), { hash: '', rv: md.resourceVersion, content: contentHash(live) });
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
}
