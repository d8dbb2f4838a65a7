import { createHash } from 'node:crypto';
import type { KObject } from './informer.js';
import type { LiveEndpointSlice, LiveEndpoints, LiveService, LiveWorkload, Webhook } from '../api/live.js';

// Which watch updates deserve a reconcile. istiod writes the webhooks' caBundle and flips the validating
// webhook's failurePolicy once it is ready; the apiserver bumps resourceVersion/managedFields on every write and
// we write status ourselves. Reconciling on those would be a storm that changes nothing (Sail's failure mode).
// Deployment and DaemonSet readiness is the one status we do care about: it moves an install from RECONCILING to HEALTHY.

/**
 * Annotations other controllers write on objects we own, in reaction to our own applies: the Deployment and
 * DaemonSet controllers' revision counters, kubectl's last-applied copy, and the CA's istiod restart stamp. A change
 * there is not drift; reconciling on it would apply mid-burst and defeat edit coalescing.
 */
const CONTROLLER_ANNOTATIONS = [
  'deployment.kubernetes.io/revision',
  'deprecated.daemonset.template.generation',
  'kubectl.kubernetes.io/last-applied-configuration',
  'ca.operator.istio.io/reloaded-at',
];

/** What this file reads of a watched object: a Deployment's or DaemonSet's, a webhook configuration's, a Service's, endpoints'. */
type Watched = KObject & {
  spec?: NonNullable<LiveWorkload['spec']> & NonNullable<LiveService['spec']>;
  status?: LiveWorkload['status'];
  webhooks?: Webhook[];
  subsets?: LiveEndpoints['subsets'];
  endpoints?: LiveEndpointSlice['endpoints'];
  ports?: LiveEndpointSlice['ports'];
};

function stripped(o: KObject): unknown {
  const c: Watched = structuredClone(o);
  delete c.status;
  if (c.metadata) {
    delete c.metadata.resourceVersion;
    delete c.metadata.managedFields;
    delete c.metadata.generation;
    for (const a of CONTROLLER_ANNOTATIONS) delete c.metadata.annotations?.[a];
  }
  for (const a of CONTROLLER_ANNOTATIONS) delete c.spec?.template?.metadata?.annotations?.[a];
  const validating = c.kind === 'ValidatingWebhookConfiguration';
  if (Array.isArray(c.webhooks)) {
    for (const w of c.webhooks) {
      if (w?.clientConfig) delete w.clientConfig.caBundle;
      if (validating) delete w.failurePolicy;
    }
  }
  return c;
}

function readiness(o: KObject): unknown {
  const s: NonNullable<Watched['status']> = (o as Watched).status ?? {};
  if (o.kind === 'DaemonSet')
    return [s.observedGeneration ?? 0, s.desiredNumberScheduled ?? 0, s.numberAvailable ?? 0, s.updatedNumberScheduled ?? 0];
  if (o.kind !== 'Deployment') return null;
  const avail = (s.conditions ?? []).find((c) => c.type === 'Available')?.status ?? '';
  return [s.observedGeneration ?? 0, s.replicas ?? 0, s.readyReplicas ?? 0, s.availableReplicas ?? 0, s.updatedReplicas ?? 0, avail];
}

/** Deterministic JSON: keys sorted, so semantically equal objects compare equal. */
export function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
    .join(',')}}`;
}

/** A digest of what an update filter compares, so a cache can drop the content and still detect drift. */
export function contentHash(o: KObject): string {
  return createHash('sha1')
    .update(stableJson(stripped(o)))
    .digest('base64');
}

const HASH = '_contentHash';

/** True when the content changed (not counting status and what istiod/the apiserver write). */
export function contentChanged(oldObj: KObject, newObj: KObject): boolean {
  return (oldObj[HASH] ?? contentHash(oldObj)) !== (newObj[HASH] ?? contentHash(newObj));
}

/** True when an update changes something the operator renders or reacts to. */
export function isMeaningfulUpdate(oldObj: KObject, newObj: KObject): boolean {
  if (contentChanged(oldObj, newObj)) return true;
  return stableJson(readiness(oldObj)) !== stableJson(readiness(newObj));
}

/**
 * What the controller keeps of an owned object in its watch cache: identity, labels, resourceVersion, the
 * content digest, and only the fields it reads (Deployment replicas/status, webhook failurePolicy and targets). Istio's
 * injector ConfigMap and CRD schemas are tens of KiB each; 20 installs of them would dominate the heap.
 */
export function slimForCache(o: KObject): KObject {
  const md = o.metadata ?? {};
  const w = o as Watched;
  const out: Watched = {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: {
      name: md.name,
      namespace: md.namespace,
      resourceVersion: md.resourceVersion,
      generation: md.generation,
      labels: md.labels,
      uid: md.uid,
      deletionTimestamp: md.deletionTimestamp,
    },
    [HASH]: contentHash(o),
  };
  if (o.kind === 'Deployment') {
    out.spec = { replicas: w.spec?.replicas };
    out.status = w.status;
  }
  if (o.kind === 'DaemonSet') out.status = w.status;
  // What readiness judges (apply/objectready.ts): where webhooks call (not the caBundle), what a Service leads to,
  // and endpoints' addresses; a remote's are a handful of fields.
  if (Array.isArray(w.webhooks)) {
    out.webhooks = w.webhooks.map((h) => {
      const { url, service } = h.clientConfig ?? {};
      return { name: h.name, failurePolicy: h.failurePolicy, clientConfig: { ...(url ? { url } : {}), ...(service ? { service } : {}) } };
    });
  }
  if (o.kind === 'Service') {
    const sp: NonNullable<Watched['spec']> = w.spec ?? {};
    out.spec = { type: sp.type, externalName: sp.externalName, selector: sp.selector };
  }
  if (o.kind === 'Endpoints') out.subsets = w.subsets;
  if (o.kind === 'EndpointSlice') {
    out.endpoints = (w.endpoints ?? []).map((e) => ({ addresses: e.addresses, conditions: e.conditions }));
    out.ports = w.ports;
  }
  return out;
}
