import type { K8sObject } from '../api/types.js';
import { ApiError, type KubeClient } from './client.js';
import { FIELD_MANAGER, sharedBody } from './owner.js';
import { certainlyUnchanged } from './precheck.js';
import { refOf, refString, type ObjectRef, type Resources } from './resources.js';
import type { LiveObject, Webhook } from '../api/live.js';

// Server-side apply of one rendered object, writing only when the result would differ from what is live.
//
// force=true, always (as istioctl does): the body carries only the fields we render, so forcing takes
// ownership of exactly those fields and nothing else. A conflict means someone changed a field the
// IstioOperator declares; the IstioOperator is the source of truth for it, and without force a single
// `kubectl edit` would wedge every later install. Fields we do not render stay with their managers.
//
// "Only what differs": for an existing object we ask the apiserver what the apply would produce
// (dryRun=All: same defaulting, same merge, no write) and compare it with the live object, ignoring
// bookkeeping (managedFields, resourceVersion, generation, timestamps). Equal → no write. This is exact
// by construction (it is the apiserver's own merge), unlike a client-side guess of SSA semantics.
// Before that, precheck.ts proves the common no-op case from the live object's managedFields alone
// (no dry-run); whatever it cannot prove goes to the dry-run.

export type Outcome = 'created' | 'configured' | 'unchanged' | 'replaced';

export interface ObjectResult {
  ref: ObjectRef;
  outcome: Outcome;
  /** Live object before (absent when created). */
  live?: LiveObject;
  /** What the object is (or, in dry-run, would be) after the apply. */
  after?: LiveObject;
}

export interface SsaOptions {
  /** Compute outcomes only: no real writes (dry-run requests still go out). */
  dryRun?: boolean;
  /** Replace (delete + create) an object whose change touches an immutable field. */
  force?: boolean;
  /** How long to wait for a replaced object to be gone. */
  deleteTimeoutMs?: number;
  /** Always ask the apiserver (dry-run) instead of trusting the managedFields pre-check. */
  noPrecheck?: boolean;
}

/** A change the apiserver refuses because a field cannot change after creation. */
export class ImmutableFieldError extends Error {
  constructor(
    readonly ref: ObjectRef,
    readonly fields: string[],
    detail: string,
  ) {
    super(
      `${refString(ref)}: cannot change immutable field${fields.length > 1 ? 's' : ''} ${fields.join(', ') || '(unknown)'} (${detail}); ` +
        `rerun with --force to delete and recreate this object`,
    );
    this.name = 'ImmutableFieldError';
  }
}

export function immutableFields(e: unknown): string[] | undefined {
  if (!(e instanceof ApiError) || e.code !== 422) return undefined;
  const re = /immutable|may not change once set|cannot be changed|field is not mutable/i;
  const causes = e.status?.details?.causes ?? [];
  const hits = causes.filter((c) => re.test(c.message ?? '')).map((c) => c.field ?? '');
  if (hits.length) return [...new Set(hits.filter(Boolean))];
  return re.test(e.message) ? [] : undefined;
}

const BOOKKEEPING = ['managedFields', 'resourceVersion', 'generation', 'creationTimestamp', 'uid', 'selfLink'];

/** The object minus what changes without a change of meaning. */
export function comparable(o: LiveObject | undefined): LiveObject | undefined {
  if (!o) return o;
  const c = structuredClone(o);
  for (const k of BOOKKEEPING) if (c.metadata) Reflect.deleteProperty(c.metadata, k);
  return c;
}

/** Deterministic JSON (sorted keys) so equal objects compare equal as strings. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(
          Object.keys(val)
            .sort()
            .map((k) => [k, val[k]]),
        )
      : val,
  );
}

export function sameObject(a: LiveObject | undefined, b: LiveObject | undefined): boolean {
  return canonical(comparable(a)) === canonical(comparable(b));
}

/** Our Apply entry's field set. */
function ownedFields(o: LiveObject): string {
  const e = (o.metadata?.managedFields ?? []).filter((m) => m.manager === FIELD_MANAGER && m.operation === 'Apply' && !m.subresource);
  return canonical(e.map((m) => m.fieldsV1 ?? {}));
}

