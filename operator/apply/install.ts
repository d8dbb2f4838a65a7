import PQueue from 'p-queue';
import type { K8sObject } from '../api/types.js';
import { type KubeClient, type RequestCounts, writesOf } from './client.js';
import { DEFAULT_ISTIO_NAMESPACE, DEFAULT_REVISION, DEFAULT_TAG, injectorWebhookName, tagWebhookName } from '../api/names.js';
import { renderRevisionTag } from '../render/revisiontag.js';
import { minusRefs, readInventory, unionRefs, writeInventory, type Inventory } from './inventory.js';
import { byStage } from './owner.js';
import { STAGES } from '../api/kinds.js';
import { prune, type PruneResult } from './prune.js';
import { crdReady, silentProgress, waitForCRDs, waitForWorkloads, type Progress } from './readiness.js';
import { refKey, refOf, refString, Resources, type ObjectRef } from './resources.js';
import { applyObject, type ObjectResult } from './ssa.js';
import { forwardOnlyShared } from './shared.js';
import { LABEL_COMPONENT, LABEL_TAG } from '../api/labels.js';
import { ownedBy, ownerLabels, type Owner } from '../api/owner.js';

// install = stages of server-side applies (only what differs) → inventory → prune → readiness.
// Nothing here renders or parses input: it takes objects and an owner, so the controller can reuse it.

export interface InstallOptions {
  owner: Owner;
  /** Namespace for the inventory and the one created at install time (the Istio namespace). */
  namespace: string;
  dryRun?: boolean;
  force?: boolean;
  wait?: boolean;
  timeoutMs?: number;
  concurrency?: number;
  progress?: Progress;
  /** Add the default revision tag objects when no default revision exists yet (istioctl install does). Default true. */
  defaultTag?: boolean;
  /** Skip pruning (diff uses this path too). */
  prune?: boolean;
  /** Called after the namespace exists, before any rendered object is applied (e.g. the CA's secrets). */
  beforeApply?: () => Promise<void>;
  /**
   * Objects the caller knows to be live exactly as rendered: the controller remembers what its last apply
   * produced and sees in its watch cache that nobody changed it since. No request is made for them (not even
   * the shared-object check); they are reported `unchanged` and stay in the inventory.
   */
  skip?: (o: K8sObject) => boolean;
  /** Each applied object's result, with the object as given to `skip` (before shared-object label decisions). */
  onApplied?: (o: K8sObject, r: ObjectResult) => void;
  /** The caller knows the namespace exists (the controller's cache holds objects in it): no request for it. */
  namespaceExists?: boolean;
}

export interface InstallResult {
  results: ObjectResult[];
  pruned: ObjectRef[];
  pruneNotes: PruneResult['skipped'];
  namespaceCreated: boolean;
  /** Shared objects left as they are because the cluster has a newer version of them. */
  sharedNotes: string[];
  /** Objects `skip` answered for (no request made; among `results` as unchanged). */
  skipped: number;
  counts: RequestCounts;
  writes: number;
}

/** A stage failed: nothing of later stages was applied. */
export class StageError extends Error {
  constructor(readonly stage: string, readonly failures: Array<{ ref: ObjectRef; error: Error }>, readonly skippedStages: string[]) {
    super(
      `stage "${stage}" failed:\n` +
        failures.map((f) => `  ${refString(f.ref)}: ${f.error.message}`).join('\n') +
        (skippedStages.length ? `\nnot applied (later stages): ${skippedStages.join(', ')}` : ''),
    );
    this.name = 'StageError';
  }
}

