// The one kinds table: every Kubernetes kind an install renders (or reads), with its REST mapping and what each
// layer does with it. Render orders objects by `stage`; apply maps kinds to paths without discovery and prunes
// in reverse stage order; the controller watches the `watched` kinds for drift; `uninstall --purge` sweeps the
// `swept` kinds by label; the RBAC test checks the operator's ClusterRole grants what this table implies.
import { LABEL_OWNER_NAME } from './labels.js';

/** Apply order: what others depend on first, webhooks last (so the API server never calls an absent istiod). */
export const STAGES = ['crds', 'namespaces', 'cluster-rbac', 'config', 'workloads', 'policy', 'webhooks'] as const;
export type Stage = (typeof STAGES)[number];

export interface KindInfo {
  apiVersion: string;
  kind: string;
  /** REST resource name. */
  plural: string;
  namespaced: boolean;
  stage: Stage;
  /** Rendered by some component: the controller watches its owned objects of this kind, and the operator writes it. */
  rendered: boolean;
  /** Watched for cache only (no reconcile on change): shared objects without an owner label. */
  cacheOnly?: boolean;
  /** Swept by ownership label on `uninstall --purge` (objects whose inventory was lost). */
  swept: boolean;
  /**
   * Served only where something else installs its CRD (Multus's NetworkAttachmentDefinition): rendered for the
   * platforms that have it, never watched (an informer on a kind the cluster does not serve would never sync, and
   * the controller would not start), swept only where served.
   */
  optional?: boolean;
  /**
   * Added to the owner label to select our objects of this kind, where others carry our labels too: Kubernetes'
   * EndpointSlice controllers copy a Service's labels (ours with them) onto the slices they manage, which change
   * with every pod's readiness. Watching those as ours made each change a reconcile (8 applies for a burst of 100
   * edits instead of 2, `npm run bench`).
   */
  ownSelector?: string;
}

const k = (
  apiVersion: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  stage: Stage,
  flags: { rendered?: boolean; swept?: boolean; cacheOnly?: boolean; optional?: boolean; ownSelector?: string } = {},
): KindInfo => ({
  apiVersion,
  kind,
  plural,
  namespaced,
  stage,
  rendered: flags.rendered ?? true,
  swept: flags.swept ?? flags.rendered ?? true,
  ...(flags.cacheOnly ? { cacheOnly: true } : {}),
  ...(flags.optional ? { optional: true } : {}),
  ...(flags.ownSelector ? { ownSelector: flags.ownSelector } : {}),
});

/** In apply order within each stage. */
export const KINDS: readonly KindInfo[] = Object.freeze([
  // Cached, not reacted to: lets a reconcile skip CRDs it applied and nobody changed since. CRDs are shared by every
  // install and carry no owner label (apply/owner.ts), so they are selected by component label.
  k('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'customresourcedefinitions', false, 'crds', { cacheOnly: true }),
  k('v1', 'Namespace', 'namespaces', false, 'namespaces', { rendered: false, swept: false }),
  k('rbac.authorization.k8s.io/v1', 'ClusterRole', 'clusterroles', false, 'cluster-rbac'),
  k('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'clusterrolebindings', false, 'cluster-rbac'),
  k('v1', 'ServiceAccount', 'serviceaccounts', true, 'config'),
  k('v1', 'ConfigMap', 'configmaps', true, 'config'),
  k('v1', 'Secret', 'secrets', true, 'config', { rendered: false, swept: true }),
  k('rbac.authorization.k8s.io/v1', 'Role', 'roles', true, 'config'),
  k('rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings', true, 'config'),
  k('v1', 'Service', 'services', true, 'workloads'),
  k('apps/v1', 'Deployment', 'deployments', true, 'workloads'),
  k('apps/v1', 'DaemonSet', 'daemonsets', true, 'workloads'),
  k('apps/v1', 'StatefulSet', 'statefulsets', true, 'workloads', { rendered: false, swept: false }),
  k('autoscaling/v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, 'policy'),
  k('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true, 'policy'),
  k('networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies', true, 'policy'),
  k('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', 'mutatingwebhookconfigurations', false, 'webhooks'),
  k('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration', 'validatingwebhookconfigurations', false, 'webhooks'),
  k('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', 'validatingadmissionpolicies', false, 'webhooks', {
    rendered: false,
    swept: false,
  }),
  k('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicyBinding', 'validatingadmissionpolicybindings', false, 'webhooks', {
    rendered: false,
    swept: false,
  }),
  // Rendered by few installs (a remote's EndpointSlice for the primary's istiod, the node agents' quota): last in the
  // config stage.
  k('discovery.k8s.io/v1', 'EndpointSlice', 'endpointslices', true, 'config', {
    ownSelector: 'endpointslice.kubernetes.io/managed-by notin (endpointslice-controller.k8s.io,endpointslicemirroring-controller.k8s.io)',
  }),
  k('v1', 'ResourceQuota', 'resourcequotas', true, 'config'),
  // The CNI agent's network for Multus (cni.provider multus: the openshift platform), always `default/istio-cni`.
  // Its CRD is Multus's (OpenShift ships it): applied where rendered, not watched.
  k('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition', 'network-attachment-definitions', true, 'config', { optional: true }),
  // What a remote rendered for the primary's istiod before EndpointSlices: no longer rendered, still known, so an
  // upgraded install prunes the one it made and `uninstall --purge` sweeps it.
  k('v1', 'Endpoints', 'endpoints', true, 'config', { rendered: false, swept: true }),
  // Read, never written: usage of a revision, and older API versions still mapped without discovery.
  k('v1', 'Pod', 'pods', true, 'workloads', { rendered: false, swept: false }),
  k('autoscaling/v1', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, 'policy', { rendered: false, swept: false }),
]);

/** The label selector of our objects of a kind (what the controller watches and `uninstall --purge` sweeps). */
export function ownedSelector(k: KindInfo): string {
  return k.ownSelector ? `${LABEL_OWNER_NAME},${k.ownSelector}` : LABEL_OWNER_NAME;
}

const byKey = new Map(KINDS.map((i) => [`${i.apiVersion}/${i.kind}`, i]));
// A kind listed under two apiVersions (HPA autoscaling/v2 and v1) takes its first entry's stage and rank.
const byKind = new Map<string, KindInfo>();
const rank = new Map<string, number>();
KINDS.forEach((i, n) => {
  if (byKind.has(i.kind)) return;
  byKind.set(i.kind, i);
  rank.set(i.kind, n);
});

/** The table's entry for apiVersion + kind, if known (CRs of Istio's own kinds are discovered instead). */
export function kindInfo(apiVersion: string, kind: string): KindInfo | undefined {
  return byKey.get(`${apiVersion}/${kind}`);
}

/** The stage of a kind. Kinds we do not know (Istio config resources and the like) go with config, after the CRDs. */
export function stageOf(kind: string): Stage {
  return byKind.get(kind)?.stage ?? 'config';
}

export function stageIndex(kind: string): number {
  return STAGES.indexOf(stageOf(kind));
}

/** A kind's rank in apply order (unknown kinds after every known one). */
export function kindRank(kind: string): number {
  return rank.get(kind) ?? KINDS.length;
}

/** The REST group of an apiVersion ('' for the core group). */
export const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '');
export const versionOf = (apiVersion: string): string => apiVersion.slice(apiVersion.indexOf('/') + 1);
