import type { Clock } from './queue.js';
import { realClock } from './queue.js';
import { METADATA_ONLY, type KubeClient } from '../apply/client.js';
import type { ApiStatus, List, WatchEvent } from '../api/live.js';

// A list+watch loop that never gives up. The client library's informer stops on the first error and leaves
// restarts to the caller; a controller that silently stops watching is the worst failure mode, so this one
// restarts with capped backoff, relists on 410 Gone, and keeps its cache consistent across relists
// (objects that vanished while disconnected are reported as deleted).

export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export type { WatchEvent };

/** Where list and watch come from; a fake in unit tests, the apiserver in production. */
export interface ListWatchSource<T> {
  list(): Promise<{ items: T[]; resourceVersion: string }>;
  /** Start a watch from `resourceVersion`; call onDone once (null on a clean close). Returns an abort function. */
  watch(resourceVersion: string, onEvent: (ev: WatchEvent<T>) => void, onDone: (err: unknown) => void): Promise<() => void>;
}

export type EventHandler<T> = {
  add?: (obj: T) => void;
  update?: (oldObj: T, newObj: T) => void;
  delete?: (obj: T) => void;
};

export interface InformerOptions {
  name: string;
  /** Applied to every listed or watched object before it is cached or handed to handlers (e.g. to slim it). */
  transform?: (o: KObject) => KObject;
  clock?: Clock;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * Cap of the backoff after transient failures: the API server unreachable (restarting), 429, 5xx, or a watch
   * that went silent. They say nothing about our request, so the informer keeps trying about every
   * `transientMaxDelayMs` and resumes within that long of the server being back (default 1 s).
   */
  transientMaxDelayMs?: number;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export function objectKey(o: KObject): string {
  const ns = o.metadata?.namespace;
  return ns ? `${ns}/${o.metadata?.name ?? ''}` : (o.metadata?.name ?? '');
}

/** A failure that says the server is away or busy, not that our request is wrong: retried soon. */
export function isTransient(err: unknown): boolean {
  const e = err as { name?: string; code?: unknown; statusCode?: unknown } | null | undefined;
  if (!e) return false;
  if (e.name === 'UnreachableError' || e.name === 'WatchIdleError') return true;
  const code = typeof e.code === 'number' ? e.code : e.statusCode;
  if (code === 429 || (typeof code === 'number' && code >= 500)) return true;
  return (
    typeof e.code === 'string' &&
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(e.code)
  );
}

function is410(err: unknown): boolean {
  const e = err as { statusCode?: unknown; code?: unknown; body?: { code?: unknown } } | null | undefined;
  return e?.statusCode === 410 || e?.code === 410 || e?.body?.code === 410;
}

export class Informer<T extends KObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: EventHandler<T>[] = [];
  private readonly clock: Clock;
  private readonly base: number;
  private readonly cap: number;
  private readonly transientCap: number;
  private rv = '';
  private stopped = true;
  private abort?: () => void;
  private retryHandle: unknown;
  private failures = 0;
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  readonly stats = { lists: 0, watches: 0, errors: 0, relists410: 0 };

  constructor(
    private readonly source: ListWatchSource<T>,
    private readonly opts: InformerOptions,
  ) {
    // A running informer is live work: its retry timers keep the process up (unlike the queue's, see realClock).
    this.clock = opts.clock ?? { ...realClock, setTimeout: (fn, ms) => setTimeout(fn, ms) };
    this.base = opts.baseDelayMs ?? 500;
    this.cap = opts.maxDelayMs ?? 30_000;
    this.transientCap = Math.min(this.cap, opts.transientMaxDelayMs ?? 1_000);
  }

