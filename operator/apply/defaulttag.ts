import type { K8sObject } from '../api/types.js';

// The objects `istioctl install` adds when no default revision exists yet: the `default` revision tag,
// i.e. an injector webhook for namespaces labelled `istio-injection=enabled` / `istio.io/rev=default`
// that points at this revision's istiod, and the validator that makes this revision validate Istio
// config cluster-wide. The objects come from render (render/revisiontag.ts), the one shape of a tag;
// revision tags as a feature live in the revision layer.

export const DEFAULT_TAG_MWC = 'istio-revision-tag-default';
export const DEFAULT_VALIDATOR = 'istiod-default-validator';

/** The rendered injector webhook of a revision (`istio-sidecar-injector[-rev]`), if pilot is rendered. */
export function findInjector(objects: K8sObject[]): K8sObject | undefined {
  return objects.find((o) => o.kind === 'MutatingWebhookConfiguration' && /^istio-sidecar-injector(-.+)?$/.test(o.metadata.name));
}
