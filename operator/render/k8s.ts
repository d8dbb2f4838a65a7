import type { Warning } from '../api/errors.js';
import { isMap } from '../api/merge.js';
import type { KubernetesResourceSpec } from '../api/types.js';
import type { K8sObject } from '../api/types.js';
import type { LiveWorkload } from '../api/live.js';
import { strategicMerge } from './smp.js';

// `components.<c>.k8s` settings, applied to the rendered objects the way Istio's installer does: each
// setting is a strategic merge patch at one place of one object (the component's Deployment, Service,
// HorizontalPodAutoscaler or PodDisruptionBudget, all named like the component). `Workload` is the component's
// Deployment, or DaemonSet for the node agents (cni, ztunnel).

type Target = 'Workload' | 'Deployment' | 'Service' | 'HorizontalPodAutoscaler' | 'PodDisruptionBudget';

/** Where each setting lands. `container` paths are inside the component's main container. */
const SETTINGS: Record<Exclude<keyof KubernetesResourceSpec, 'overlays'>, { kind: Target; path: string[]; container?: true }> = {
  affinity: { kind: 'Workload', path: ['spec', 'template', 'spec', 'affinity'] },
  env: { kind: 'Workload', path: ['env'], container: true },
  hpaSpec: { kind: 'HorizontalPodAutoscaler', path: ['spec'] },
  imagePullPolicy: { kind: 'Workload', path: ['imagePullPolicy'], container: true },
  nodeSelector: { kind: 'Workload', path: ['spec', 'template', 'spec', 'nodeSelector'] },
  podDisruptionBudget: { kind: 'PodDisruptionBudget', path: ['spec'] },
  podAnnotations: { kind: 'Workload', path: ['spec', 'template', 'metadata', 'annotations'] },
  priorityClassName: { kind: 'Workload', path: ['spec', 'template', 'spec', 'priorityClassName'] },
  readinessProbe: { kind: 'Workload', path: ['readinessProbe'], container: true },
  replicaCount: { kind: 'Deployment', path: ['spec', 'replicas'] },
  resources: { kind: 'Workload', path: ['resources'], container: true },
  service: { kind: 'Service', path: ['spec'] },
  serviceAnnotations: { kind: 'Service', path: ['metadata', 'annotations'] },
  // A DaemonSet's equivalent is spec.updateStrategy (see applyK8sSettings).
  strategy: { kind: 'Deployment', path: ['spec', 'strategy'] },
  tolerations: { kind: 'Workload', path: ['spec', 'template', 'spec', 'tolerations'] },
  // Istio applies securityContext to the pod, not the container (sysctls live there).
  securityContext: { kind: 'Workload', path: ['spec', 'template', 'spec', 'securityContext'] },
  volumes: { kind: 'Workload', path: ['spec', 'template', 'spec', 'volumes'] },
  volumeMounts: { kind: 'Workload', path: ['volumeMounts'], container: true },
};

export interface K8sTarget {
  /** Name of the component's Deployment/Service/HPA/PDB (`istiod-R`, or the gateway name). */
  name: string;
  /** The main container those container settings go to (`discovery`, `istio-proxy`). */
  container: string;
  /** Kind of the component's workload: Deployment, or DaemonSet for the node agents. */
  workload?: 'Deployment' | 'DaemonSet';
  /** Field path of the k8s block, for warnings: `components.pilot.k8s`. */
  field: string;
}

/** Applies the k8s settings in place on `objects` (the objects of one component). */
export function applyK8sSettings(objects: K8sObject[], k8s: KubernetesResourceSpec | undefined, t: K8sTarget): Warning[] {
  const warnings: Warning[] = [];
  if (!k8s) return warnings;
  for (const [setting, mapped] of Object.entries(SETTINGS) as Array<[keyof typeof SETTINGS, (typeof SETTINGS)[keyof typeof SETTINGS]]>) {
    const value = k8s[setting];
    // The node agents' rollout settings have the same shape under another name (RollingUpdate with maxUnavailable/maxSurge).
    const where =
      setting === 'strategy' && t.workload === 'DaemonSet' ? { kind: 'Workload' as const, path: ['spec', 'updateStrategy'] } : mapped;
    if (value === undefined || value === null) continue;
    // With an HPA rendered, a fixed replica count would be rewritten by every apply and undone by the
    // autoscaler: the two fight forever (and Argo CD shows the Deployment OutOfSync). Istio's charts
    // leave `replicas` out while autoscaling is on; so do we, and say so.
    if (setting === 'replicaCount' && objects.some((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata?.name === t.name)) {
      warnings.push({
        path: `${t.field}.replicaCount`,
        message:
          'ignored: the HorizontalPodAutoscaler sets the replica count while autoscaling is on (use hpaSpec.minReplicas, or turn autoscaling off)',
      });
      continue;
    }
    const kind = where.kind === 'Workload' ? (t.workload ?? 'Deployment') : where.kind;
    const obj = objects.find((o) => o.kind === kind && o.metadata?.name === t.name);
    if (!obj) {
      const why =
        kind === 'HorizontalPodAutoscaler' && t.workload !== 'DaemonSet'
          ? ' (autoscaling is off)'
          : t.workload === 'DaemonSet' && where.kind !== 'Workload'
            ? ' (a DaemonSet runs one pod per node)'
            : '';
      warnings.push({ path: `${t.field}.${setting}`, message: `ignored: this component renders no ${kind} named "${t.name}"${why}` });
      continue;
    }
    let holder: Record<string, unknown> = obj;
    let fieldPath: string[] = [];
    if (where.container) {
      const containers: unknown[] = (obj as LiveWorkload).spec?.template?.spec?.containers ?? [];
      const c = containers.find((x) => isMap(x) && x.name === t.container) ?? containers[0];
      if (!isMap(c)) {
        warnings.push({ path: `${t.field}.${setting}`, message: `ignored: ${kind} "${t.name}" has no containers` });
        continue;
      }
      holder = c;
      fieldPath = ['spec', 'template', 'spec', 'containers'];
    }
    setMerged(holder, where.path, exclusivePdb(setting, value), fieldPath);
  }
  return warnings;
}

// A PodDisruptionBudget takes minAvailable or maxUnavailable, never both: the one the user sets
// replaces the other one we rendered (Istio does the same).
function exclusivePdb(setting: string, value: unknown): unknown {
  if (setting !== 'podDisruptionBudget' || !isMap(value)) return value;
  if (value.maxUnavailable !== undefined && value.minAvailable === undefined) return { ...value, minAvailable: null };
  if (value.minAvailable !== undefined && value.maxUnavailable === undefined) return { ...value, maxUnavailable: null };
  return value;
}

function setMerged(holder: Record<string, unknown>, path: string[], value: unknown, prefix: string[]): void {
  let cur = holder;
  for (const p of path.slice(0, -1)) {
    const next = cur[p];
    if (isMap(next)) cur = next;
    else cur = cur[p] = {};
  }
  const last = path[path.length - 1]!;
  const merged = strategicMerge(cur[last], value, [...prefix, ...path]);
  if (merged === undefined || merged === null) delete cur[last];
  else cur[last] = merged;
}
