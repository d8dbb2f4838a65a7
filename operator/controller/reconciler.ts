// Over 500 lines by choice: one reconcile and the steps it calls (prepare, apply, settle, retire, finalize) in order.
import { InputError, formatIssue, type FieldIssue } from '../api/errors.js';
import { ownerFromLabels, ownerKey, sameIstioOperator, type Owner } from '../api/owner.js';
import { isProfilePath } from '../api/profiles.js';
import { resolveParsed } from '../api/resolve.js';
import { API_VERSION, KIND, type IstioOperator, type IstioOperatorStatus, type K8sObject } from '../api/types.js';
import { ApiError, resourcePath, UnreachableError, type KubeClient } from '../apply/client.js';
import { PlanError, StageError } from '../apply/install.js';
import { FIELD_MANAGER } from '../apply/owner.js';
import { listInventories, type Inventory } from '../apply/inventory.js';
import { componentReadiness, type ComponentReadiness, type Live } from '../apply/objectready.js';
import type { List, LivePod } from '../api/live.js';
import { refOf, refString, Resources, type ObjectRef } from '../apply/resources.js';
import { uninstall } from '../apply/uninstall.js';
import { isShared } from '../apply/shared.js';
import { CaSecretError, EVENT_CA_INVALID, eventReason, type CaResult, type CaStatus } from '../ca/types.js';
import { applyInstall, prepareInstall, type PreparedInstall } from '../install/workflow.js';
import { describeRemote, remoteHint } from '../install/remote.js';
import { readUsage, type ClusterUsage, type ReadUsageOptions } from '../revision/cluster.js';
import { describeUsage } from '../revision/usage.js';
import type { EventRecorder } from './events.js';
import type { KObject } from './informer.js';
import type { LogFn } from './log.js';
import { ApplyMemo } from './memo.js';
import type { HandlerResult } from './queue.js';
import { computeStatus, IOP_GROUP, IOP_RESOURCE, IOP_VERSION, writeStatus, type Outcome } from './status.js';

// reconcile(key) = read → (paused?) → finalizer → resolve → render → apply what differs → prune → readiness → status.
// Every step's failure ends in a status and an Event, never in a half-written spec: the controller writes only
// the status subresource and its own finalizer on the IstioOperator.

export const FINALIZER = 'install.istio.io/istio-operator';
export const IGNORE_ANNOTATION = 'install.istio.io/ignoreReconcile';
/** While components come up, re-check readiness this often (Deployment watch events usually come first). */
export const READINESS_RECHECK_MS = 5_000;
/** While a deletion is blocked by users of the revision, look again this often. */
export const IN_USE_RECHECK_MS = 30_000;

export interface ReconcileResult extends HandlerResult {
  /** What happened, for metrics and tests. */
  action: 'gone' | 'paused' | 'invalid' | 'applied' | 'deleted' | 'blocked' | 'error' | 'untrusted';
  /** Write requests during this reconcile (exact with one reconcile at a time; others' writes add in when parallel). */
  writes: number;
  status?: string;
  /** Objects created/configured/replaced/pruned, as `outcome Kind ns/name`. */
  changed?: string[];
}

export interface ReconcilerDeps {
  /** The controller's own requests (IstioOperator reads, status, finalizers, readiness GETs). */
  kube: KubeClient;
  /** The apply engine's client; its request counts measure writes. */
  client: KubeClient;
  events: EventRecorder;
  log: LogFn;
  /** Live owned objects from the informers, when available (avoids GETs for readiness). */
  ownedCache?: (apiVersion: string, kind: string, namespace: string | undefined, name: string) => KObject | undefined;
  now?: () => Date;
  /** Whether an IstioOperator with this key exists and is not being deleted (from the watch cache). */
  iopExists?: (key: string) => boolean;
  /** Inventory ConfigMaps from the watch cache (labels only), to notice revisions an IstioOperator left behind. */
  inventories?: () => KObject[];
  /** Who uses a revision, from watch caches (controller/usagecache.ts); without it, the cluster is listed. */
  usage?: (revision: string, opts: ReadUsageOptions) => ClusterUsage;
  /**
   * Namespaces whose IstioOperators are acted on. Writing an IstioOperator is cluster-admin-equivalent (it chooses
   * images, webhooks and RBAC the operator applies with its own rights), so anywhere else the operator writes
   * nothing but a status saying why. Undefined: every watched namespace (in-process use and tests).
   */
  trustedNamespaces?: string[];
}

