import PQueue from 'p-queue';
import type { K8sObject } from '../api/types.js';
import { type KubeClient, type RequestCounts, writesOf } from './client.js';
import { DEFAULT_ISTIO_NAMESPACE, DEFAULT_REVISION, DEFAULT_TAG, injectorWebhookName, tagWebhookName } from '../api/names.js';
import { renderRevisionTag } from '../render/revisiontag.js';
import { listInventories, minusRefs, readInventory, unionRefs, writeInventory, type Inventory } from './inventory.js';
import { byStage, sharedBody } from './owner.js';
import { STAGES } from '../api/kinds.js';
import { prune, type PruneResult } from './prune.js';
import { crdReady, silentProgress, waitForCRDs, waitForWorkloads, type Progress } from './readiness.js';
import { refKey, refOf, refString, Resources, type ObjectRef } from './resources.js';
import { planObject, writeObject, type ObjectPlan, type ObjectResult } from './ssa.js';
import { forwardOnlyShared, isShared } from './shared.js';
import { LABEL_COMPONENT, LABEL_TAG } from '../api/labels.js';
import { OWNER_UNKNOWN, ownedBy, ownerFromLabels, ownerKey, ownerLabels, type Owner } from '../api/owner.js';
import type { LiveObject, LiveService, LiveWebhookConfiguration, ServiceReference } from '../api/live.js';

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
  /** Each write of the inventory, as the apiserver returned it: the controller tells the watch's echo of it from drift. */
  onInventoryWritten?: (live: LiveObject) => void;
  /** The caller knows the namespace exists (the controller's cache holds objects in it): no request for it. */
  namespaceExists?: boolean;
  /**
   * The owners with an install in the cluster (their inventories), for telling a conflict (an object a live
   * install owns) from an orphan (its owner is gone: adopted). Default: listed when a conflict is possible.
   */
  liveOwners?: () => Owner[];
  /** The user's IstioOperator spec, recorded in the inventory (ResolvedInstall.userSpec). */
  spec?: Record<string, unknown>;
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

/** A stage failed while writing: nothing of later stages was applied. */
export class StageError extends Error {
  constructor(
    readonly stage: string,
    readonly failures: Array<{ ref: ObjectRef; error: Error }>,
    readonly skippedStages: string[],
  ) {
    super(
      `stage "${stage}" failed:\n` +
        failures.map((f) => `  ${refString(f.ref)}: ${f.error.message}`).join('\n') +
        (skippedStages.length ? `\nnot applied (later stages): ${skippedStages.join(', ')}` : ''),
    );
    this.name = 'StageError';
  }
}

/**
 * Planning found objects the apiserver refuses (validation, admission, immutable fields) or that another install
 * owns: nothing was written, not even the namespace, the CA or the inventory.
 */
export class PlanError extends Error {
  constructor(readonly failures: Array<{ ref: ObjectRef; error: Error }>) {
    super(
      `nothing was written; ${failures.length} object(s) cannot be applied:\n` +
        failures.map((f) => `  ${refString(f.ref)}: ${f.error.message}`).join('\n'),
    );
    this.name = 'PlanError';
  }
}

