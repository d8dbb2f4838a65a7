import type { KubeClient } from './client.js';

import { refString, type ObjectRef, type Resources } from './resources.js';
import { LABEL_COMPONENT } from '../api/labels.js';
import type { List, LiveObject, LivePod, LiveWorkload } from '../api/live.js';

// Waits that say what they wait for, and on timeout, which object is not ready and why.

export interface Progress {
  /** A component started waiting. */
  waiting(component: string, what: string): void;
  ready(component: string): void;
  info(line: string): void;
  /** Stop any animation (before printing errors). */
  stop(): void;
}

const TITLES: Record<string, string> = {
  Base: 'Istio core',
  Pilot: 'Istiod',
  IngressGateways: 'Ingress gateways',
  EgressGateways: 'Egress gateways',
  Cni: 'CNI',
  Ztunnel: 'Ztunnel',
};
export function componentTitle(c: string): string {
  return TITLES[c] ?? c;
}

/** istioctl-like output: a spinner per pending component on a TTY, plain lines otherwise (pipes, CI). */
export function consoleProgress(stream: NodeJS.WriteStream = process.stderr, opts: { plain?: boolean } = {}): Progress {
  const plain = opts.plain ?? (!stream.isTTY || !!process.env.CI);
  const pending = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let frame = 0;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  const clear = () => stream.write('\r\x1b[K');
  const draw = () => {
    if (!pending.size) return;
    clear();
    const names = [...pending.keys()].map(componentTitle).join(', ');
    stream.write(
      `${frames[frame++ % frames.length]} Processing resources for ${names}. Waiting for ${[...pending.values()].join(', ')}`.slice(
        0,
        (stream.columns || 120) - 1,
      ),
    );
  };
  return {
    waiting(c, what) {
      pending.set(c, what);
      if (plain) stream.write(`- waiting for ${componentTitle(c)}: ${what}\n`);
      else if (!timer) timer = setInterval(draw, 100);
    },
    ready(c) {
      pending.delete(c);
      if (plain) stream.write(`✔ ${componentTitle(c)} installed\n`);
      else {
        clear();
        stream.write(`✔ ${componentTitle(c)} installed\n`);
        if (!pending.size && timer) {
          clearInterval(timer);
          timer = undefined;
        } else draw();
      }
    },
    info(line) {
      if (!plain && pending.size) clear();
      stream.write(line + '\n');
    },
    stop() {
      if (timer) {
        clearInterval(timer);
        timer = undefined;
        clear();
      }
    },
  };
}

export const silentProgress: Progress = { waiting() {}, ready() {}, info() {}, stop() {} };

export class NotReadyError extends Error {
  constructor(
    message: string,
    readonly objects: Array<{ ref: ObjectRef; why: string }>,
  ) {
    super(message);
    this.name = 'NotReadyError';
  }
}

function conditionsText(o: LiveWorkload | undefined): string {
  const cs = o?.status?.conditions ?? [];
  // DaemonSets report no conditions: their counts say it.
  if (o?.kind === 'DaemonSet') return workloadProgress(o, 'DaemonSet');
  if (!cs.length) return 'no conditions reported yet';
  return cs.map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason}${c.message ? ': ' + c.message : ''})` : ''}`).join('; ');
}

function isTrue(o: LiveObject | undefined, type: string): boolean {
  return !!o?.status?.conditions?.some((c) => c.type === type && c.status === 'True');
}

export function crdReady(o: LiveObject | undefined): boolean {
  return isTrue(o, 'Established');
}

export function deploymentReady(o: LiveWorkload | undefined): boolean {
  if (!o) return false;
  const st = o.status ?? {};
  if ((st.observedGeneration ?? 0) < (o.metadata?.generation ?? 0)) return false;
  const want = o.spec?.replicas ?? 1;
  if ((st.updatedReplicas ?? 0) < want) return false;
  return isTrue(o, 'Available');
}

/**
 * A DaemonSet is rolled out when its controller has seen the current spec and every node that should run it runs
 * the current pod, ready. Zero desired nodes (nothing schedulable matches) counts as rolled out, as `kubectl
 * rollout status` does: waiting would never end.
 */
export function daemonSetReady(o: LiveWorkload | undefined): boolean {
  if (!o) return false;
  const st = o.status ?? {};
  if ((st.observedGeneration ?? 0) < (o.metadata?.generation ?? 0)) return false;
  const want = st.desiredNumberScheduled ?? 0;
  return (st.updatedNumberScheduled ?? 0) >= want && (st.numberAvailable ?? 0) >= want;
}

/** Readiness of the workload kinds we render; undefined for kinds that have none to wait for. */
export function workloadReady(o: LiveWorkload | undefined, kind: string): boolean | undefined {
  if (kind === 'Deployment') return deploymentReady(o);
  if (kind === 'DaemonSet') return daemonSetReady(o);
  return undefined;
}

/**
 * Why a workload cannot become ready without someone acting, in Kubernetes' own words, or undefined while it may
 * still get there: its pods are refused (Pod Security admission, a quota: the ReplicaSet's FailedCreate), or its
 * rollout is past its progress deadline.
 */