type Log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, f?: Record<string, unknown>) => void;

function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export function iopPath(namespace: string, name?: string): string {
  return resourcePath(IOP_GROUP, IOP_VERSION, IOP_RESOURCE, namespace || undefined, name);
}

/** The IstioOperator as resolve's input; a profile path would read the operator's own filesystem, so it is refused. */
export function resolveFromCluster(iop: IstioOperator) {
  const profile = iop.spec?.profile;
  if (typeof profile === 'string' && isProfilePath(profile)) {
    throw new InputError([
      {
        path: 'spec.profile',
        message: `a profile path ("${profile}") cannot be read by the in-cluster operator`,
        hint: 'use a built-in profile name such as default, demo or minimal',
      },
    ]);
  }
  const input: IstioOperator = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: iop.metadata?.name, namespace: iop.metadata?.namespace },
    spec: structuredClone(iop.spec ?? {}),
  };
  return resolveParsed([input], []);
}

/** Failures that go away by themselves (the apiserver restarting, an optimistic-lock conflict, throttling). */
function isTransient(e: unknown): boolean {
  if (e instanceof UnreachableError) return true;
  if (e instanceof ApiError) return e.code >= 500 || e.code === 409 || e.code === 429;
  return !(e instanceof InputError);
}

/** A refusal of the operator's own rights (403), directly or behind a plan or stage failure. */
function isForbidden(e: unknown): boolean {
  if (e instanceof ApiError) return e.code === 403;
  if (e instanceof PlanError || e instanceof StageError) return e.failures.some((f) => isForbidden(f.error));
  return false;
}

function issuesText(e: InputError): string {
  return e.issues.map((i: FieldIssue) => formatIssue(i)).join('; ');
}

/** Why a reconcile stopped before applying: its status, event and retry. */
class Halt {
  constructor(
    readonly outcome: Outcome,
    readonly reason: string,
    readonly action: ReconcileResult['action'],
    readonly requeueAfterMs?: number,
  ) {}
}

/** One reconcile's shared state and exits (Reconciler.begin). */
interface Run {
  key: string;
  iop: IstioOperator;
  log: Log;
  /** Status fields carried into every status write: set by this reconcile's steps, else the last status's. */
  kept: { ca?: CaStatus | IstioOperatorStatus['ca']; istio?: IstioOperatorStatus['istio']; remote?: IstioOperatorStatus['remote'] };
  done(r: Omit<ReconcileResult, 'writes'>): ReconcileResult;
  setStatus(o: Outcome): Promise<string | undefined>;
  halt(h: Halt, eventMessage?: string): Promise<ReconcileResult>;
  failed(e: unknown, what: string): Promise<ReconcileResult>;
  ownWrite(): void;
}

type Applied = Awaited<ReturnType<typeof applyInstall>>;

export class Reconciler {
  readonly stats = { reconciles: 0, errors: 0, writes: 0, applied: 0, pruned: 0 };
  /** IstioOperators whose last reconcile the apiserver refused for want of rights (key → message): /readyz is false
   * while any is, since open watches keep streaming after RBAC is taken away and would say nothing. */
  readonly forbidden = new Map<string, string>();
  /** What our applies produced, so unchanged objects are skipped and our own watch echoes are not drift. */
  private readonly memo = new ApplyMemo();
  /** Paths of what readiness reads (objects a webhook calls through may be of kinds the table does not list). */
  private readonly resources: Resources;
  constructor(private readonly d: ReconcilerDeps) {
    this.resources = new Resources(d.kube);
  }

  /**
   * The periodic resync is the safety net for watch events that never arrived; it must not trust the watch
   * cache, so before it the apply memo is dropped and every object is compared with the live one again.
   */
  verifyEverythingNextTime(): void {
    this.memo.forgetAll();
  }