/** A live object another install owns: applying ours would take it from them. */
export class OwnedElsewhereError extends Error {
  constructor(
    readonly ref: ObjectRef,
    readonly theirs: Owner,
  ) {
    super(
      `belongs to IstioOperator ${ownerKey(theirs) || OWNER_UNKNOWN} (revision ${theirs.rev}), which is still installed; ` +
        `give this install its own names (a revision, a namespace, another gateway name; a canary leaves gateways to the revision they run on: components.ingressGateways: [])` +
        `, or remove that install first`,
    );
    this.name = 'OwnedElsewhereError';
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

  const namespaceMissing =
    !opts.namespaceExists && !(await client.request('GET', `/api/v1/namespaces/${encodeURIComponent(opts.namespace)}`, { allow404: true }));
  const known = new Set(opts.skip ? objects.filter(opts.skip) : []);
  const given = new Map(objects.map((o) => [refKey(refOf(o)), o]));
  // Shared objects (CRDs, Base) only move forward: an older revision's render never downgrades them (revision/shared.ts).
  const shared = await forwardOnlyShared(
    client,
    objects.filter((o) => !known.has(o)),
    (o) => res.path(refOf(o)),
  );
  const decided = new Map(shared.objects.map((o) => [refKey(refOf(o)), o]));
  // The original order (stages, results), known objects included, shared ones as decided (or left out).
  objects.splice(0, objects.length, ...objects.flatMap((o) => (known.has(o) ? [o] : (decided.get(refKey(refOf(o))) ?? []))));

  if (opts.defaultTag !== false) objects.push(...(await defaultTagIfNeeded(client, objects, owner, opts.namespace)));

  const refs = objects.map(refOf);
  const previous = await readInventory(client, opts.namespace, owner);

  // 1. Plan every object before writing anything: the apiserver's dry-run validates each one (a bad quantity, an
  // env var name, an admission policy) and says what would change; an object another live install owns is a
  // conflict. Any failure ends the install here, with the cluster exactly as it was.
  const q = new PQueue({ concurrency: opts.concurrency ?? 8 });
  const toApply = objects.filter((o) => !known.has(o));
  const dryRunNamespace = namespaceMissing ? DRY_RUN_NAMESPACE : undefined;
  const plans = new Map<string, ObjectPlan>();
  const failures: Array<{ ref: ObjectRef; error: Error }> = [];
  // CRDs go first even in planning: an object of a kind this install creates cannot be checked before its CRD exists.
  await q.addAll(
    toApply.map((o) => async () => {
      try {
        const p = await planObject(client, res, o, {
          force: !!opts.force,
          ...(dryRunNamespace && o.metadata.namespace === opts.namespace ? { dryRunNamespace } : {}),
        });
        plans.set(refKey(p.ref), p);
      } catch (e) {
        failures.push({ ref: refOf(o), error: e as Error });
      }
    }),
  );
  const foreign = [...plans.values()].filter((p) => p.live && !isShared(p.live as K8sObject) && foreignOwner(p.live, owner));
  if (foreign.length) {
    const alive = opts.liveOwners ? opts.liveOwners() : (await listInventories(client)).map((i) => i.owner);
    for (const p of foreign) {
      const theirs = foreignOwner(p.live!, owner)!;
      // An owner with no inventory left (a deleted IstioOperator, an install removed by hand) is gone: adopt.
      if (alive.some((o) => o.name === theirs.name && o.namespace === theirs.namespace && o.rev === theirs.rev))
        failures.push({ ref: p.ref, error: new OwnedElsewhereError(p.ref, theirs) });
    }
  }
  if (failures.length) throw new PlanError(failures.sort((x, y) => refKey(x.ref).localeCompare(refKey(y.ref))));

  const results: ObjectResult[] = [...known].map((o) => ({ ref: refOf(o), outcome: 'unchanged' as const }));
  const stages = byStage(toApply);
  const planOf = (o: K8sObject) => plans.get(refKey(refOf(sharedBody(o))))!;
  if (opts.dryRun) {
    for (const o of toApply) {
      const p = planOf(o);
      results.push({ ref: p.ref, outcome: p.outcome, ...(p.live ? { live: p.live } : {}), ...(p.after ? { after: p.after } : {}) });
    }
  }

  const inventoryWritten = (live: LiveObject | undefined) => {
    if (live) opts.onInventoryWritten?.(live);
  };
  let namespaceCreated = namespaceMissing;
  // What the inventory holds: the previous one, until the intent write below replaces it.
  let stored: Inventory | undefined = previous;
  if (!opts.dryRun) {
    // 2. The namespace, then what the caller writes first (the CA's secrets: istiod must start with them), then the
    // inventory's intent, so a crash mid-install leaves nothing untracked.
    namespaceCreated = namespaceMissing && (await ensureNamespace(client, opts.namespace));
    if (opts.beforeApply) await opts.beforeApply();
    // Only when the object set grows: a changed spec alone is recorded with the final inventory (one write).
    const union = unionRefs(previous?.objects ?? [], refs);
    if (!previous || minusRefs(union, previous.objects).length) {
      inventoryWritten(
        await writeInventory(
          client,
          { owner, namespace: opts.namespace, objects: union, ...(opts.spec ? { spec: opts.spec } : {}) },
          previous,
        ),
      );
      stored = {
        owner,
        namespace: opts.namespace,
        objects: union,
        ...((opts.spec ?? previous?.spec) ? { spec: opts.spec ?? previous?.spec } : {}),
      };
    }

    // 3. Write what differs, stage by stage; CRDs must be Established before the stages that may use them.
    for (let s = 0; s < stages.length; s++) {
      const stage = stages[s]!;
      if (!stage.length) continue;
      const stageFailures: Array<{ ref: ObjectRef; error: Error }> = [];
      await Promise.all(
        stage.map((o) =>
          q.add(async () => {
            try {
              const r = await writeObject(client, res, planOf(o));
              results.push(r);
              opts.onApplied?.(given.get(refKey(refOf(o))) ?? o, r);
            } catch (e) {
              stageFailures.push({ ref: refOf(o), error: e as Error });
            }
          }),
        ),
      );
      if (stageFailures.length) {
        const later = STAGES.slice(s + 1).filter((_, i) => stages[s + 1 + i]!.length);
        throw new StageError(STAGES[s]!, stageFailures, [...later]);
      }
      if (STAGES[s] === 'crds') {
        // The apply's answer already says which CRDs are Established; only the others need polling.
        const established = new Set(
          results.filter((r) => r.ref.kind === 'CustomResourceDefinition' && crdReady(r.after)).map((r) => r.ref.name),
        );
        await waitForCRDs(
          client,
          res,
          stage.map((o) => o.metadata.name).filter((n) => !established.has(n)),
          timeoutMs,
        );
      }
    }
  }

  let pruneResult: PruneResult = { deleted: [], skipped: [] };
  if (opts.prune !== false && previous) {
    pruneResult = await prune(client, res, minusRefs(previous.objects, refs), owner, { dryRun: !!opts.dryRun });
  }
  if (!opts.dryRun) {
    const spec = opts.spec ?? previous?.spec;
    inventoryWritten(await writeInventory(client, { owner, namespace: opts.namespace, objects: refs, ...(spec ? { spec } : {}) }, stored));
  }

  if (opts.wait && !opts.dryRun) await waitInstalled(client, objects, timeoutMs, progress);

  const counts = Object.fromEntries(
    Object.entries(client.counts).map(([k, v]) => [k, v - start[k as keyof RequestCounts]]),
  ) as unknown as RequestCounts;
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

/** Where creations into a namespace that does not exist yet are dry-run: one that always exists. */
const DRY_RUN_NAMESPACE = 'default';

/**
 * The owner a live object's labels name, when it is another install: another IstioOperator, or another revision of
 * an unnamed one (two `install --set revision=...` from the command line are two installs). One IstioOperator moving
 * to a new revision takes its own objects (gateways) along: that is not a conflict.
 */
function foreignOwner(live: LiveObject, owner: Owner): Owner | undefined {
  const theirs = ownerFromLabels(live.metadata?.labels);
  if (!theirs) return undefined;
  const sameIop = theirs.name === owner.name && theirs.namespace === owner.namespace;
  if (sameIop && (theirs.rev === owner.rev || owner.name !== OWNER_UNKNOWN)) return undefined;
  return theirs;
}

/**
 * Waits for every rendered Deployment to be Available and DaemonSet rolled out, reporting per component (Base has
 * no workload: ready at once).
 */
export async function waitInstalled(
  client: KubeClient,
  objects: K8sObject[],
  timeoutMs: number,
  progress: Progress = silentProgress,
): Promise<void> {
  const res = new Resources(client);
  const workloads = objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet')
    .map((o) => ({ ref: refOf(o), labels: o.metadata.labels ?? {} }));
  const withWorkload = new Set(workloads.map((d) => d.labels[LABEL_COMPONENT]));
  const components = [...new Set(objects.map((o) => o.metadata.labels?.[LABEL_COMPONENT]).filter((c): c is string => !!c))];
  for (const c of components.filter((c) => !withWorkload.has(c))) progress.ready(c);
  await waitForWorkloads(client, res, workloads, timeoutMs, progress);
}

/** The Istio namespace, created like istioctl does (plain, unlabelled: we never delete a namespace). */
async function ensureNamespace(client: KubeClient, ns: string): Promise<boolean> {
  let created = true;
  await client
    .request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } })
    .catch((e) => {
      if ((e as { code?: number }).code !== 409) throw e;
      created = false;
    });
  return created;
}

