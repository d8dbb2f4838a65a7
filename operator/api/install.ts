import { isMap } from './merge.js';
import { DEFAULT_ISTIO_NAMESPACE } from './names.js';
import { ownerOf, type Owner } from './owner.js';
import type { IstioOperator, IstioOperatorSpec } from './types.js';

// The resolved install: what an IstioOperator (merged with its profile, files and --set, validated) installs, and
// as whom. Decided here once; render, apply, revision, ca, the controller and the CLI read it and never derive
// the owner, the Istio namespace or the revision from the spec again.

export interface ResolvedInstall {
  /** The merged, validated IstioOperator: metadata from the user's documents, spec with its profile merged in. */
  readonly iop: IstioOperator & { spec: IstioOperatorSpec };
  /** Who owns what this install writes: the IstioOperator's name and namespace, and the revision label. */
  readonly owner: Owner;
  /** The control-plane revision, '' for the default revision. */
  readonly revision: string;
  /** Where istiod's mesh lives: the namespace of the inventory, the CA secret and the mesh's root namespace. */
  readonly istioNamespace: string;
  /** Where istiod itself runs: components.pilot.namespace, else the Istio namespace. */
  readonly pilotNamespace: string;
  /** The built-in profile name (or profile file) the spec was merged over. */
  readonly profile: string;
}

/** The user's values as Istio merges them: values, then unvalidatedValues over them. */
function userValue(spec: IstioOperatorSpec, ...path: string[]): unknown {
  let found: unknown;
  for (const root of [spec.values, spec.unvalidatedValues]) {
    let cur: unknown = root;
    for (const p of path) cur = isMap(cur) ? cur[p] : undefined;
    if (cur !== undefined && cur !== null && cur !== '') found = cur;
  }
  return found;
}

/** The resolved install of an already merged and validated IstioOperator (api/resolve.ts calls this). */
export function resolvedInstall(iop: IstioOperator): ResolvedInstall {
  const spec = iop.spec ?? {};
  // spec.revision wins over values.revision, as spec-level settings win over values everywhere in Istio's API.
  const revision = String(spec.revision || userValue(spec, 'revision') || '');
  const istioNamespace = String(spec.namespace || userValue(spec, 'global', 'istioNamespace') || DEFAULT_ISTIO_NAMESPACE);
  return {
    iop: { ...iop, spec },
    owner: ownerOf(iop.metadata, revision),
    revision,
    istioNamespace,
    pilotNamespace: String(spec.components?.pilot?.namespace || istioNamespace),
    profile: typeof spec.profile === 'string' && spec.profile ? spec.profile : 'default',
  };
}