  /** A watch event for an owned object that only echoes our own apply. */
  isOwnWrite(o: KObject): boolean {
    const md = o.metadata ?? {};
    if (!o.apiVersion || !o.kind || !md.name) return false;
    return this.memo.producedBy(
      { apiVersion: o.apiVersion, kind: o.kind, name: md.name, ...(md.namespace ? { namespace: md.namespace } : {}) },
      md.resourceVersion,
      (o as { _contentHash?: string })._contentHash,
    );
  }

  private now(): Date {
    return this.d.now?.() ?? new Date();
  }

  private writesSoFar(): number {
    const c = this.d.client.counts;
    return c.create + c.patch + c.update + c.delete;
  }

  /** reconcile(key) = read → (untrusted? deleting? paused?) → finalizer → install workflow → readiness → status. */
  async reconcile(key: string): Promise<ReconcileResult> {
    this.stats.reconciles++;
    const before = this.writesSoFar();
    const { namespace, name } = splitKey(key);
    const iop = await this.d.kube.request<IstioOperator>('GET', iopPath(namespace, name), { allow404: true });
    if (!iop) return this.begin(key, undefined, before).done({ action: 'gone' });
    const run = this.begin(key, iop, before);
    const trusted = this.d.trustedNamespaces;
    if (trusted && !trusted.includes(namespace)) return this.refuseUntrusted(run, namespace, trusted);
    if (iop.metadata?.deletionTimestamp) {
      if (!iop.metadata.finalizers?.includes(FINALIZER)) return run.done({ action: 'gone' });
      return run.done(await this.finalize(iop, key, run.log, run.setStatus, run.ownWrite));
    }
    if (iop.metadata?.annotations?.[IGNORE_ANNOTATION] === 'true') {
      run.log('debug', 'reconcile paused by annotation', { annotation: IGNORE_ANNOTATION });
      return run.done({ action: 'paused' });
    }
    if (!iop.metadata?.finalizers?.includes(FINALIZER)) {
      await this.setFinalizers(iop, [...(iop.metadata?.finalizers ?? []), FINALIZER]);
      run.ownWrite();
    }
    let p: PreparedInstall;
    try {
      p = await this.prepare(iop);
    } catch (e) {
      return e instanceof Halt ? run.halt(e) : run.failed(e, 'preparing the install');
    }
    run.kept.ca = p.ca.status ?? run.kept.ca;
    run.kept.remote = p.remote;
    const started = Date.now();
    const applied = await this.applyPrepared(run, p);
    if ('action' in applied) return applied;
    run.kept.ca = applied.ca.status ?? run.kept.ca;
    run.kept.istio = { release: p.install.release.line, version: p.install.version };
    const changed = await this.report(iop, applied.apply, started, run.log);
    return this.settle(run, p, this.caRecheck(applied.ca), changed);
  }

  /** What the steps of one reconcile share: its log, the status fields it keeps, and how it ends. */
  private begin(key: string, iop: IstioOperator | undefined, writesBefore: number): Run {
    let ownWrites = 0;
    const kept: Run['kept'] = { ca: iop?.status?.ca, istio: iop?.status?.istio, remote: iop?.status?.remote };
    const done = (r: Omit<ReconcileResult, 'writes'>): ReconcileResult => {
      const writes = this.writesSoFar() - writesBefore + ownWrites;
      this.stats.writes += writes;
      if (r.action === 'applied' || r.action === 'gone' || r.action === 'untrusted') this.forbidden.delete(key);
      return { ...r, writes };
    };
    const log: Log = (level, msg, f = {}) => this.d.log(level, msg, { istiooperator: key, generation: iop?.metadata?.generation, ...f });
    const setStatus = async (o: Outcome) => {
      const next = computeStatus(iop!.status, iop!.metadata?.generation, o, this.now());
      if (kept.ca) next.ca = kept.ca;
      if (kept.istio) next.istio = kept.istio;
      if (kept.remote) next.remote = kept.remote;
      if (await writeStatus(this.d.kube, iop!, next)) ownWrites++;
      return next.status;
    };
    const halt = async (h: Halt, eventMessage = 'message' in h.outcome ? h.outcome.message : '') => {
      log('warn', h.reason, { message: eventMessage });
      const status = await setStatus(h.outcome);
      await this.d.events.emit(iop!, 'Warning', h.reason, eventMessage);
      return done({ action: h.action, status, ...(h.requeueAfterMs !== undefined ? { requeueAfterMs: h.requeueAfterMs } : {}) });
    };
    // Any other failure still reaches the status and an Event (a Forbidden read of the CA secret used to reach only
    // the log, with the status left HEALTHY): transient ones are retried with backoff, the rest looked at again later.
    const failed = async (e: unknown, what: string) => {
      this.stats.errors++;
      const transient = isTransient(e);
      const msg = `${what} failed, nothing more was done: ${(e as Error).message.replace(/\n\s*/g, '; ')}`;
      if (isForbidden(e)) this.forbidden.set(key, msg);
      log('error', `${what} failed`, { error: (e as Error).message, transient });
      const status = await setStatus({ kind: 'applyFailed', message: msg, retrying: transient });
      await this.d.events.emit(iop!, 'Warning', transient ? 'ReconcileRetrying' : 'ReconcileFailed', msg);
      if (transient) throw e; // the queue retries with backoff
      return done({ action: 'error', status, requeueAfterMs: IN_USE_RECHECK_MS });
    };
    return { key, iop: iop!, log, kept, done, setStatus, halt, failed, ownWrite: () => void ownWrites++ };
  }

