import { STAGES, stageIndex } from '../api/kinds.js';
import { LABEL_COMPONENT, LABEL_OWNER_NAME, LABEL_OWNER_NAMESPACE, LABEL_REVISION } from '../api/labels.js';
import type { LiveCRD } from '../api/live.js';

// What apply decides from ownership: the field manager, stage order, and how shared objects (CRDs) are applied
// and recognised. Who owns what is api/owner.ts; the label names are api/labels.ts.

/** The field manager of every apply we make. One name, so our ownership is one managedFields entry. */
export const FIELD_MANAGER = 'istio-operator';

/** Objects grouped by the kinds table's stages (api/kinds.ts), every stage present, in apply order. */
export function byStage<T extends { kind: string }>(objects: T[]): T[][] {
  const out: T[][] = STAGES.map(() => []);
  for (const o of objects) out[stageIndex(o.kind)]!.push(o);
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
  delete labels[LABEL_OWNER_NAME];
  delete labels[LABEL_OWNER_NAMESPACE];
  delete labels[LABEL_REVISION];
  return { ...o, metadata: { ...o.metadata, labels } };
}

/** An Istio CRD we (or istioctl) installed: the component label, and an Istio API group. */
export function isOurCRD(live: LiveCRD): boolean {
  return !!live.metadata?.labels?.[LABEL_COMPONENT] && /(^|\.)istio\.io$/.test(String(live.spec?.group ?? ''));
}