export async function install(client: KubeClient, rendered: K8sObject[], opts: InstallOptions): Promise<InstallResult> {
  const res = new Resources(client);
  const progress = opts.progress ?? silentProgress;
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const owner = opts.owner;
  // A client may serve many installs (the controller): report this install's requests only.
  const start = { ...client.counts };
  const objects = [...rendered];

  // Cluster-scoped kinds must not carry a namespace, or inventory keys would not match live objects.
  for (const o of objects) {
    if (!o.metadata.namespace) continue;
    const namespaced = await res.namespaced(o.apiVersion, o.kind).catch(() => true);
    if (namespaced) continue;
    const { namespace: _dropped, ...metadata } = o.metadata;
    objects[objects.indexOf(o)] = { ...o, metadata } as K8sObject;
  }

  const namespaceCreated = opts.namespaceExists ? false : await ensureNamespace(client, opts.namespace, !!opts.dryRun);
  // Runs once the namespace exists and before any rendered object: the CA writes `cacerts` here so that
  // istiod starts with it instead of on a self-signed root.
  if (opts.beforeApply) await opts.beforeApply();

  const known = new Set(opts.skip ? objects.filter(opts.skip) : []);
  const given = new Map(objects.map((o) => [refKey(refOf(o)), o]));
  // Shared objects (CRDs, Base) only move forward: an older revision's render never downgrades them (revision/shared.ts).
  const shared = await forwardOnlyShared(client, objects.filter((o) => !known.has(o)), (o) => res.path(refOf(o)));
  const decided = new Map(shared.objects.map((o) => [refKey(refOf(o)), o]));
  // The original order (stages, results), known objects included, shared ones as decided (or left out).
  objects.splice(0, objects.length, ...objects.flatMap((o) => (known.has(o) ? [o] : (decided.get(refKey(refOf(o))) ?? []))));

  if (opts.defaultTag !== false) objects.push(...(await defaultTagIfNeeded(client, objects, owner)));

  const refs = objects.map(refOf);
  const previous = await readInventory(client, opts.namespace, owner);
  // Record intent before writing anything, so a crash mid-install leaves nothing untracked.
  if (!opts.dryRun) await writeInventory(client, { owner, namespace: opts.namespace, objects: unionRefs(previous?.objects ?? [], refs) }, previous);

  const results: ObjectResult[] = [...known].map((o) => ({ ref: refOf(o), outcome: 'unchanged' as const }));
  const q = new PQueue({ concurrency: opts.concurrency ?? 8 });
  const stages = byStage(objects.filter((o) => !known.has(o)));
  for (let s = 0; s < stages.length; s++) {
    const stage = stages[s]!;
    if (!stage.length) continue;
    const failures: Array<{ ref: ObjectRef; error: Error }> = [];
    await Promise.all(
      stage.map((o) =>
        q.add(async () => {
          try {
            const r = await applyObject(client, res, o, { dryRun: !!opts.dryRun, force: !!opts.force });
            results.push(r);
            opts.onApplied?.(given.get(refKey(refOf(o))) ?? o, r);
          } catch (e) {
            failures.push({ ref: refOf(o), error: e as Error });
          }
        }),
      ),
    );
    if (failures.length) {
      const later = STAGES.slice(s + 1).filter((_, i) => stages[s + 1 + i]!.length);
      throw new StageError(STAGES[s]!, failures, [...later]);
    }
    if (STAGES[s] === 'crds' && !opts.dryRun) {
      // The apply's answer already says which CRDs are Established; only the others need polling.
      const established = new Set(results.filter((r) => r.ref.kind === 'CustomResourceDefinition' && crdReady(r.after)).map((r) => r.ref.name));
      await waitForCRDs(client, res, stage.map((o) => o.metadata.name).filter((n) => !established.has(n)), timeoutMs);
    }
  }

  let pruneResult: PruneResult = { deleted: [], skipped: [] };
  if (opts.prune !== false && previous) {
    pruneResult = await prune(client, res, minusRefs(previous.objects, refs), owner, { dryRun: !!opts.dryRun });
  }
  if (!opts.dryRun) {
    const afterUnion: Inventory = { owner, namespace: opts.namespace, objects: unionRefs(previous?.objects ?? [], refs) };
    await writeInventory(client, { owner, namespace: opts.namespace, objects: refs }, afterUnion);
  }

  if (opts.wait && !opts.dryRun) await waitInstalled(client, objects, timeoutMs, progress);

  const counts = Object.fromEntries(Object.entries(client.counts).map(([k, v]) => [k, v - start[k as keyof RequestCounts]])) as unknown as RequestCounts;
  const order = new Map(objects.map((o, i) => [refKey(refOf(o)), i]));
  results.sort((a, b) => (order.get(refKey(a.ref)) ?? 0) - (order.get(refKey(b.ref)) ?? 0));
  return {
    results,
    pruned: pruneResult.deleted,
    pruneNotes: pruneResult.skipped,
    namespaceCreated,
    sharedNotes: shared.notes,
    skipped: known.size,
    counts,
    writes: writesOf(counts),
  };
}