  /** Outside the trusted namespaces: not even a finalizer, nothing of ours hangs on an object we may not act for. */
  private async refuseUntrusted(run: Run, namespace: string, trusted: string[]): Promise<ReconcileResult> {
    const msg = `namespace "${namespace}" is not trusted by this operator, nothing was done: writing an IstioOperator is cluster-admin-equivalent; the operator acts on IstioOperators in ${trusted.join(', ')} (its --trusted-namespaces)`;
    const was = run.iop.status?.status; // before setStatus, which updates iop.status in place
    const status = await run.setStatus({ kind: 'untrusted', message: msg });
    if (was !== status) await this.d.events.emit(run.iop, 'Warning', 'UntrustedNamespace', msg);
    return run.done({ action: 'untrusted', status });
  }

  /** The install workflow (shared with the CLI) on what prepare made; a refusal or failure ends the reconcile. */
  private async applyPrepared(run: Run, p: PreparedInstall): Promise<Applied | ReconcileResult> {
    try {
      const cached = (o: K8sObject) => {
        const r = refOf(o);
        return this.d.ownedCache?.(r.apiVersion, r.kind, r.namespace, r.name);
      };
      const applied = await applyInstall(this.d.client, p, {
        now: this.now(),
        // No default revision tag: the operator installs what the IstioOperator says, nothing implied.
        defaultTag: false,
        timeoutMs: 120_000,
        // The namespace exists if the cache holds anything in it; otherwise install asks (and creates it).
        namespaceExists: p.objects.some((o) => o.metadata.namespace === p.install.istioNamespace && !!cached(o)),
        skip: (o) => this.memo.unchanged(o, cached(o)),
        onApplied: (o, r) => this.memo.record(o, r),
        onInventoryWritten: (live) => this.memo.recordWrite(live as KObject),
        ...(this.d.inventories
          ? {
              liveOwners: () =>
                this.d.inventories!()
                  .map((cm) => ownerFromLabels(cm.metadata?.labels))
                  .filter((o): o is Owner => !!o),
            }
          : {}),
        onCaWritten: async (ca) => {
          const reason = eventReason(ca.outcome);
          if (!reason) return;
          run.log('info', 'CA updated', { outcome: ca.outcome, written: ca.written, restarted: ca.restarted });
          await this.d.events.emit(run.iop, 'Normal', reason, ca.message);
        },
      });
      this.memo.forget([...applied.apply.pruned, ...applied.apply.pruneNotes.map((n) => n.ref)]);
      return applied;
    } catch (e) {
      if (e instanceof PlanError) {
        if (isForbidden(e)) this.forbidden.set(run.key, e.message);
        // Nothing was written: a spec the apiserver refuses, or objects another install owns. Looked at again
        // later (a conflict may resolve), without the backoff storm of a transient failure.
        const message = `apply refused, ${e.message.replace(/\n\s*/g, '; ')}`;
        return run.halt(new Halt({ kind: 'applyFailed', message }, 'ApplyRefused', 'error', IN_USE_RECHECK_MS));
      }
      if (e instanceof StageError) this.memo.forget(e.failures.map((f) => f.ref));
      return run.failed(e, 'applying');
    }
  }

