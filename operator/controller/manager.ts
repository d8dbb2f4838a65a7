import os from 'node:os';
import type http from 'node:http';

import { KubeClient, resourcePath, writesOf } from '../apply/client.js';

import { EventRecorder } from './events.js';
import { contentChanged, isMeaningfulUpdate, slimForCache } from './filter.js';
import { Informer, kubeSource, objectKey, type KObject } from './informer.js';
import { LeaderElector } from './leader.js';
import { jsonLogger, type LogFn } from './log.js';
import { Counter, CounterFunc, Gauge, Histogram, Registry, serve } from './metrics.js';
import { WorkQueue } from './queue.js';
import { iopPath, Reconciler, type ReconcileResult } from './reconciler.js';
import { STATUS_CODE } from './status.js';
import { LABEL_COMPONENT, LABEL_INVENTORY } from '../api/labels.js';
import { groupOf, KINDS, ownedSelector, versionOf } from '../api/kinds.js';
import { ownerFromLabels, ownerKey } from '../api/owner.js';
import { UsageCache } from './usagecache.js';

// Wires informers → queue → reconciler, with leader election, metrics and health. Informers run on every
// replica (a standby has warm caches and takes over at once); only the leader runs workers.

/**
 * Kinds the render produces (the kinds table's), watched label-selected (only ours) so drift is repaired within
 * seconds. CRDs are cached, not reacted to: they carry no owner label, so they are selected by component label.
 * Kinds of optional CRDs (kinds.ts `optional`) are not watched: a cluster without the CRD would keep the caches from
 * ever syncing; drift there is repaired by the periodic resync.
 */
export const OWNED_KINDS: Array<{
  group: string;
  version: string;
  resource: string;
  apiVersion: string;
  kind: string;
  cacheOnly?: boolean;
  selector: string;
}> = KINDS.filter((k) => k.rendered && !k.optional).map((k) => ({
  group: groupOf(k.apiVersion),
  version: versionOf(k.apiVersion),
  resource: k.plural,
  apiVersion: k.apiVersion,
  kind: k.kind,
  ...(k.cacheOnly ? { cacheOnly: true } : {}),
  selector: k.cacheOnly ? LABEL_COMPONENT : ownedSelector(k),
}));

/** See Manager.coalesce. */
export const QUIET_MS = 250;
export const MAX_WAIT_MS = 3000;
/** How long a changed owned object waits before it is judged our own echo or drift. */
export const ECHO_GRACE_MS = 100;

export interface ManagerOptions {
  kubeconfig?: string;
  context?: string;
  /** Watched namespaces for IstioOperators; empty = all. */
  namespaces?: string[];
  concurrency?: number;
  metricsAddr?: string;
  healthAddr?: string;
  leaderElect?: boolean;
  leaseName?: string;
  leaseNamespace?: string;
  leaseDurationMs?: number;
  resyncMs?: number;
  identity?: string;
  log?: LogFn;
  /** Namespaces whose IstioOperators are acted on (see ReconcilerDeps.trustedNamespaces); undefined: all watched. */
  trustedNamespaces?: string[];
}

export class Manager {
  /** The controller's own requests (status, finalizers, Events, Leases, watches), counted apart from the apply engine's. */
  readonly kube: KubeClient;
  /** The apply engine's; its counts are the apply writes. */
  readonly client: KubeClient;
  readonly log: LogFn;
  readonly queue: WorkQueue;
  readonly reconciler: Reconciler;
  readonly registry = new Registry();
  readonly iopInformers: Informer<KObject>[] = [];
  readonly ownedInformers = new Map<string, Informer<KObject>>();
  /** Metadata-only caches of Pods, Namespaces and revision tags: who uses a revision, without a LIST per reconcile. */
  readonly usageCache: UsageCache;
  readonly identity: string;
  private elector?: LeaderElector;
  private servers: http.Server[] = [];
  private workersOn = false;
  private stopping?: Promise<void>;
  readonly ports: { metrics?: number; health?: number } = {};
  private readonly statuses = new Map<string, string>();
  private readonly lastEvent = new Map<string, number>();
  private controllerWrites = 0;
  private readonly pendingJudgements = new Set<NodeJS.Timeout>();
  private readonly debounce = new Map<string, { first: number; timer: NodeJS.Timeout | undefined }>();
  /** The last reconciles (newest last, at most 200), for tests and debugging. */
  readonly history: Array<{ key: string; at: number; ms: number; result: ReconcileResult }> = [];
  readonly m: {
    reconciles: Counter;
    errors: Counter;
    writes: CounterFunc;
    duration: Histogram;
    requests: Counter;
  };

