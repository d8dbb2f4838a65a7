import PQueue from 'p-queue';

// A keyed work queue with client-go's workqueue semantics, on top of p-queue for the concurrency limit:
//  - a key is never processed twice at once (so one IstioOperator is never reconciled concurrently with itself);
//  - adds for a key that is waiting collapse; adds for a key that is running mark it dirty -> exactly one more run;
//  - failures requeue with exponential backoff + jitter, capped; success forgets the failure count;
//  - shutdown stops taking new work, drops what has not started and waits for what is running.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending retry must not keep the process alive after shutdown.
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** What a handler may ask for besides success/failure: a later re-check (readiness polling without blocking a worker). */
export interface HandlerResult {
  requeueAfterMs?: number;
}

export type Handler = (key: string) => Promise<HandlerResult | void>;

export interface WorkQueueOptions {
  handler: Handler;
  concurrency?: number;
  /** First retry delay; doubles per consecutive failure. */
  baseDelayMs?: number;
  /** Cap for the retry delay. */
  maxDelayMs?: number;
  /** Fraction of the delay added at random (0.1 = up to +10%), so many failing keys do not retry in lockstep. */
  jitter?: number;
  /** Periodic resync: every interval, every key returned by `resyncKeys` is added. */
  resyncMs?: number;
  resyncKeys?: () => Iterable<string>;
  clock?: Clock;
  random?: () => number;
  onError?: (key: string, err: unknown, retryInMs: number) => void;
}

export class WorkQueue {
  private readonly pq: PQueue;
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, { at: number; handle: unknown }>();
  private readonly failureCounts = new Map<string, number>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly base: number;
  private readonly cap: number;
  private readonly jitter: number;
  private resyncHandle: unknown;
  private shuttingDown = false;
  /** Totals for metrics. */
  readonly stats = { adds: 0, runs: 0, failures: 0, retries: 0 };

  constructor(private readonly opts: WorkQueueOptions) {
    this.pq = new PQueue({ concurrency: Math.max(1, opts.concurrency ?? 1) });
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.base = opts.baseDelayMs ?? 200;
    this.cap = opts.maxDelayMs ?? 5 * 60_000;
    this.jitter = opts.jitter ?? 0.1;
    if (opts.resyncMs && opts.resyncKeys) this.scheduleResync();
  }

  /** Keys waiting to run (including a pending re-run of a key that is running now). */
  get depth(): number {
    return this.dirty.size;
  }
  /** Keys waiting for a delayed add (backoff or requeueAfter). */
  get delayed(): number {
    return this.waiting.size;
  }
  get inFlight(): number {
    return this.processing.size;
  }
  /** True while the key's handler runs. */
  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    this.stats.adds++;
    // An immediate add supersedes a pending delayed one.
    const w = this.waiting.get(key);
    if (w) {
      this.clock.clearTimeout(w.handle);
      this.waiting.delete(key);
    }
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // re-run once the current run finishes
    void this.pq.add(() => this.run(key));
  }

  /** Add after a delay; an earlier pending delayed add for the same key wins (client-go keeps the soonest). */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.now() + ms;
    const w = this.waiting.get(key);
    if (w && w.at <= at) return;
    if (w) this.clock.clearTimeout(w.handle);
    const handle = this.clock.setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { at, handle });
  }

  /** Requeue with the key's backoff, counting one more failure. Returns the delay used. */
  addRateLimited(key: string): number {
    const n = (this.failureCounts.get(key) ?? 0) + 1;
    this.failureCounts.set(key, n);
    const ms = this.backoff(n);
    this.stats.retries++;
    this.addAfter(key, ms);
    return ms;
  }

  forget(key: string): void {
    this.failureCounts.delete(key);
  }

  failures(key: string): number {
    return this.failureCounts.get(key) ?? 0;
  }

  backoff(failures: number): number {
    const exp = Math.min(this.cap, this.base * 2 ** Math.min(30, failures - 1));
    return Math.min(this.cap, Math.round(exp * (1 + this.jitter * this.random())));
  }

  private async run(key: string): Promise<void> {
    // A key can be scheduled only while it is dirty and not processing, so this is the single runner for it.
    this.dirty.delete(key);
    this.processing.add(key);
    this.stats.runs++;
    try {
      const r = await this.opts.handler(key);
      this.forget(key);
      if (r && r.requeueAfterMs !== undefined) this.addAfter(key, r.requeueAfterMs);
    } catch (err) {
      this.stats.failures++;
      const ms = this.shuttingDown ? 0 : this.addRateLimited(key);
      this.opts.onError?.(key, err, ms);
    } finally {
      this.processing.delete(key);
      if (this.dirty.has(key) && !this.shuttingDown) void this.pq.add(() => this.run(key));
    }
  }

  private scheduleResync(): void {
    this.resyncHandle = this.clock.setTimeout(() => {
      if (this.shuttingDown) return;
      this.resync();
      this.scheduleResync();
    }, this.opts.resyncMs!);
  }

  /** Add every known key now (also called by the periodic timer). */
  resync(): void {
    for (const k of this.opts.resyncKeys?.() ?? []) this.add(k);
  }

  /** Resolves when nothing is waiting or running (delayed adds are not waited for). */
  async idle(): Promise<void> {
    while ((this.dirty.size > 0 || this.processing.size > 0) && (this.pq.size > 0 || this.pq.pending > 0)) await this.pq.onIdle();
  }

  /** Stop taking work, drop what has not started, and wait for what is running. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    if (this.resyncHandle !== undefined) this.clock.clearTimeout(this.resyncHandle);
    for (const w of this.waiting.values()) this.clock.clearTimeout(w.handle);
    this.waiting.clear();
    this.pq.clear();
    for (const k of [...this.dirty]) if (!this.processing.has(k)) this.dirty.delete(k);
    await this.pq.onIdle();
    this.dirty.clear();
  }
}
