import { ApiError, resourcePath, type KubeClient } from '../apply/client.js';
import type { LogFn } from './log.js';

// Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it:
//  - expiry is judged by when *we* last saw the lease change (our clock), never by comparing our clock with the
//    holder's renewTime, so clock skew between nodes cannot make two leaders;
//  - a leader that cannot renew within renewDeadline stops leading (the caller stops its work);
//  - a clean shutdown releases the lease (empty holder) so a standby takes over at once instead of after expiry.

export interface LeaderOptions {
  kube: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log?: LogFn;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

/** MicroTime as the Lease API wants it (RFC 3339 with microseconds). */
function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** The acquire-or-renew in flight, if any: release() waits for it, or its renew would overwrite the release. */
  private inflight: Promise<void> | undefined;
  private observed?: { key: string; at: number };
  private lastRenew = 0;
  readonly durationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryMs: number;
  transitions = 0;

  constructor(private readonly o: LeaderOptions) {
    this.durationMs = o.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? Math.round((this.durationMs * 2) / 3);
    this.retryMs = o.retryPeriodMs ?? Math.max(200, Math.round(this.durationMs / 7.5));
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private path(name?: string) {
    return resourcePath('coordination.k8s.io', 'v1', 'leases', this.o.namespace, name);
  }

  start(): void {
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      this.inflight = this.tryAcquireOrRenew().catch((e) => {
        this.o.log?.('warn', 'lease update failed', { lease: `${this.o.namespace}/${this.o.name}`, error: (e as Error).message });
      });
      await this.inflight;
      this.inflight = undefined;
      if (this.stopped) return;
      if (this.leading && Date.now() - this.lastRenew > this.renewDeadlineMs)
        this.lose('could not renew the lease within the renew deadline');
      if (!this.stopped) this.timer = setTimeout(loop, this.retryMs);
    };
    void loop();
  }

  private lose(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.o.log?.('warn', 'stopped leading', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity, why });
    this.o.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = new Date();
    const lease = await this.o.kube.request<{ metadata: { resourceVersion: string }; spec?: LeaseSpec }>('GET', this.path(this.o.name), {
      allow404: true,
    });
    const desired = (spec: LeaseSpec | undefined, acquiring: boolean): LeaseSpec => ({
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.durationMs / 1000)),
      acquireTime: acquiring ? microTime(now) : (spec?.acquireTime ?? microTime(now)),
      renewTime: microTime(now),
      leaseTransitions: (spec?.leaseTransitions ?? 0) + (acquiring && spec?.holderIdentity ? 1 : 0),
    });
    if (!lease) {
      try {
        await this.o.kube.request('POST', this.path(), {
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.o.name, namespace: this.o.namespace },
            spec: desired(undefined, true),
          },
        });
      } catch (e) {
        if (e instanceof ApiError && e.code === 409) return; // someone else created it first
        throw e;
      }
      return this.became();
    }
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity ?? ''}|${spec.renewTime ?? ''}`;
    if (!this.observed || this.observed.key !== key) this.observed = { key, at: now.getTime() };
    const holder = spec.holderIdentity ?? '';
    const mine = holder === this.o.identity;
    const durMs = (spec.leaseDurationSeconds ?? Math.ceil(this.durationMs / 1000)) * 1000;
    const expired = holder === '' || now.getTime() - this.observed.at > durMs;
    if (!mine && !expired) {
      if (this.leading) this.lose(`lease is held by ${holder}`);
      return;
    }
    try {
      await this.o.kube.request('PUT', this.path(this.o.name), {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace, resourceVersion: lease.metadata.resourceVersion },
          spec: desired(spec, !mine),
        },
      });
    } catch (e) {
      if (e instanceof ApiError && e.code === 409) return; // lost a race; look again next period
      throw e;
    }
    if (mine) this.lastRenew = Date.now();
    else this.became();
  }

  private became(): void {
    this.lastRenew = Date.now();
    if (this.leading) return;
    this.leading = true;
    this.transitions++;
    this.o.log?.('info', 'started leading', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
    this.o.onStartedLeading();
  }

  /** Stop campaigning; if leading, give the lease up so a standby does not wait for expiry. */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    // A renew in flight when SIGTERM came would land after our release and hold the lease again (the cause of a
    // leader test failing 1 run in 9 under load): wait for it first.
    await this.inflight;
    // Released whenever the lease still names us, even if we stopped leading (a renew that missed its deadline on
    // a loaded node): nobody else holds it then, and a standby should not wait for it to expire.
    if (this.transitions === 0) return;
    this.leading = false;
    // A conflict means the lease changed between our read and write: read again, a few times.
    for (let attempt = 1; ; attempt++) {
      try {
        const lease = await this.o.kube.request<{ metadata: { resourceVersion: string }; spec?: LeaseSpec }>(
          'GET',
          this.path(this.o.name),
          { allow404: true },
        );
        if (lease?.spec?.holderIdentity !== this.o.identity) return;
        await this.o.kube.request('PUT', this.path(this.o.name), {
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.o.name, namespace: this.o.namespace, resourceVersion: lease.metadata.resourceVersion },
            spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime() },
          },
        });
        this.o.log?.('info', 'released the lease', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
        return;
      } catch (e) {
        if (e instanceof ApiError && e.code === 409 && attempt < 3) continue;
        this.o.log?.('warn', 'could not release the lease; a standby takes over when it expires', { error: (e as Error).message });
        return;
      }
    }
  }
}