/**
 * Waits for every rendered Deployment to be Available and DaemonSet rolled out, reporting per component (Base has
 * no workload: ready at once).
 */
export async function waitInstalled(client: KubeClient, objects: K8sObject[], timeoutMs: number, progress: Progress = silentProgress): Promise<void> {
  const res = new Resources(client);
  const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet').map((o) => ({ ref: refOf(o), labels: o.metadata.labels ?? {} }));
  const withWorkload = new Set(workloads.map((d) => d.labels[LABEL_COMPONENT]));
  const components = [...new Set(objects.map((o) => o.metadata.labels?.[LABEL_COMPONENT]).filter((c): c is string => !!c))];
  for (const c of components.filter((c) => !withWorkload.has(c))) progress.ready(c);
  await waitForWorkloads(client, res, workloads, timeoutMs, progress);
}

/** The Istio namespace, created like istioctl does (plain, unlabelled: we never delete a namespace). */
async function ensureNamespace(client: KubeClient, ns: string, dryRun: boolean): Promise<boolean> {
  const live = await client.request('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}`, { allow404: true });
  if (live) return false;
  if (dryRun) return true;
  await client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } }).catch((e) => {
    if ((e as { code?: number }).code !== 409) throw e;
  });
  return true;
}

/**
 * Default-tag objects, when this install has an injector and the default tag of its Istio namespace is absent or
 * already ours (and no default revision serves that namespace's default tag already). Names come from the names
 * module, the ones render gives the same objects.
 */
async function defaultTagIfNeeded(client: KubeClient, objects: K8sObject[], owner: Owner): Promise<K8sObject[]> {
  const injector = findInjector(objects);
  if (!injector) return [];
  const svc = (injector.webhooks as Array<Record<string, any>> | undefined)?.[0]?.clientConfig?.service ?? {};
  const namespace: string = svc.namespace ?? DEFAULT_ISTIO_NAMESPACE;
  const tagName = tagWebhookName(DEFAULT_TAG, namespace);
  if (objects.some((o) => o.kind === 'MutatingWebhookConfiguration' && o.metadata.name === tagName)) return [];
  const live = await client.request<Record<string, any>>('GET', `${MWC}/${encodeURIComponent(tagName)}`, { allow404: true });
  if (live && !ownedBy(live.metadata?.labels, owner)) return [];
  if (!live && owner.rev !== DEFAULT_REVISION) {
    // A default revision of this namespace already serves the default tag's namespaces.
    const def = await client.request('GET', `${MWC}/${encodeURIComponent(injectorWebhookName('', namespace))}`, { allow404: true });
    if (def) return [];
  }
  const istiod = objects.find((o) => o.kind === 'Service' && o.metadata.name === svc.name && o.metadata.namespace === namespace);
  const validator = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration');
  const tag = renderRevisionTag(DEFAULT_TAG, {
    revision: owner.rev,
    namespace,
    injector,
    ...(istiod ? { serviceSelector: (istiod as any).spec?.selector } : {}),
    ...(validator ? { validationFailurePolicy: (validator as any).webhooks?.[0]?.failurePolicy } : {}),
  });
  return tag.map((o) => ({ ...o, metadata: { ...o.metadata, labels: { ...(o.metadata.labels ?? {}), ...ownerLabels(owner) } } }));
}

const MWC = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';

/** The revision's own injector webhook configuration among rendered objects (not a tag's), if pilot is rendered. */
export function findInjector(objects: K8sObject[]): K8sObject | undefined {
  return objects.find((o) => o.kind === 'MutatingWebhookConfiguration' && o.metadata.labels?.app === 'sidecar-injector' && !o.metadata.labels?.[LABEL_TAG]);
}

export function summarize(r: InstallResult): Record<'created' | 'configured' | 'unchanged' | 'replaced' | 'pruned', number> {
  const c = { created: 0, configured: 0, unchanged: 0, replaced: 0, pruned: r.pruned.length };
  for (const x of r.results) c[x.outcome]++;
  return c;
}