  /** After an apply: readiness, retiring a revision this IstioOperator left, in-use, and the status saying so. */
  private async settle(run: Run, p: PreparedInstall, caRecheckMs: number | undefined, changed: string[]): Promise<ReconcileResult> {
    // Readiness, without blocking a worker: report what is not ready and look again later.
    let components: Record<string, ComponentReadiness>;
    try {
      components = await this.readiness(p);
    } catch (e) {
      return run.failed(e, 'reading readiness');
    }
    const allReady = Object.values(components).every((c) => c.ready);
    const prev = run.iop.status?.status;
    const updating = !allReady && (prev === 'HEALTHY' || prev === 'UPDATING');
    // A revision this IstioOperator installed before (spec.revision changed: a canary upgrade) goes once the
    // new one is ready and nothing uses the old one any more; until then it stays, and the status says why.
    const notes: string[] = p.remote ? [describeRemote(p.remote)] : [];
    let recheck = allReady ? undefined : READINESS_RECHECK_MS;
    if (allReady) {
      const r = await this.retireOldRevisions(run.iop, p.install.owner, run.log);
      if (r.kept) notes.push(r.kept);
      if (r.kept) recheck = IN_USE_RECHECK_MS;
      if (r.removed.length) this.stats.pruned += r.removed.length;
    }
    if (caRecheckMs !== undefined) recheck = Math.min(recheck ?? caRecheckMs, caRecheckMs);
    const usage = await this.usage(p.install.owner.rev, { exceptOwner: p.install.owner });
    const note = notes.join('; ');
    const status = await run.setStatus({
      kind: 'applied',
      components,
      updating,
      inUse: { inUse: usage.inUse, message: describeUsage(usage) },
      ...(note ? { note } : {}),
    });
    return run.done({ action: 'applied', status, changed, ...(recheck !== undefined ? { requeueAfterMs: recheck } : {}) });
  }

  /** Resolve, render and check the CA (nothing written), then make sure no other IstioOperator owns what we would apply. */
  private async prepare(iop: IstioOperator): Promise<PreparedInstall> {
    let p: PreparedInstall;
    try {
      p = await prepareInstall(this.d.client, resolveFromCluster(iop).install, this.now());
    } catch (e) {
      if (e instanceof CaSecretError) {
        // The secret is not watched: look again later.
        throw new Halt(
          { kind: 'applyFailed', message: `CA not ready, nothing applied: ${issuesText(e)}` },
          EVENT_CA_INVALID,
          'error',
          IN_USE_RECHECK_MS,
        );
      }
      // No retry: only a new spec can fix it, and that arrives as a watch event.
      if (e instanceof InputError)
        throw new Halt({ kind: 'invalid', message: `invalid spec, nothing applied: ${issuesText(e)}` }, 'InvalidSpec', 'invalid');
      throw e;
    }
    // Two live IstioOperators rendering the same objects would take them from each other on every reconcile.
    const taken = this.ownedByAnother(p.objects, p.install.owner);
    if (taken) {
      const msg = `conflict, nothing applied: ${taken}; give this IstioOperator its own revision or namespace, or delete one of them`;
      throw new Halt({ kind: 'applyFailed', message: msg }, 'Conflict', 'error', IN_USE_RECHECK_MS);
    }
    return p;
  }

  /** When the CA asks to be looked at again (renewal, rotation phases), in ms from now. */
  private caRecheck(ca: CaResult): number | undefined {
    if (!ca.status.nextCheck) return undefined;
    return Math.max(1000, Math.min(24 * 3600_000, Date.parse(ca.status.nextCheck) - this.now().getTime()));
  }

