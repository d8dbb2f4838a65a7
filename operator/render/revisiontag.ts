import { renderTemplate } from './engine.js';
import { DEFAULT_TAG, DEFAULT_VALIDATOR, tagServiceName, tagWebhookName } from '../api/names.js';
import type { K8sObject } from '../api/types.js';
import type { LiveWebhookConfiguration, Webhook } from '../api/live.js';

// The objects of one revision tag, from the same template the pilot component renders declared tags with
// (manifests/pilot/revisiontags.yaml.hbs), so install's default tag, `tag set` and spec.values.revisionTags
// all make one shape. Pure: the caller says which revision the tag points at and hands over that revision's
// injector webhook (its endpoint and reinvocation policy) and istiod Service selector.

const TAG_TEMPLATE = 'revisiontags.yaml.hbs';

export interface TagTarget {
  /** istio.io/rev value of the revision ('default' for the default revision). */
  revision: string;
  /** Namespace istiod of that revision runs in. */
  namespace: string;
  /** The revision's own injector MutatingWebhookConfiguration (rendered or live). */
  injector: LiveWebhookConfiguration;
  /** istiod's Service selector; without it no tag Service is made (a remote control plane). */
  serviceSelector?: Record<string, string>;
  /** values.base.validationFailurePolicy of the revision, for the default tag's validator (default Ignore). */
  validationFailurePolicy?: string;
  /** The revision's validator URL (values.base.validationURL: an external istiod), for the default tag's validator. */
  validationURL?: string;
}

/** What the tag template prints of each tag: its names, decided by the names module. */
export function tagViews(tags: unknown, namespace: string) {
  return (Array.isArray(tags) ? tags : []).map((t) => {
    const tag = String(t);
    return { tag, webhookName: tagWebhookName(tag, namespace), serviceName: tagServiceName(tag), isDefault: tag === DEFAULT_TAG };
  });
}

export function renderRevisionTag(tag: string, target: TagTarget): K8sObject[] {
  const hook: Partial<Webhook> = target.injector.webhooks?.[0] ?? {};
  const cc: NonNullable<Webhook['clientConfig']> = hook.clientConfig ?? {};
  const view = {
    namespace: target.namespace,
    pilot: {
      values: {
        global: { operatorManageWebhooks: false },
        sidecarInjectorWebhook: { reinvocationPolicy: hook.reinvocationPolicy ?? 'Never' },
        base: { validationFailurePolicy: target.validationFailurePolicy },
      },
      tags: tagViews([tag], target.namespace),
      defaultValidatorName: DEFAULT_VALIDATOR,
      revValue: target.revision,
      name: cc.service?.name ?? 'istiod',
      webhookService: cc.service,
      injectionURL: cc.url,
      // A URL endpoint carries its CA; a Service endpoint gets its caBundle patched in by istiod (by istio.io/rev).
      injectionCABundle: cc.url ? cc.caBundle : undefined,
      serviceSelector: target.serviceSelector,
      validationURL: target.validationURL,
      // No selector, no tag Service (a remote's or config cluster's istiod is elsewhere). `true`, not `{}`: templates
      // judge an empty map false, as Go templates do.
      remote: target.serviceSelector ? undefined : true,
    },
  };
  return renderTemplate('pilot', TAG_TEMPLATE, view);
}
