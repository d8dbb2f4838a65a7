import type { K8sObject } from '../api/types.js';

// The order objects are written and applied in: what others depend on comes first (CRDs before anything
// of their kinds, namespaces before what lives in them, RBAC and config before the workloads that use
// them), and webhooks last, so the API server never calls an istiod that is not there yet.

export const STAGES = ['crds', 'namespaces', 'cluster-rbac', 'config', 'workloads', 'policy', 'webhooks'] as const;
export type Stage = (typeof STAGES)[number];

/** Known kinds, in the order they take inside their stage. */
const KIND_STAGE: Array<[string, Stage]> = [
  ['CustomResourceDefinition', 'crds'],
  ['Namespace', 'namespaces'],
  ['ClusterRole', 'cluster-rbac'],
  ['ClusterRoleBinding', 'cluster-rbac'],
  ['ServiceAccount', 'config'],
  ['ConfigMap', 'config'],
  ['Secret', 'config'],
  ['Role', 'config'],
  ['RoleBinding', 'config'],
  ['Service', 'workloads'],
  ['Deployment', 'workloads'],
  ['DaemonSet', 'workloads'],
  ['StatefulSet', 'workloads'],
  ['HorizontalPodAutoscaler', 'policy'],
  ['PodDisruptionBudget', 'policy'],
  ['NetworkPolicy', 'policy'],
  ['MutatingWebhookConfiguration', 'webhooks'],
  ['ValidatingWebhookConfiguration', 'webhooks'],
  ['ValidatingAdmissionPolicy', 'webhooks'],
  ['ValidatingAdmissionPolicyBinding', 'webhooks'],
];
const kindRank = new Map(KIND_STAGE.map(([k], i) => [k, i]));
const kindStage = new Map(KIND_STAGE);

/** The stage of an object. Kinds we do not know (Istio config resources and the like) go with config, after the CRDs. */
export function stageOf(o: Pick<K8sObject, 'kind'>): Stage {
  return kindStage.get(o.kind) ?? 'config';
}

export function stageIndex(o: Pick<K8sObject, 'kind'>): number {
  return STAGES.indexOf(stageOf(o));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareObjects(a: K8sObject, b: K8sObject): number {
  return (
    stageIndex(a) - stageIndex(b) ||
    (kindRank.get(a.kind) ?? KIND_STAGE.length) - (kindRank.get(b.kind) ?? KIND_STAGE.length) ||
    cmp(a.kind, b.kind) ||
    cmp(a.metadata?.namespace ?? '', b.metadata?.namespace ?? '') ||
    cmp(a.metadata?.name ?? '', b.metadata?.name ?? '') ||
    cmp(a.apiVersion, b.apiVersion)
  );
}

/** A new array in apply order (the input is left as it is). */
export function sortObjects(objects: K8sObject[]): K8sObject[] {
  return [...objects].sort(compareObjects);
}

/** Objects grouped by stage, in stage order; empty stages omitted. */
export function byStage(objects: K8sObject[]): Array<{ stage: Stage; objects: K8sObject[] }> {
  const sorted = sortObjects(objects);
  return STAGES.map((stage) => ({ stage, objects: sorted.filter((o) => stageOf(o) === stage) })).filter((s) => s.objects.length > 0);
}
