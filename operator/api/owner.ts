import { LABEL_OWNER_NAME, LABEL_OWNER_NAMESPACE, LABEL_REVISION, labelValue } from './labels.js';
import { DEFAULT_REVISION } from './names.js';

// Who owns an install: the IstioOperator (name and namespace) and the revision. Decided once, by resolve, for the
// CLI and the operator alike; written by render as labels on every object, and compared by apply against the live
// labels before anything is pruned or handed over.

export interface Owner {
  /** IstioOperator name as a label value (`unknown` when the input had none, as Istio labels it). */
  name: string;
  /** IstioOperator namespace as a label value ('' when unset). */
  namespace: string;
  /** `istio.io/rev` value: the revision, or `default`. */
  rev: string;
}

/** Owner label value when the IstioOperator has no name (as `istioctl manifest generate` renders). */
export const OWNER_UNKNOWN = 'unknown';

export function ownerOf(metadata: { name?: string; namespace?: string } | undefined, rev: string): Owner {
  return {
    name: labelValue(metadata?.name) || OWNER_UNKNOWN,
    namespace: labelValue(metadata?.namespace),
    rev: labelValue(rev) || DEFAULT_REVISION,
  };
}

/** The owner that live labels name, if any. */
export function ownerFromLabels(labels: Record<string, string> | undefined): Owner | undefined {
  const name = labels?.[LABEL_OWNER_NAME];
  if (!name) return undefined;
  return { name, namespace: labels[LABEL_OWNER_NAMESPACE] ?? '', rev: labels[LABEL_REVISION] ?? DEFAULT_REVISION };
}

/** True when live labels say the object is ours: same owner name, owner namespace (if labelled) and revision. */
export function ownedBy(labels: Record<string, string> | undefined, owner: Owner): boolean {
  const o = ownerFromLabels(labels);
  return !!o && o.name === owner.name && o.namespace === owner.namespace && o.rev === owner.rev;
}

/** The same IstioOperator, whatever the revision. */
export const sameIstioOperator = (a: Pick<Owner, 'name' | 'namespace'>, b: Pick<Owner, 'name' | 'namespace'>): boolean =>
  a.name === b.name && a.namespace === b.namespace;

export function ownerLabels(owner: Owner): Record<string, string> {
  return {
    [LABEL_OWNER_NAME]: owner.name,
    ...(owner.namespace ? { [LABEL_OWNER_NAMESPACE]: owner.namespace } : {}),
    [LABEL_REVISION]: owner.rev,
  };
}

/** `namespace/name` of the owning IstioOperator (`name` alone when it has no namespace). */
export const ownerKey = (o: Pick<Owner, 'name' | 'namespace'>): string => (o.namespace ? `${o.namespace}/${o.name}` : o.name);
