import { InputError, type FieldIssue, type Warning } from './errors.js';
import { isMap } from './merge.js';
import { DEFAULT_ISTIO_NAMESPACE } from './names.js';
import { ownerOf, type Owner } from './owner.js';
import { chooseRelease, RELEASE_ANNOTATION, type Release } from './releases.js';
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
  /**
   * The spec as the user wrote it (their documents and --set flags, the profile named but not merged in): what
   * the inventory records, so that `upgrade plan` can propose the next revision with the same profile and settings.
   */
  readonly userSpec: IstioOperatorSpec;
  /** The built-in profile name (or profile file) the spec was merged over. */
  readonly profile: string;
  /** The Istio release line whose manifests this install renders (api/releases.ts). */
  readonly release: Release;
  /** The image tag of every component without its own: the user's, or the release's newest patch. */
  readonly tag: string;
  /** The Istio version installed (the tag's version; for a digest or custom tag, the named release's patch). */
  readonly version: string;
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

/**
 * The resolved install of an already merged and validated IstioOperator (api/resolve.ts calls this). An
 * unsupported release, or a tag that names none, is an InputError naming the field; warnings are collected.
 */
export function resolvedInstall(iop: IstioOperator, warnings: Warning[] = [], userSpec?: IstioOperatorSpec): ResolvedInstall {
  const spec = iop.spec ?? {};
  const own: FieldIssue[] = [];
  // spec.tag wins over values.global.tag, as spec-level settings win over values everywhere in Istio's API.
  const specTag = spec.tag === undefined || spec.tag === null || spec.tag === '' ? undefined : String(spec.tag);
  const valuesTag = userValue(spec, 'global', 'tag');
  const chosen = chooseRelease(
    {
      ...(specTag !== undefined
        ? { tag: specTag, tagField: 'spec.tag' }
        : { ...(valuesTag !== undefined ? { tag: String(valuesTag) } : {}), tagField: 'spec.values.global.tag' }),
      ...(iop.metadata?.annotations?.[RELEASE_ANNOTATION] ? { annotation: iop.metadata.annotations[RELEASE_ANNOTATION] } : {}),
    },
    own,
    warnings,
  );
  if (!chosen) throw new InputError(own);
  // spec.revision wins over values.revision, as spec-level settings win over values everywhere in Istio's API.
  const revision = String(spec.revision || userValue(spec, 'revision') || '');
  const istioNamespace = String(spec.namespace || userValue(spec, 'global', 'istioNamespace') || DEFAULT_ISTIO_NAMESPACE);
  return {
    iop: { ...iop, spec },
    userSpec: userSpec ?? spec,
    owner: ownerOf(iop.metadata, revision),
    revision,
    istioNamespace,
    pilotNamespace: String(spec.components?.pilot?.namespace || istioNamespace),
    profile: typeof spec.profile === 'string' && spec.profile ? spec.profile : 'default',
    release: chosen.release,
    tag: chosen.tag,
    version: chosen.version,
  };
}