  on(h: EventHandler<T>): void {
    this.handlers.push(h);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** The last list or watch attempt failed and a retry is pending: the cache may be stale. */
  get failing(): boolean {
    return this.failures > 0;
  }

  /** Starts the loop; resolves once the first list has filled the cache. */
  start(): Promise<void> {
    if (this.stopped) {
      this.stopped = false;
      void this.cycle();
    }
    return this.waitForSync();
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  stop(): void {
    this.stopped = true;
    if (this.retryHandle !== undefined) this.clock.clearTimeout(this.retryHandle);
    this.abort?.();
    this.abort = undefined;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }
  list(): T[] {
    return [...this.cache.values()];
  }
  keys(): string[] {
    return [...this.cache.keys()];
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    this.stats.errors++;
    this.failures++;
    // A restarting API server refuses connections for seconds to a minute; backing off to 30 s then delays recovery
    // by up to 30 s after it is back. Transient failures retry at most `transientCap` apart (a few requests a second
    // at worst, from a handful of informers); errors about the request itself (403, 404) back off fully.
    const cap = isTransient(err) ? this.transientCap : this.cap;
    const ms =
      (err as Error)?.name === 'WatchIdleError'
        ? 0
        : Math.min(cap, Math.min(this.base, cap) * 2 ** Math.min(20, this.failures - 1)) * (1 + 0.2 * Math.random());
    this.opts.log?.('warn', 'watch failed, retrying', {
      informer: this.opts.name,
      error: String((err as Error)?.message ?? err),
      retryInMs: Math.round(ms),
    });
    this.retryHandle = this.clock.setTimeout(() => void this.cycle(), ms);
  }

  private async cycle(): Promise<void> {
    if (this.stopped) return;
    if (!this.rv) {
      try {
        const l = await this.source.list();
        this.stats.lists++;
        if (this.stopped) return;
        this.replace(l.items);
        this.rv = l.resourceVersion;
        this.failures = 0;
      } catch (err) {
        return this.retry(err);
      }
      if (!this.synced) {
        this.synced = true;
        for (const w of this.syncWaiters.splice(0)) w();
      }
    }
    let sawEvent = false;
    try {
      this.stats.watches++;
      this.abort = await this.source.watch(
        this.rv,
        (ev) => {
          sawEvent = true;
          this.handle(ev);
        },
        (err) => {
          this.abort = undefined;
          if (this.stopped) return;
          if (is410(err)) {
            this.stats.relists410++;
            this.rv = '';
            return void this.cycle();
          }
          if (err) return this.retry(err);
          // A clean close is the server's watch timeout: resume at once, and a successful stream resets backoff.
          if (sawEvent) this.failures = 0;
          void this.cycle();
        },
      );
    } catch (err) {
      this.retry(err);
    }
  }

  private handle(ev: WatchEvent<T>): void {
    if (ev.type === 'ERROR') {
      // The apiserver reports an expired resourceVersion as an ERROR event then closes the stream.
      if ((ev.object as ApiStatus | undefined)?.code === 410) this.rv = '';
      return;
    }
    const obj = this.opts.transform && ev.type !== 'BOOKMARK' ? (this.opts.transform(ev.object) as T) : ev.object;
    const rv = obj?.metadata?.resourceVersion;
    if (ev.type === 'BOOKMARK') {
      if (rv) this.rv = rv;
      return;
    }
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (ev.type === 'DELETED') {
      this.cache.delete(key);
      for (const h of this.handlers) h.delete?.(old ?? obj);
    } else {
      this.cache.set(key, obj);
      for (const h of this.handlers) {
        if (old) h.update?.(old, obj);
        else h.add?.(obj);
      }
    }
    if (rv) this.rv = rv;
    this.failures = 0;
  }

  private replace(items: T[]): void {
    const seen = new Set<string>();
    for (const raw of items) {
      const obj = this.opts.transform ? (this.opts.transform(raw) as T) : raw;
      const key = objectKey(obj);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      for (const h of this.handlers) {
        if (old) h.update?.(old, obj);
        else h.add?.(obj);
      }
    }
    for (const [key, old] of [...this.cache]) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      for (const h of this.handlers) h.delete?.(old);
    }
  }
}

/** A source backed by the apiserver: `basePath` is the collection path without namespace, e.g. `/apis/apps/v1`. */
export function kubeSource<T extends KObject>(
  kube: KubeClient,
  collectionPath: string,
  opts: { labelSelector?: string; fieldSelector?: string; timeoutSeconds?: number; metadataOnly?: boolean; idleTimeoutMs?: number } = {},
): ListWatchSource<T> {
  const sel = { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector };
  return {
    async list() {
      const items: T[] = [];
      let cont: string | undefined;
      let rv = '';
      do {
        const r = await kube.request<List>('GET', collectionPath, {
          query: { ...sel, limit: 500, continue: cont },
          ...(opts.metadataOnly ? { accept: METADATA_ONLY.list } : {}),
        });
        items.push(...((r?.items ?? []) as T[]));
        rv = r?.metadata?.resourceVersion ?? '';
        cont = r?.metadata?.continue || undefined;
      } while (cont);
      return { items, resourceVersion: rv };
    },
    watch(resourceVersion, onEvent, onDone) {
      // A server-side timeout with jitter spreads the reconnects of many informers.
      const timeoutSeconds = opts.timeoutSeconds ?? 240 + Math.floor(Math.random() * 120);
      return kube.watch(
        collectionPath,
        { ...sel, resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        onEvent as (ev: WatchEvent) => void,
        onDone,
        opts.metadataOnly ? METADATA_ONLY.watch : undefined,
        opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {},
      );
    },
  };
}