/**
 * Same fields owned by us before and after. Equal values but different ownership (objects created by
 * kubectl or istioctl, fields another manager took) still need one apply, so that we own what we render:
 * only then does dropping a field from the render remove it from the cluster. Once adopted, installs are
 * no-ops again.
 */
export function sameOwnership(live: LiveObject, would: LiveObject): boolean {
  return ownedFields(live) === ownedFields(would);
}

/** The apply body: the rendered object alone, never merged with anything read from the cluster. */
export function applyBody(o: K8sObject): string {
  return JSON.stringify(o);
}

async function patchApply(client: KubeClient, path: string, o: K8sObject, dryRun: boolean): Promise<LiveObject> {
  const r = await client.request('PATCH', path, {
    query: { fieldManager: FIELD_MANAGER, force: 'true', ...(dryRun ? { dryRun: 'All' } : {}) },
    body: applyBody(o),
    contentType: 'application/apply-patch+yaml',
  });
  return r!;
}

/**
 * What applying one object would do, found without writing: the live object (GET) and, unless the managedFields
 * pre-check proves the apply a no-op, the apiserver's own dry-run of the apply (its validation, defaulting and
 * admission included). `write` then carries the decision out. Every object of an install is planned before any
 * is written, so an object the apiserver refuses stops the install with nothing written.
 */
export interface ObjectPlan {
  ref: ObjectRef;
  /** The body to apply (shared objects without an owner, runtime fields yielded). */
  body: K8sObject;
  path: string;
  outcome: Outcome;
  live?: LiveObject;
  /** What the apply produces (dry-run), or the body when the kind is not served yet (its CRD comes first). */
  after?: LiveObject;
}

export interface PlanOptions {
  /** Replace (delete + create) an object whose change touches an immutable field, instead of refusing. */
  force?: boolean;
  /** Always ask the apiserver (dry-run) instead of trusting the managedFields pre-check. */
  noPrecheck?: boolean;
  /**
   * The object's namespace does not exist yet (created before the writes): the creation is dry-run in this
   * namespace instead, which exists, so the apiserver still validates the object itself.
   */
  dryRunNamespace?: string;
}

async function dryRunPath(res: Resources, ref: ObjectRef, ns: string | undefined): Promise<string> {
  return ns && ref.namespace ? res.path({ ...ref, namespace: ns }) : res.path(ref);
}

export async function planObject(client: KubeClient, res: Resources, rendered: K8sObject, opts: PlanOptions = {}): Promise<ObjectPlan> {
  // Shared objects (CRDs) are applied without one owner's identity; see owner.ts.
  const o = sharedBody(rendered);
  const ref = refOf(o);
  let path: string;
  try {
    if (!(await res.namespaced(o.apiVersion, o.kind))) delete ref.namespace;
    path = await res.path(ref);
  } catch {
    // The kind is not served yet: its CRD is part of this install and comes first. Nothing to check against.
    return { ref, body: o, path: '', outcome: 'created', after: o };
  }
  const live = opts.dryRunNamespace ? undefined : await client.request('GET', path, { allow404: true });
  if (!live) {
    const ns = opts.dryRunNamespace;
    const probe = ns && ref.namespace ? { ...o, metadata: { ...o.metadata, namespace: ns } } : o;
    const after = await patchApply(client, await dryRunPath(res, ref, ns), probe, true);
    return { ref, body: o, path, outcome: 'created', after };
  }
  const body = yieldRuntimeFields(o, live);
  if (!opts.noPrecheck && certainlyUnchanged(body, live)) return { ref, body, path, outcome: 'unchanged', live, after: live };
  let would: LiveObject;
  try {
    would = await patchApply(client, path, body, true);
  } catch (e) {
    const fields = immutableFields(e);
    if (fields === undefined) throw e;
    if (!opts.force) throw new ImmutableFieldError(ref, fields, (e as Error).message.replace(/^.*?: /, ''));
    return { ref, body, path, outcome: 'replaced', live, after: body };
  }
  if (sameObject(live, would) && sameOwnership(live, would)) return { ref, body, path, outcome: 'unchanged', live, after: live };
  return { ref, body, path, outcome: 'configured', live, after: would };
}

