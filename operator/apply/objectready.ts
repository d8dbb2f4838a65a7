import type { K8sObject } from '../api/types.js';
import type {
  LiveEndpointSlice,
  LiveEndpoints,
  LiveObject,
  LivePod,
  LiveService,
  LiveWebhookConfiguration,
  LiveWorkload,
  Webhook,
} from '../api/live.js';
import { LABEL_COMPONENT } from '../api/labels.js';
import { podSelector, podTrouble, workloadBlocked, workloadProgress, workloadReady } from './readiness.js';
import { refOf, refString, type ObjectRef } from './resources.js';

// Whether what an install rendered serves, judged per object by its kind from the live object, so that it holds for
// whatever objects the render gives: workloads by their rollout, and what a webhook's calls go through (the webhook
// configuration, the Service it names, that Service's endpoints). A remote cluster (profile remote) runs no istiod:
// its injector webhook and its `istiod` Service lead to the primary's istiod, and those are what it needs; it has
// no Deployment to wait for. Kinds with nothing to judge are ready once applied.

export type Live = LiveObject | undefined;

export interface Verdict {
  ready: boolean;
  /** Cannot become ready without someone acting: waiting would never end. */
  stuck?: boolean;
  why?: string;
}

export interface ComponentReadiness {
  ready: boolean;
  stuck?: boolean;
  message?: string;
}

/** How the judge sees the cluster: a cache that may lag (optional), a read that does not, and pods by selector. */
export interface Look {
  cached?(ref: ObjectRef): Live;
  get(ref: ObjectRef): Promise<Live>;
  /** Pods of a workload that is not ready, listed only then (a settled install lists none); undefined if unreadable. */
  pods?(namespace: string, selector: string): Promise<LivePod[] | undefined>;
}