  /** Logs and records Events for what an apply changed; returns `outcome Kind ns/name` per change. */
  private async report(
    iop: IstioOperator,
    r: Awaited<ReturnType<typeof applyInstall>>['apply'],
    started: number,
    log: Log,
  ): Promise<string[]> {
    const changed = r.results.filter((x) => x.outcome !== 'unchanged');
    const sum = { created: 0, configured: 0, unchanged: 0, replaced: 0, pruned: r.pruned.length, skipped: r.skipped };
    for (const x of r.results) sum[x.outcome]++;
    this.stats.applied += changed.length;
    this.stats.pruned += r.pruned.length;
    const what = [...changed.map((x) => `${x.outcome} ${refString(x.ref)}`), ...r.pruned.map((x) => `pruned ${refString(x)}`)];
    if (!what.length) {
      log('debug', 'no changes', { ms: Date.now() - started });
      return what;
    }
    log('info', 'applied', { ...sum, ms: Date.now() - started, objects: what });
    if (changed.length)
      await this.d.events.emit(
        iop,
        'Normal',
        'Applied',
        `created ${sum.created}, configured ${sum.configured}, replaced ${sum.replaced}: ${changed.map((x) => refString(x.ref)).join(', ')}`,
      );
    if (r.pruned.length)
      await this.d.events.emit(iop, 'Normal', 'Pruned', `pruned ${r.pruned.length}: ${r.pruned.map(refString).join(', ')}`);
    return what;
  }

  /** Who uses a revision: the watch caches when the manager runs them, else one read of the cluster. */
  private async usage(rev: string, opts: ReadUsageOptions): Promise<ClusterUsage> {
    return this.d.usage ? this.d.usage(rev, opts) : readUsage(this.d.client, rev, opts);
  }

  private async retireOldRevisions(iop: IstioOperator, current: Owner, log: Log): Promise<{ removed: string[]; kept?: string }> {
    const old = (this.d.inventories?.() ?? [])
      .map((cm) => ownerFromLabels(cm.metadata?.labels))
      .filter((o): o is Owner => !!o && sameIstioOperator(o, current) && o.rev !== current.rev);
    if (!old.length) return { removed: [] };
    const removed: string[] = [];
    const kept: string[] = [];
    for (const owner of old) {
      const inv = (await listInventories(this.d.client)).find(
        (i) => i.owner.name === owner.name && i.owner.namespace === owner.namespace && i.owner.rev === owner.rev,
      );
      if (!inv) continue;
      const usage = await this.revisionUsage(inv);
      if (usage) {
        kept.push(usage);
        continue;
      }
      const r = await uninstall(this.d.client, { owner: inv.owner });
      this.memo.forget(inv.objects);
      removed.push(...r.deleted.map(refString));
      log('info', 'previous revision removed', { revision: owner.rev, objects: removed.length });
      await this.d.events.emit(
        iop,
        'Normal',
        'RevisionRemoved',
        `revision ${owner.rev} is no longer used and was removed (${r.deleted.length} objects)`,
      );
    }
    return { removed, ...(kept.length ? { kept: `previous ${kept.join('; ')}; it is removed once unused` } : {}) };
  }