/** Carries out a plan: nothing for unchanged objects, one apply otherwise (a replacement deletes first). */
export async function writeObject(
  client: KubeClient,
  res: Resources,
  p: ObjectPlan,
  opts: { deleteTimeoutMs?: number } = {},
): Promise<ObjectResult> {
  const base = { ref: p.ref, outcome: p.outcome, ...(p.live ? { live: p.live } : {}) };
  if (p.outcome === 'unchanged') return { ...base, ...(p.after ? { after: p.after } : {}) };
  // A kind that was not served at plan time (its CRD was created since) has its path only now.
  const path = p.path || (await res.path(p.ref));
  if (p.outcome === 'replaced') await deleteAndWait(client, path, opts.deleteTimeoutMs ?? 120_000, p.ref);
  return { ...base, after: await patchApply(client, path, p.body, false) };
}

/** Plan and write one object (revision tags are applied one by one, outside an install). */
export async function applyObject(client: KubeClient, res: Resources, rendered: K8sObject, opts: SsaOptions = {}): Promise<ObjectResult> {
  const p = await planObject(client, res, rendered, {
    ...(opts.force ? { force: true } : {}),
    ...(opts.noPrecheck ? { noPrecheck: true } : {}),
  });
  if (opts.dryRun) return { ref: p.ref, outcome: p.outcome, ...(p.live ? { live: p.live } : {}), ...(p.after ? { after: p.after } : {}) };
  return writeObject(client, res, p, opts.deleteTimeoutMs !== undefined ? { deleteTimeoutMs: opts.deleteTimeoutMs } : {});
}

/**
 * Fields Istio sets at runtime, which we render only as a starting value: istiod switches its validating
 * webhooks from failurePolicy Ignore to Fail once it serves. Forcing our Ignore back on every install would
 * undo that, and an operator reconciling on every change would fight istiod forever. So once another
 * manager owns such a field, our body leaves it out (and with it our claim to it).
 */
export function yieldRuntimeFields(o: K8sObject, live: LiveObject): K8sObject {
  if (o.kind !== 'ValidatingWebhookConfiguration' || !Array.isArray(o.webhooks)) return o;
  const others = (live.metadata?.managedFields ?? []).filter((m) => m.manager !== FIELD_MANAGER);
  const theirs = (name: string) => others.some((m) => m.fieldsV1?.['f:webhooks']?.[`k:${JSON.stringify({ name })}`]?.['f:failurePolicy']);
  let changed = false;
  const webhooks = (o.webhooks as Webhook[]).map((w) => {
    if (w.failurePolicy === undefined || !theirs(String(w.name))) return w;
    changed = true;
    const { failurePolicy: _runtime, ...rest } = w;
    return rest;
  });
  return changed ? { ...o, webhooks } : o;
}

/** Deletes and waits until the name is free, so the following create does not race the old object. */
export async function deleteAndWait(client: KubeClient, path: string, timeoutMs: number, ref: ObjectRef): Promise<void> {
  await client.request('DELETE', path, {
    body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
    allow404: true,
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cur = await client.request('GET', path, { allow404: true });
    if (!cur) return;
    if (Date.now() > deadline) {
      const fin = cur.metadata?.finalizers?.length ? ` (finalizers: ${cur.metadata.finalizers.join(', ')})` : '';
      throw new Error(`${refString(ref)} is still being deleted after ${Math.round(timeoutMs / 1000)}s${fin}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
