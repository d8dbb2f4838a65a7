import os from 'node:os';
import type { IstioOperator } from '../api/types.js';
import type { KubeClient } from '../apply/client.js';

// Kubernetes Events on the IstioOperator, for applies, prunes, errors and blocked deletions. The same event
// (object, reason, message) within the dedupe window is sent once: a failing spec retried with backoff
// must not flood the namespace's events.

export const COMPONENT = 'istio-operator';

export class EventRecorder {
  private readonly recent = new Map<string, number>();
  readonly instance = os.hostname();
  sent = 0;

  constructor(
    private readonly kube: KubeClient,
    private readonly dedupeMs = 10 * 60_000,
    private readonly onError?: (err: unknown) => void,
  ) {}

  async emit(iop: IstioOperator, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const md = iop.metadata ?? {};
    const ns = md.namespace || 'default';
    const k = `${md.uid}|${type}|${reason}|${message}`;
    const now = Date.now();
    const last = this.recent.get(k);
    if (last !== undefined && now - last < this.dedupeMs) return;
    this.recent.set(k, now);
    if (this.recent.size > 1000) for (const [key, at] of this.recent) if (now - at > this.dedupeMs) this.recent.delete(key);
    const ts = new Date(now).toISOString();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${md.name}.`, namespace: ns },
      involvedObject: {
        apiVersion: iop.apiVersion,
        kind: iop.kind,
        name: md.name,
        namespace: ns,
        uid: md.uid,
        resourceVersion: md.resourceVersion,
      },
      type,
      reason,
      // Events are limited to 1 KiB of message by convention; long error lists are cut, the status has the rest.
      message: message.length > 1024 ? message.slice(0, 1021) + '...' : message,
      source: { component: COMPONENT, host: this.instance },
      reportingComponent: COMPONENT,
      reportingInstance: this.instance,
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
    };
    try {
      await this.kube.request('POST', `/api/v1/namespaces/${encodeURIComponent(ns)}/events`, { body });
      this.sent++;
    } catch (e) {
      // An event is best effort: losing one must never fail a reconcile.
      this.onError?.(e);
    }
  }
}