  /**
   * The first rendered object that a different, existing IstioOperator owns (per the watch cache), described.
   * Objects whose owner label names no live IstioOperator (a CLI install, a deleted CR) are adopted.
   */
  private ownedByAnother(objects: K8sObject[], owner: Owner): string | undefined {
    if (!this.d.iopExists) return undefined;
    for (const o of objects) {
      // Shared by design (CRDs, the Base component's reader account, the node agents): every revision renders
      // them and they move forward only (apply/shared.ts), so a canary IstioOperator beside the stable one is no conflict.
      if (isShared(o)) continue;
      const live =
        this.d.ownedCache?.(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name) ??
        this.d.ownedCache?.(o.apiVersion, o.kind, undefined, o.metadata.name);
      const theirs = ownerFromLabels(live?.metadata?.labels);
      if (!theirs || sameIstioOperator(theirs, owner)) continue;
      const key = ownerKey(theirs);
      if (this.d.iopExists(key))
        return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name} belongs to IstioOperator ${key}`;
    }
    return undefined;
  }

  /**
   * Readiness of what was rendered, judged by kind (apply/objectready.ts) from the watch caches, confirmed by a GET
   * when a cached answer is not ready; the pods of a workload that is not ready say why. A remote whose webhook
   * leads nowhere gets the values that would fix it.
   */
  private async readiness(p: PreparedInstall): Promise<Record<string, ComponentReadiness>> {
    const out = await componentReadiness(p.objects, {
      cached: (r: ObjectRef) => this.d.ownedCache?.(r.apiVersion, r.kind, r.namespace, r.name) as Live,
      get: async (r: ObjectRef) => this.d.kube.request('GET', await this.resources.path(r), { allow404: true }),
      pods: (ns: string, selector: string) => this.podsOf(ns, selector),
    });
    const hint = p.remote && remoteHint(p.remote);
    const pilot = out.Pilot;
    if (hint && pilot?.stuck) pilot.message = `${pilot.message}; ${hint}`;
    return out;
  }

  /** Pods by label selector in a namespace; none when they cannot be read (the status says less). */
  private async podsOf(ns: string, selector: string): Promise<LivePod[] | undefined> {
    try {
      const list = await this.d.kube.request<List<LivePod>>('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}/pods`, {
        query: { labelSelector: selector, limit: 20 },
      });
      return list?.items ?? [];
    } catch {
      return undefined;
    }
  }

  private async finalize(
    iop: IstioOperator,
    key: string,
    log: Log,
    setStatus: (o: Outcome) => Promise<string | undefined>,
    countWrite: () => void,
  ): Promise<Omit<ReconcileResult, 'writes'>> {
    const name = iop.metadata?.name ?? '';
    const ons = iop.metadata?.namespace ?? '';
    const mine = (await listInventories(this.d.client)).filter((i) => i.owner.name === name && i.owner.namespace === ons);
    // Never remove a revision something still runs on: say who uses it and wait.
    const blocked: string[] = [];
    for (const inv of mine) {
      const usage = await this.revisionUsage(inv);
      if (usage) blocked.push(usage);
    }
    if (blocked.length) {
      const msg = `deletion blocked: ${blocked.join('; ')}; move them to another revision or remove the labels, then the control plane is removed`;
      log('warn', 'deletion blocked', { users: blocked });
      const status = await setStatus({ kind: 'actionRequired', message: msg });
      await this.d.events.emit(iop, 'Warning', 'RevisionInUse', msg);
      return { action: 'blocked', status, requeueAfterMs: IN_USE_RECHECK_MS };
    }
    const removed: string[] = [];
    for (const inv of mine) {
      // force: the in-use check above is ours (it does not count our own control-plane pods as users).
      const r = await uninstall(this.d.client, { owner: inv.owner });
      this.memo.forget(inv.objects);
      removed.push(...r.deleted.map(refString));
    }
    log('info', 'uninstalled', { objects: removed });
    await this.d.events.emit(
      iop,
      'Normal',
      'Uninstalled',
      removed.length ? `removed ${removed.length} objects (CRDs are kept)` : 'nothing was installed',
    );
    await this.setFinalizers(
      iop,
      (iop.metadata?.finalizers ?? []).filter((f) => f !== FINALIZER),
    );
    countWrite();
    log('info', 'finalizer removed', { key });
    return { action: 'deleted' };
  }

  /**
   * A description of who uses the inventory's revision, or '' when nobody does: the revision layer's one reader
   * (tags this owner installed go with it; unreadable usage counts as in use, with the reason).
   */
  private async revisionUsage(inv: Inventory): Promise<string> {
    const u = await this.usage(inv.owner.rev, { exceptOwner: inv.owner });
    return u.inUse ? describeUsage(u) : '';
  }

  /** Finalizers are the one metadata field we write; the resourceVersion precondition keeps others' changes. */
  private async setFinalizers(iop: IstioOperator, finalizers: string[]): Promise<void> {
    const md = iop.metadata!;
    const r = await this.d.kube.request('PATCH', iopPath(md.namespace ?? '', md.name), {
      body: { metadata: { finalizers, resourceVersion: md.resourceVersion } },
      contentType: 'application/merge-patch+json',
      query: { fieldManager: FIELD_MANAGER },
    });
    if (r?.metadata) iop.metadata = r.metadata;
  }
}