/**
 * Default-tag objects, when this install has an injector and the default tag of its Istio namespace is absent or
 * already ours (and no default revision serves that namespace's default tag already). Names come from the names
 * module, the ones render gives the same objects. The Istio namespace is the one istiod's webhook Service is in;
 * an injector called by URL (a config cluster of an external istiod) has none: then it is the install's.
 */
export async function defaultTagIfNeeded(
  client: KubeClient,
  objects: K8sObject[],
  owner: Owner,
  installNamespace?: string,
): Promise<K8sObject[]> {
  const injector = findInjector(objects);
  if (!injector) return [];
  const svc: Partial<ServiceReference> = injector.webhooks?.[0]?.clientConfig?.service ?? {};
  const namespace: string = svc.namespace ?? installNamespace ?? DEFAULT_ISTIO_NAMESPACE;
  const tagName = tagWebhookName(DEFAULT_TAG, namespace);
  if (objects.some((o) => o.kind === 'MutatingWebhookConfiguration' && o.metadata.name === tagName)) return [];
  const live = await client.request('GET', `${MWC}/${encodeURIComponent(tagName)}`, { allow404: true });
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
    ...(istiod ? { serviceSelector: (istiod as LiveService).spec?.selector } : {}),
    ...(validator ? { validationFailurePolicy: (validator as LiveWebhookConfiguration).webhooks?.[0]?.failurePolicy } : {}),
    ...((validator as LiveWebhookConfiguration | undefined)?.webhooks?.[0]?.clientConfig?.url
      ? { validationURL: (validator as LiveWebhookConfiguration).webhooks![0]!.clientConfig!.url }
      : {}),
  });
  // The default validator is one per cluster, not per Istio namespace: another mesh's stays theirs (this install
  // gets its namespace's default injection only), instead of refusing an addition the user never asked for.
  const kept: K8sObject[] = [];
  for (const o of tag) {
    if (o.kind === 'ValidatingWebhookConfiguration') {
      const other = await client.request('GET', `${VWC}/${encodeURIComponent(o.metadata.name)}`, { allow404: true });
      if (other && !ownedBy(other.metadata?.labels, owner)) continue;
    }
    kept.push({ ...o, metadata: { ...o.metadata, labels: { ...(o.metadata.labels ?? {}), ...ownerLabels(owner) } } });
  }
  return kept;
}

const VWC = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations';
const MWC = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';

/** The revision's own injector webhook configuration among rendered objects (not a tag's), if pilot is rendered. */
export function findInjector(objects: K8sObject[]): (K8sObject & LiveWebhookConfiguration) | undefined {
  return objects.find(
    (o) => o.kind === 'MutatingWebhookConfiguration' && o.metadata.labels?.app === 'sidecar-injector' && !o.metadata.labels?.[LABEL_TAG],
  ) as (K8sObject & LiveWebhookConfiguration) | undefined;
}

export function summarize(r: InstallResult): Record<'created' | 'configured' | 'unchanged' | 'replaced' | 'pruned', number> {
  const c = { created: 0, configured: 0, unchanged: 0, replaced: 0, pruned: r.pruned.length };
  for (const x of r.results) c[x.outcome]++;
  return c;
}
