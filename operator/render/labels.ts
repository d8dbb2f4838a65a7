import type { IstioOperator } from '../api/types.js';
import type { K8sObject } from '../api/types.js';
import { COMPONENTS, type ComponentKey } from './context.js';

// The one place that names the ownership labels. Apply finds and prunes what an IstioOperator installed by
// these labels, so they are added to every object after templates, k8s settings and overlays have run
// (an overlay cannot remove them by accident).

export const LABEL_COMPONENT = 'operator.istio.io/component';
export const LABEL_OWNER_NAME = 'install.operator.istio.io/owning-resource';
export const LABEL_OWNER_NAMESPACE = 'install.operator.istio.io/owning-resource-namespace';
export const LABEL_VERSION = 'operator.istio.io/version';
export const LABEL_REVISION = 'istio.io/rev';
/** Owner label value when the IstioOperator has no name (as `istioctl manifest generate` renders). */
export const OWNER_UNKNOWN = 'unknown';

export const OWNERSHIP_LABELS = [LABEL_COMPONENT, LABEL_OWNER_NAME, LABEL_OWNER_NAMESPACE, LABEL_VERSION, LABEL_REVISION] as const;

export interface Owner {
  name: string;
  namespace?: string;
  rev: string;
  version: string;
}

export function ownerOf(iop: IstioOperator, rev: string, version: string): Owner {
  const o: Owner = { name: labelValue(iop.metadata?.name) || OWNER_UNKNOWN, rev: labelValue(rev) || 'default', version: labelValue(version) };
  const ns = labelValue(iop.metadata?.namespace);
  if (ns) o.namespace = ns;
  return o;
}

/** The labels an object of `component` owned by `owner` carries. */
export function ownershipLabels(component: ComponentKey, owner: Owner): Record<string, string> {
  const l: Record<string, string> = {
    [LABEL_COMPONENT]: COMPONENTS[component],
    [LABEL_OWNER_NAME]: owner.name,
  };
  if (owner.namespace) l[LABEL_OWNER_NAMESPACE] = owner.namespace;
  if (owner.version) l[LABEL_VERSION] = owner.version;
  l[LABEL_REVISION] = owner.rev;
  return l;
}

/**
 * Adds the ownership labels to each object, in place (a template's own value for istio.io/rev is kept; the
 * others always win). Pod templates get the component and owner too, as Istio's do.
 */
export function applyOwnershipLabels(objects: K8sObject[], component: ComponentKey, owner: Owner): void {
  const labels = ownershipLabels(component, owner);
  for (const o of objects) {
    // istio.io/rev means something to istiod (it patches the webhooks carrying its revision), so a template
    // that set it (a revision-tag webhook, the default-revision validator) keeps its value.
    const templateRev = o.metadata.labels?.[LABEL_REVISION];
    o.metadata.labels = { ...(o.metadata.labels ?? {}), ...labels };
    if (typeof templateRev === 'string' && templateRev !== '') o.metadata.labels[LABEL_REVISION] = templateRev;
    const tpl = (o as any).spec?.template;
    if (tpl && typeof tpl === 'object' && (o.kind === 'Deployment' || o.kind === 'DaemonSet' || o.kind === 'StatefulSet')) {
      tpl.metadata ??= {};
      // The revision on a pod is the template's decision (it steers injection); only fill it in if absent.
      tpl.metadata.labels = {
        [LABEL_REVISION]: owner.rev,
        ...(tpl.metadata.labels ?? {}),
        [LABEL_COMPONENT]: labels[LABEL_COMPONENT],
        [LABEL_OWNER_NAME]: owner.name,
      };
    }
  }
}

/**
 * A string made valid as a label value (at most 63 of [A-Za-z0-9._-], alphanumeric at both ends), so that a tag
 * like `1.30.0@sha256:...` or an unusual name never makes the whole render unappliable. '' stays ''.
 */
export function labelValue(s: unknown): string {
  if (s === undefined || s === null) return '';
  return String(s)
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
}