  constructor(readonly opts: ManagerOptions) {
    this.log = opts.log ?? jsonLogger();
    // Two instances of the one client, from the same kubeconfig (or the pod's ServiceAccount), so they act as the
    // same user; separate instances keep the apply engine's request counts apart from the controller's own.
    const conn = { ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}), ...(opts.context ? { context: opts.context } : {}) };
    this.client = KubeClient.fromOptions(conn);
    this.kube = KubeClient.fromOptions(conn);
    this.identity = opts.identity ?? `${os.hostname()}_${process.pid}`;
    const r = this.registry;
    this.m = {
      reconciles: r.add(new Counter('istio_operator_reconciles_total', 'Reconciles by result.')),
      errors: r.add(new Counter('istio_operator_reconcile_errors_total', 'Reconciles that failed and were requeued with backoff.')),
      writes: r.add(
        new CounterFunc(
          'istio_operator_writes_total',
          'Write requests (create, patch, update, delete) to the apiserver: applies, prunes, inventory, CA (apply engine) and status, finalizers, Events (controller). Lease renewals are not counted.',
          () => [
            [{ by: 'apply' }, writesOf(this.client.counts)],
            [{ by: 'controller' }, this.controllerWrites],
          ],
        ),
      ),
      duration: r.add(
        new Histogram('istio_operator_reconcile_duration_seconds', 'Time of one reconcile.', [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]),
      ),
      requests: r.add(
        new Counter(
          'istio_operator_controller_requests_total',
          'Requests the controller made outside the apply engine (status, events, leases, watches), by verb.',
        ),
      ),
    };
    this.kube.onRequest = (verb, path) => {
      this.m.requests.inc({ verb });
      if ((verb === 'create' || verb === 'patch' || verb === 'update' || verb === 'delete') && !path.includes('/leases'))
        this.controllerWrites++;
    };
    this.queue = new WorkQueue({
      concurrency: opts.concurrency ?? 2,
      handler: (key) => this.handle(key),
      resyncMs: opts.resyncMs ?? 10 * 60_000,
      resyncKeys: () => {
        this.reconciler.verifyEverythingNextTime();
        return this.iopInformers.flatMap((i) => i.keys());
      },
      onError: (key, err, ms) =>
        this.log('error', 'reconcile failed', { istiooperator: key, error: (err as Error).message, retryInMs: ms }),
    });
    r.add(new Gauge('istio_operator_queue_depth', 'IstioOperators waiting to be reconciled.', () => [[{}, this.queue.depth]]));
    r.add(
      new Gauge('istio_operator_queue_delayed', 'IstioOperators waiting for a retry or readiness re-check.', () => [
        [{}, this.queue.delayed],
      ]),
    );
    r.add(new Gauge('istio_operator_queue_in_flight', 'Reconciles running now.', () => [[{}, this.queue.inFlight]]));
    r.add(
      new Gauge('istio_operator_leader', '1 when this replica holds the lease (or leader election is off).', () => [
        [{ identity: this.identity }, this.workersOn ? 1 : 0],
      ]),
    );
    r.add(
      new Gauge(
        'istio_operator_istiooperator_status',
        'Status of each IstioOperator (0 NONE, 1 UPDATING, 2 RECONCILING, 3 HEALTHY, 4 ERROR, 5 ACTION_REQUIRED).',
        () =>
          [...this.statuses.entries()].map(([k, s]) => {
            const [namespace, name] = k.includes('/') ? k.split('/', 2) : ['', k];
            return [{ namespace: namespace!, name: name!, status: s }, STATUS_CODE[s as keyof typeof STATUS_CODE] ?? 0];
          }),
      ),
    );
    r.add(
      new Gauge('istio_operator_watch_errors', 'Watch/list failures (each retried with backoff), per informer.', () =>
        [
          ...this.iopInformers.map((i, n) => [`istiooperators-${n}`, i] as const),
          ...this.ownedInformers.entries(),
          ...this.usageCache.informers,
        ].map(([name, i]) => [{ informer: name }, i.stats.errors]),
      ),
    );
    // The process's memory, under the names Prometheus client libraries use, so the usual dashboards and alerts apply.
    r.add(new Gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => [[{}, process.memoryUsage.rss()]]));
    r.add(new Gauge('nodejs_heap_size_used_bytes', 'V8 heap in use, in bytes.', () => [[{}, process.memoryUsage().heapUsed]]));
    r.add(new Gauge('nodejs_heap_size_total_bytes', 'V8 heap reserved, in bytes.', () => [[{}, process.memoryUsage().heapTotal]]));
    r.add(
      new Gauge('nodejs_external_memory_bytes', 'Memory of objects outside the V8 heap (buffers), in bytes.', () => [
        [{}, process.memoryUsage().external],
      ]),
    );
    this.usageCache = new UsageCache(this.kube, this.log);
    this.reconciler = new Reconciler({
      usage: (rev, opts) => this.usageCache.usage(rev, opts),
      ...(opts.trustedNamespaces ? { trustedNamespaces: opts.trustedNamespaces } : {}),
      kube: this.kube,
      client: this.client,
      events: new EventRecorder(this.kube, undefined, (e) => this.log('warn', 'event not recorded', { error: (e as Error).message })),
      log: this.log,
      iopExists: (key) =>
        this.iopInformers.some((i) => {
          const o = i.get(key);
          return !!o && !o.metadata?.deletionTimestamp;
        }),
      inventories: () =>
        (this.ownedInformers.get('v1/ConfigMap')?.list() ?? []).filter((c) => c.metadata?.labels?.[LABEL_INVENTORY] === 'true'),
      ownedCache: (apiVersion, kind, namespace, name) =>
        this.ownedInformers.get(`${apiVersion}/${kind}`)?.get(namespace ? `${namespace}/${name}` : name),
    });
  }

  /**
   * Spec edits arriving in a burst (a script, a GitOps sync replaying commits) collapse into few applies. An edit
   * that finds the IstioOperator idle and follows the previous edit by at least QUIET_MS is reconciled at once;
   * one arriving faster, or while a reconcile runs, waits until edits have been quiet for QUIET_MS, but never more
   * than MAX_WAIT_MS after the first waiting one. A burst of any length then costs about one apply per
   * MAX_WAIT_MS plus one, and its last edit lands QUIET_MS after it; edits at human or CI pace are not delayed.
   */
  private coalesce(key: string): void {
    if (!this.workersOn) return;
    const now = Date.now();
    const sincePrev = now - (this.lastEvent.get(key) ?? 0);
    this.lastEvent.set(key, now);
    let p = this.debounce.get(key);
    if (!p && !this.queue.isProcessing(key) && sincePrev >= QUIET_MS) return this.queue.add(key);
    if (!p) {
      p = { first: now, timer: undefined };
      this.debounce.set(key, p);
    }
    if (p.timer) clearTimeout(p.timer);
    const fire = () => {
      this.debounce.delete(key);
      this.queue.add(key);
    };
    p.timer = setTimeout(fire, Math.max(0, Math.min(now + QUIET_MS, p.first + MAX_WAIT_MS) - now));
  }

  private async handle(key: string) {
    const t0 = performance.now();
    try {
      const r = await this.reconciler.reconcile(key);
      this.m.reconciles.inc({ result: r.action });
      if (r.status) this.statuses.set(key, r.status);
      if (r.action === 'gone' || r.action === 'deleted') {
        this.statuses.delete(key);
        this.lastEvent.delete(key);
      }
      this.history.push({ key, at: Date.now(), ms: performance.now() - t0, result: r });
      if (this.history.length > 200) this.history.shift();
      this.log(r.writes ? 'info' : 'debug', 'reconciled', {
        istiooperator: key,
        action: r.action,
        status: r.status,
        writes: r.writes,
        changed: r.changed?.length ?? 0,
        ms: Math.round(performance.now() - t0),
      });
      return r.requeueAfterMs !== undefined ? { requeueAfterMs: r.requeueAfterMs } : undefined;
    } catch (e) {
      this.m.reconciles.inc({ result: 'error' });
      this.m.errors.inc();
      throw e;
    } finally {
      this.m.duration.observe((performance.now() - t0) / 1000);
    }
  }

  /** Key of the IstioOperator an owned object belongs to, if we watch it. */
  private ownerKey(o: KObject): string | undefined {
    const owner = ownerFromLabels(o.metadata?.labels);
    if (!owner) return undefined;
    const key = ownerKey(owner);
    return this.iopInformers.some((i) => i.get(key)) ? key : undefined;
  }

  get synced(): boolean {
    return this.allInformers().every((i) => i.hasSynced);
  }

  private allInformers(): Informer<KObject>[] {
    return [...this.iopInformers, ...this.ownedInformers.values(), ...this.usageCache.informers.map(([, i]) => i)];
  }
  get leading(): boolean {
    return this.workersOn;
  }

  async start(): Promise<void> {
    if (this.opts.metricsAddr) {
      const s = await serve(this.opts.metricsAddr, { metrics: this.registry }, '--metrics-addr');
      this.servers.push(s.server);
      this.ports.metrics = s.port;
      this.log('info', 'serving metrics', { addr: this.opts.metricsAddr, port: s.port });
    }
    if (this.opts.healthAddr) {
      // Not ready while any watch fails (lost RBAC shows here: every list and watch is Forbidden) or a reconcile was
      // refused for want of rights, so a Deployment rollout or a monitor sees an operator that cannot do its job.
      const s = await serve(
        this.opts.healthAddr,
        {
          healthz: () => !this.stopping,
          readyz: () =>
            this.synced && !this.stopping && !this.allInformers().some((i) => i.failing) && this.reconciler.forbidden.size === 0,
        },
        '--health-addr',
      );
      this.servers.push(s.server);
      this.ports.health = s.port;
      this.log('info', 'serving health checks', { addr: this.opts.healthAddr, port: s.port });
    }
    const add = (o: KObject) => this.workersOn && this.queue.add(objectKey(o));
    const namespaces = this.opts.namespaces?.length ? this.opts.namespaces : [undefined];
    for (const ns of namespaces) {
      const inf = new Informer<KObject>(kubeSource(this.kube, iopPath(ns ?? '')), {
        name: `istiooperators${ns ? `/${ns}` : ''}`,
        log: this.log,
      });
      inf.on({ add, update: (a, b) => isMeaningfulUpdate(a, b) && this.coalesce(objectKey(b)), delete: add });
      this.iopInformers.push(inf);
    }
    // Owned objects: a change someone else made (drift, deletion) is repaired at once; the echo of our own
    // apply is ignored; a readiness change only updates status, so it waits like a spec edit does.
    const trigger = (k: string, o: KObject, why: string) =>
      this.log('debug', 'owned object changed', {
        istiooperator: k,
        object: `${o.kind} ${o.metadata?.namespace ? o.metadata.namespace + '/' : ''}${o.metadata?.name}`,
        why,
      });
    // The watch event of our own apply can arrive before the apply's response is processed; judging it a moment
    // later, against what the apply produced and the latest cached version, tells our echo from someone's change.
    const judgeSoon = (k: string, o: KObject, why: string) => {
      const t = setTimeout(() => {
        this.pendingJudgements.delete(t);
        if (!this.workersOn) return;
        const ref = `${o.apiVersion}/${o.kind}`;
        const cur = this.ownedInformers
          .get(ref)
          ?.get(o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata?.name ?? ''));
        if (cur && this.reconciler.isOwnWrite(cur)) return;
        trigger(k, o, why);
        this.queue.add(k);
      }, ECHO_GRACE_MS);
      this.pendingJudgements.add(t);
    };
    const owned = (o: KObject) => {
      const k = this.ownerKey(o);
      if (k && this.workersOn && !this.reconciler.isOwnWrite(o)) judgeSoon(k, o, 'added');
    };
    const ownedUpdate = (a: KObject, b: KObject) => {
      const k = this.ownerKey(b);
      if (!k || !this.workersOn || this.reconciler.isOwnWrite(b)) return;
      if (contentChanged(a, b)) judgeSoon(k, b, 'content');
      else if (isMeaningfulUpdate(a, b)) this.coalesce(k);
    };
    for (const k of OWNED_KINDS) {
      const inf = new Informer<KObject>(
        kubeSource(this.kube, resourcePath(k.group, k.version, k.resource), { labelSelector: k.selector }),
        { name: k.resource, log: this.log, transform: slimForCache },
      );
      if (!k.cacheOnly)
        inf.on({ add: owned, update: ownedUpdate, delete: (o) => this.ownerKey(o) && this.workersOn && this.queue.add(this.ownerKey(o)!) });
      this.ownedInformers.set(`${k.apiVersion}/${k.kind}`, inf);
    }
    await Promise.all([...this.iopInformers, ...this.ownedInformers.values()].map((i) => i.start()).concat(this.usageCache.start()));
    this.log('info', 'caches synced', {
      istiooperators: this.iopInformers.reduce((n, i) => n + i.keys().length, 0),
      identity: this.identity,
    });

    if (this.opts.leaderElect) {
      this.elector = new LeaderElector({
        kube: this.kube,
        namespace: this.opts.leaseNamespace ?? 'istio-operator',
        name: this.opts.leaseName ?? 'istio-operator-lock',
        identity: this.identity,
        ...(this.opts.leaseDurationMs ? { leaseDurationMs: this.opts.leaseDurationMs } : {}),
        log: this.log,
        onStartedLeading: () => this.startWorkers(),
        // Like client-go: a replica that lost the lease must not keep writing. The process exits (the caller
        // decides) after in-flight work finishes; a restarted replica campaigns again from scratch.
        onStoppedLeading: () => void this.stop('lost leadership'),
      });
      this.elector.start();
    } else this.startWorkers();
  }

  private startWorkers(): void {
    if (this.workersOn || this.stopping) return;
    this.workersOn = true;
    this.log('info', 'starting workers', { concurrency: this.opts.concurrency ?? 2 });
    this.queue.resync();
  }

  private resolveStopped: (why: string) => void = () => {};
  /** Resolves when stop() has finished (after SIGTERM or lost leadership). */
  readonly stopped: Promise<string> = new Promise((r) => (this.resolveStopped = r));

  /** Finish in-flight reconciles, stop watches, release the lease, close servers. */
  stop(why = 'shutdown'): Promise<void> {
    this.stopping ??= (async () => {
      this.log('info', 'stopping', { why, inFlight: this.queue.inFlight });
      for (const t of this.pendingJudgements) clearTimeout(t);
      this.pendingJudgements.clear();
      for (const p of this.debounce.values()) if (p.timer) clearTimeout(p.timer);
      this.debounce.clear();
      await this.queue.shutdown();
      this.workersOn = false;
      for (const i of this.allInformers()) i.stop();
      await this.elector?.release();
      await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
      this.client.close();
      this.kube.close();
      this.log('info', 'stopped', { why });
      this.resolveStopped(why);
    })();
    return this.stopping;
  }
}