export function workloadBlocked(o: LiveWorkload | undefined, kind: string): string | undefined {
  if (kind !== 'Deployment') return undefined;
  const conds = o?.status?.conditions ?? [];
  const failure = conds.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  if (failure) return `pods cannot be created (${failure.reason}): ${failure.message}`;
  const deadline = conds.find((c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded');
  return deadline ? `rollout stalled: ${deadline.message}` : undefined;
}

/** Container states that stay until someone acts (a new image, a fixed config): the workload cannot get ready. */
const STUCK_WAITING = new Set([
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'CrashLoopBackOff',
]);

/**
 * Why a workload's pods are not ready, in their own words (the first pod that says something): a container waiting
 * on an image or crashing (stuck: nothing changes until someone acts), or a pod the scheduler cannot place (not
 * stuck: a node may come). Undefined when the pods give no reason.
 */
export function podTrouble(pods: LivePod[]): { message: string; stuck: boolean } | undefined {
  for (const p of pods) {
    const name = p.metadata?.name ?? '?';
    for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
      const w = c.state?.waiting;
      if (w?.reason && STUCK_WAITING.has(w.reason))
        return { message: `pod ${name} container ${c.name}: ${w.reason}${w.message ? `: ${w.message}` : ''}`, stuck: true };
    }
    const sched = (p.status?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False');
    if (sched)
      return { message: `pod ${name}: ${sched.reason ?? 'not scheduled'}${sched.message ? `: ${sched.message}` : ''}`, stuck: false };
  }
  return undefined;
}

/** The label selector of a workload's pods, as a query string value (matchLabels only, as we render them). */
export function podSelector(o: LiveWorkload | undefined): string | undefined {
  const m = o?.spec?.selector?.matchLabels;
  return m && Object.keys(m).length
    ? Object.entries(m)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
    : undefined;
}

/** One line on why a workload is not ready yet. */
export function workloadProgress(o: LiveWorkload | undefined, kind: string): string {
  const st: NonNullable<LiveWorkload['status']> = o?.status ?? {};
  if (kind === 'DaemonSet')
    return `${st.numberAvailable ?? 0}/${st.desiredNumberScheduled ?? 0} nodes available, ${st.updatedNumberScheduled ?? 0} updated`;
  return `${st.availableReplicas ?? 0}/${o?.spec?.replicas ?? 1} available`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Waited {
  ref: ObjectRef;
  component: string;
  ready: (o: LiveWorkload | undefined) => boolean;
  what: string;
}

async function waitAll(client: KubeClient, res: Resources, items: Waited[], timeoutMs: number, progress: Progress): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const byComponent = new Map<string, Waited[]>();
  for (const w of items) byComponent.set(w.component, [...(byComponent.get(w.component) ?? []), w]);
  const last = new Map<Waited, LiveWorkload | undefined>();
  await Promise.all(
    [...byComponent.entries()].map(async ([component, ws]) => {
      progress.waiting(component, ws.map((w) => w.what).join(', '));
      let left = ws;
      for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
        const states = await Promise.all(
          left.map(async (w) => [w, await client.request<LiveWorkload>('GET', await res.path(w.ref), { allow404: true })] as const),
        );
        for (const [w, o] of states) last.set(w, o);
        left = states.filter(([w, o]) => !w.ready(o)).map(([w]) => w);
        if (!left.length) return progress.ready(component);
        if (Date.now() > deadline) return;
        await sleep(delay);
      }
    }),
  );
  const notReady = items.filter((w) => !w.ready(last.get(w)));
  if (notReady.length) {
    progress.stop();
    const objects = await Promise.all(
      notReady.map(async (w) => {
        const o = last.get(w);
        if (!o) return { ref: w.ref, why: 'not found' };
        // The pods' own reason, when they give one (an image that cannot be pulled, no node fits).
        const selector = podSelector(o);
        const pods =
          selector && w.ref.namespace
            ? await client
                .request<List<LivePod>>('GET', `/api/v1/namespaces/${encodeURIComponent(w.ref.namespace)}/pods`, {
                  query: { labelSelector: selector, limit: 20 },
                })
                .catch(() => undefined)
            : undefined;
        const trouble = pods ? podTrouble(pods.items ?? []) : undefined;
        return { ref: w.ref, why: conditionsText(o) + (trouble ? `; ${trouble.message}` : '') };
      }),
    );
    throw new NotReadyError(
      `timed out after ${Math.round(timeoutMs / 1000)}s waiting for:\n` + objects.map((o) => `  ${refString(o.ref)}: ${o.why}`).join('\n'),
      objects,
    );
  }
}

export async function waitForCRDs(
  client: KubeClient,
  res: Resources,
  names: string[],
  timeoutMs: number,
  progress: Progress = silentProgress,
): Promise<void> {
  if (!names.length) return;
  await waitAll(
    client,
    res,
    names.map((name) => ({
      ref: { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name },
      component: 'CRDs',
      ready: crdReady,
      what: 'CRDs Established',
    })),
    timeoutMs,
    progress,
  );
}

/** Waits for every Deployment and DaemonSet, grouped by its component label for progress lines. */
export async function waitForWorkloads(
  client: KubeClient,
  res: Resources,
  workloads: Array<{ ref: ObjectRef; labels?: Record<string, string> }>,
  timeoutMs: number,
  progress: Progress = silentProgress,
): Promise<void> {
  await waitAll(
    client,
    res,
    workloads.map((d) => ({
      ref: d.ref,
      component: d.labels?.[LABEL_COMPONENT] ?? 'Other',
      ready: (o) => workloadReady(o, d.ref.kind) ?? true,
      what: `${d.ref.kind} ${d.ref.namespace}/${d.ref.name}`,
    })),
    timeoutMs,
    progress,
  );
}
