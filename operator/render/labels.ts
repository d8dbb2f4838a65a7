import type { K8sObject } from '../api/types.js';
import { LABEL_COMPONENT, LABEL_INJECT_POD, LABEL_OWNER_NAME, LABEL_REVISION, LABEL_VERSION, labelValue } from '../api/labels.js';
import { ownerLabels, type Owner } from '../api/owner.js';
import { COMPONENTS, type ComponentKey } from './context.js';

// Ownership labels go on every object after templates, k8s settings and overlays have run (an overlay cannot remove
// them by accident). The label names live in api/labels.ts; apply reads them to find and prune what an install owns.

/** The labels an object of `component` owned by `owner`, rendered for Istio `version`, carries. */
export function ownershipLabels(component: ComponentKey, owner: Owner, version: string): Record<string, string> {
  const v = labelValue(version);
  const l: Record<string, string> = { [LABEL_COMPONENT]: COMPONENTS[component], ...ownerLabels(owner) };
  if (v) l[LABEL_VERSION] = v;
  // istio.io/rev last, as it always was written.
  const { [LABEL_REVISION]: rev, ...rest } = l;
  return { ...rest, [LABEL_REVISION]: rev! };
}

/**
 * Adds the ownership labels to each object, in place (a template's own value for istio.io/rev is kept; the
 * others always win). Pod templates get the component and owner too, as Istio's do.
 */
export function applyOwnershipLabels(objects: K8sObject[], component: ComponentKey, owner: Owner, version: string): void {
  const labels = ownershipLabels(component, owner, version);
  for (const o of objects) {
    // istio.io/rev means something to istiod (it patches the webhooks carrying its revision), so a template
    // that set it (a revision-tag webhook, the default-revision validator) keeps its value.
    const templateRev = o.metadata.labels?.[LABEL_REVISION];
    o.metadata.labels = { ...(o.metadata.labels ?? {}), ...labels };
    if (typeof templateRev === 'string' && templateRev !== '') o.metadata.labels[LABEL_REVISION] = templateRev;
    const tpl = (o as { spec?: { template?: { metadata?: { labels?: Record<string, string> } } } }).spec?.template;
    if (tpl && typeof tpl === 'object' && (o.kind === 'Deployment' || o.kind === 'DaemonSet' || o.kind === 'StatefulSet')) {
      tpl.metadata ??= {};
      // The revision on a pod is the template's decision (it steers injection); only fill it in if absent, and
      // not on a pod that asks to be injected (sidecar.istio.io/inject=true): there the absence is the decision
      // (the default revision's webhooks select such pods only without istio.io/rev).
      const own = tpl.metadata.labels ?? {};
      tpl.metadata.labels = {
        ...(own[LABEL_INJECT_POD] === 'true' ? {} : { [LABEL_REVISION]: owner.rev }),
        ...own,
        [LABEL_COMPONENT]: labels[LABEL_COMPONENT]!,
        [LABEL_OWNER_NAME]: owner.name,
      };
    }
  }
}