const WEBHOOK_KINDS = new Set(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
const JUDGED_KINDS = new Set(['Deployment', 'DaemonSet', 'Endpoints', 'EndpointSlice', 'Service', ...WEBHOOK_KINDS]);
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const ok: Verdict = { ready: true };

/** Whether this kind's live state says more than "applied". */
export function judgedKind(kind: string): boolean {
  return JUDGED_KINDS.has(kind);
}

const sortedSet = (xs: Iterable<string | number | undefined>) => [...new Set([...xs].map(String))].sort();
const missingFrom = (want: string[], have: string[]) => want.filter((w) => !have.includes(w));

/** The addresses and port numbers of Endpoints (subsets) or an EndpointSlice (endpoints, ports). */
function endpointsOf(o: LiveEndpoints & LiveEndpointSlice): { addresses: string[]; ports: string[] } {
  if (o.kind === 'EndpointSlice') {
    const eps = o.endpoints ?? [];
    // An endpoint explicitly not ready takes no traffic; unset means ready (discovery.k8s.io/v1).
    const serving = eps.filter((e) => e.conditions?.ready !== false);
    return { addresses: sortedSet(serving.flatMap((e) => e.addresses ?? [])), ports: sortedSet((o.ports ?? []).map((p) => p.port)) };
  }
  const subsets = o.subsets ?? [];
  return {
    addresses: sortedSet(subsets.flatMap((s) => (s.addresses ?? []).map((a) => a.ip))),
    ports: sortedSet(subsets.flatMap((s) => (s.ports ?? []).map((p) => p.port))),
  };
}

/** Where a webhook sends its calls, without the caBundle (the primary's istiod patches that into a remote's). */
function target(w: Webhook | undefined): string {
  const c: NonNullable<Webhook['clientConfig']> = w?.clientConfig ?? {};
  if (c.url) return `URL ${c.url}`;
  const s: Partial<NonNullable<typeof c.service>> = c.service ?? {};
  return `Service ${s.namespace}/${s.name}${s.port && s.port !== 443 ? `:${s.port}` : ''}${s.path ?? ''}`;
}

/** One rendered object against its live self, by kind; no other object is looked at. */
export function judgeObject(rendered: K8sObject, live: Live): Verdict {
  const kind = rendered.kind;
  const what = refString(refOf(rendered));
  if (!judgedKind(kind)) return ok;
  if (!live) return { ready: false, why: `${what} not found` };
  if (kind === 'Deployment' || kind === 'DaemonSet') {
    const workload = live as LiveWorkload;
    if (workloadReady(workload, kind)) return ok;
    const blocked = workloadBlocked(workload, kind);
    return { ready: false, stuck: !!blocked, why: `${what}: ${blocked ?? workloadProgress(workload, kind)}` };
  }
  if (kind === 'Endpoints' || kind === 'EndpointSlice') {
    const want = endpointsOf(rendered as LiveEndpoints & LiveEndpointSlice);
    const have = endpointsOf(live as LiveEndpoints & LiveEndpointSlice);
    const lost = missingFrom(want.addresses, have.addresses);
    const lostPorts = missingFrom(want.ports, have.ports);
    if (!lost.length && !lostPorts.length) return ok;
    return {
      ready: false,
      why: `${what} does not list ${[...lost.map((a) => `address ${a}`), ...lostPorts.map((p) => `port ${p}`)].join(', ')} yet`,
    };
  }
  if (kind === 'Service') {
    const want = (rendered as LiveService).spec?.externalName;
    if (want && (live as LiveService).spec?.externalName !== want) return { ready: false, why: `${what} does not name ${want} yet` };
    return ok;
  }
  // Webhook configurations: each rendered webhook is there and calls what the render says.
  const liveHooks = (live as LiveWebhookConfiguration).webhooks ?? [];
  for (const w of (rendered as LiveWebhookConfiguration).webhooks ?? []) {
    const l = liveHooks.find((x) => x.name === w.name);
    if (!l) return { ready: false, why: `${what} has no webhook ${w.name} yet` };
    if (target(l) !== target(w)) return { ready: false, why: `${what}: webhook ${w.name} calls ${target(l)}, not ${target(w)} yet` };
  }
  return ok;
}

/**
 * Whether the Services that webhooks which fail closed call have something behind them. A Service with a selector
 * is served by pods (its workload is judged on its own), an ExternalName one by the host it names; a Service with
 * neither needs endpoints, rendered (a remote's `istiod` pointing at the primary) or someone else's. A Service that
 * exists nowhere, or has no endpoints and none coming, is stuck: pod creation in the namespaces the webhook
 * selects fails until someone acts.
 */
async function webhookBackends(webhookConfig: K8sObject, objects: K8sObject[], read: (ref: ObjectRef) => Promise<Live>): Promise<Verdict> {
  const what = refString(refOf(webhookConfig));
  for (const w of (webhookConfig as LiveWebhookConfiguration).webhooks ?? []) {
    const svc = w.clientConfig?.service;
    // Ignore: the API server admits what it cannot check, so a missing backend blocks nothing.
    if (!svc?.name || w.failurePolicy === 'Ignore') continue;
    const ref: ObjectRef = { apiVersion: 'v1', kind: 'Service', name: svc.name, namespace: svc.namespace };
    const renderedSvc = objects.find((o) => o.kind === 'Service' && o.metadata.name === svc.name && o.metadata.namespace === svc.namespace);
    const service = (renderedSvc ?? (await read(ref))) as LiveService | undefined;
    if (!service) {
      return {
        ready: false,
        stuck: true,
        why: `${what}: webhook ${w.name} calls Service ${svc.namespace}/${svc.name}, which does not exist and this install does not create it`,
      };
    }
    if (service.spec?.type === 'ExternalName' || Object.keys(service.spec?.selector ?? {}).length) continue;
    const renderedEndpoints = objects.some(
      (o) =>
        o.metadata.namespace === svc.namespace &&
        ((o.kind === 'Endpoints' && o.metadata.name === svc.name) ||
          (o.kind === 'EndpointSlice' && o.metadata.labels?.[SERVICE_NAME_LABEL] === svc.name)),
    );
    if (renderedEndpoints) continue; // judged as objects of their own
    const live = await read({ apiVersion: 'v1', kind: 'Endpoints', name: svc.name, namespace: svc.namespace });
    if (live && endpointsOf(live as LiveEndpoints).addresses.length) continue;
    return {
      ready: false,
      stuck: true,
      why: `${what}: webhook ${w.name} calls Service ${svc.namespace}/${svc.name}, which has no selector and no endpoints, and this install gives it none`,
    };
  }
  return ok;
}

/**
 * Why a workload that is not ready, and not blocked at the workload, is not: its pods may say (an image that cannot
 * be pulled or a crash: stuck; no node fits: not stuck, a node may come).
 */
async function podsVerdict(o: K8sObject, live: Live, v: Verdict, look: Look): Promise<Verdict> {
  if (v.ready || v.stuck || !live || !look.pods || (o.kind !== 'Deployment' && o.kind !== 'DaemonSet')) return v;
  const selector = podSelector(live);
  const pods = selector && o.metadata.namespace ? await look.pods(o.metadata.namespace, selector) : undefined;
  const trouble = pods ? podTrouble(pods) : undefined;
  if (!trouble) return v;
  return { ready: false, stuck: trouble.stuck, why: `${refString(refOf(o))}: ${workloadProgress(live, o.kind)}; ${trouble.message}` };
}

/**
 * Readiness per component (the `operator.istio.io/component` label) of what an install rendered. A cached answer
 * that is not ready is confirmed by a read, since the cache may lag behind a write just made.
 */
export async function componentReadiness(objects: K8sObject[], look: Look): Promise<Record<string, ComponentReadiness>> {
  const out: Record<string, ComponentReadiness> = {};
  for (const o of objects) {
    const c = o.metadata.labels?.[LABEL_COMPONENT];
    if (c && !out[c]) out[c] = { ready: true };
  }
  const reads = new Map<string, Promise<Live>>();
  const read = (ref: ObjectRef) => {
    const key = `${ref.apiVersion}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
    if (!reads.has(key)) reads.set(key, look.get(ref));
    return reads.get(key)!;
  };
  const add = (o: K8sObject, v: Verdict) => {
    if (v.ready) return;
    const c = o.metadata.labels?.[LABEL_COMPONENT] ?? 'Unknown';
    const prev = out[c];
    const message = prev && !prev.ready && prev.message ? `${prev.message}, ${v.why}` : v.why;
    out[c] = { ready: false, stuck: !!v.stuck || !!prev?.stuck, ...(message ? { message } : {}) };
  };
  for (const o of objects) {
    if (!judgedKind(o.kind)) continue;
    const ref = refOf(o);
    let v = judgeObject(o, look.cached?.(ref));
    if (!v.ready) {
      const live = await read(ref);
      v = await podsVerdict(o, live, judgeObject(o, live), look);
    }
    if (v.ready && WEBHOOK_KINDS.has(o.kind)) v = await webhookBackends(o, objects, read);
    add(o, v);
  }
  return out;
}
