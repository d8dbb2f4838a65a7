import type { K8sObject } from '../api/types.js';

import { LABEL_COMPONENT, LABEL_OWNER_NAME, LABEL_OWNER_NAMESPACE, LABEL_REVISION, LABEL_VERSION } from '../render/labels.js';
import { STAGES as RENDER_STAGES, stageIndex } from '../render/order.js';

// Who owns an applied object, as the ownership labels (written by render to every object) say.
// Render's labels.ts names the labels and order.ts the stages; apply only reads them.
export { LABEL_COMPONENT, LABEL_VERSION };
export const LABEL_OWNER = LABEL_OWNER_NAME;
export { LABEL_OWNER_NAMESPACE };
export const LABEL_REV = LABEL_REVISION;
export const LABEL_NOT_PRUNED = 'install.operator.istio.io/owning-resource-not-pruned';
/** Marks our inventory ConfigMaps, so uninstall --purge can find every owner's. */
export const LABEL_INVENTORY = 'install.operator.istio.io/inventory';

/** The field manager of every apply we make. One name, so our ownership is one managedFields entry. */
export const FIELD_MANAGER = 'istio-operator';

export interface Owner {
  /** IstioOperator name (`unknown` when the input had none, as Istio labels it). */
  name: string;
  /** IstioOperator namespace label value ('' when unset). */
  namespace: string;
  /** `istio.io/rev` value: the revision, or `default`. */
  rev: string;
}

/** The owner the rendered objects declare; every rendered object carries the same labels. */
export function ownerOf(objects: K8sObject[], fallback: Owner): Owner {
  const o = objects.find((x) => x.metadata.labels?.[LABEL_OWNER]);
  if (!o) return fallback;
  const l = o.metadata.labels!;
  return { name: l[LABEL_OWNER]!, namespace: l[LABEL_OWNER_NAMESPACE] ?? fallback.namespace, rev: l[LABEL_REV] ?? fallback.rev };
}

/** True when live labels say the object is ours: same owner name, owner namespace (if labelled) and revision. */
export function ownedBy(labels: Record<string, string> | undefined, owner: Owner): boolean {
  if (!labels) return false;
  if (labels[LABEL_OWNER] !== owner.name) return false;
  if ((labels[LABEL_OWNER_NAMESPACE] ?? '') !== owner.namespace) return false;
  return (labels[LABEL_REV] ?? 'default') === owner.rev;
}

export function ownerLabels(owner: Owner): Record<string, string> {
  return { [LABEL_OWNER]: owner.name, ...(owner.namespace ? { [LABEL_OWNER_NAMESPACE]: owner.namespace } : {}), [LABEL_REV]: owner.rev };
}

// Stage order is render's (order.ts): CRDs → namespaces → cluster RBAC → config → workloads → policy → webhooks.
export const STAGES = RENDER_STAGES;

export function stageOf(kind: string): number {
  return stageIndex({ kind });
}

export function byStage<T extends { kind: string }>(objects: T[]): T[][] {
  const out: T[][] = STAGES.map(() => []);
  for (const o of objects) out[stageOf(o.kind)]!.push(o);
  return out;
}

// CRDs are shared by every IstioOperator and revision in the cluster. If each install stamped its own
// owner and revision on them, two installs would relabel the CRDs back and forth forever (no install
// would ever be a no-op, and an operator with two IstioOperators would never settle). So a CRD's apply
// body carries the component and version labels but no owner identity; only `uninstall --purge` removes
// CRDs, and it recognises them by the component label and their Istio API group.
export const SHARED_KINDS = new Set(['CustomResourceDefinition']);

export function sharedBody<T extends { kind: string; metadata: { labels?: Record<string, string> } }>(o: T): T {
  if (!SHARED_KINDS.has(o.kind) || !o.metadata.labels) return o;
  const labels = { ...o.metadata.labels };
  delete labels[LABEL_OWNER];
  delete labels[LABEL_OWNER_NAMESPACE];
  delete labels[LABEL_REV];
  return { ...o, metadata: { ...o.metadata, labels } };
}

/** An Istio CRD we (or istioctl) installed: the component label, and an Istio API group. */
export function isOurCRD(live: Record<string, any>): boolean {
  return !!live.metadata?.labels?.[LABEL_COMPONENT] && /(^|\.)istio\.io$/.test(String(live.spec?.group ?? ''));
}
