import type { K8sObject } from '../render/engine.js';
import { LABEL_REV } from './owner.js';

// The objects `istioctl install` adds when no default revision exists yet: the `default` revision tag,
// i.e. an injector webhook for namespaces labelled `istio-injection=enabled` / `istio.io/rev=default`
// that points at this revision's istiod, and the validator that makes this revision validate Istio
// config cluster-wide. Kept minimal here; revision tags as a feature live in the revision layer.

export const DEFAULT_TAG_MWC = 'istio-revision-tag-default';
export const DEFAULT_VALIDATOR = 'istiod-default-validator';
const TAG_LABEL = 'istio.io/tag';

const podRules = [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }];
const notDisabled = { key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] };

/** The rendered injector webhook of a revision (`istio-sidecar-injector[-rev]`), if pilot is rendered. */
export function findInjector(objects: K8sObject[]): K8sObject | undefined {
  return objects.find((o) => o.kind === 'MutatingWebhookConfiguration' && /^istio-sidecar-injector(-.+)?$/.test(o.metadata.name));
}

/** Default-tag webhooks built from the revision's own injector (same service, path, CA handling). */
export function defaultTagObjects(injector: K8sObject, labels: Record<string, string>): K8sObject[] {
  const hooks = (injector.webhooks as Array<Record<string, any>> | undefined) ?? [];
  const client: Record<string, any> = structuredClone(hooks[0]?.clientConfig ?? {});
  delete client.caBundle;
  const svc = client.service ?? {};
  const base = {
    admissionReviewVersions: ['v1'],
    clientConfig: client,
    failurePolicy: 'Fail',
    reinvocationPolicy: 'Never',
    rules: podRules,
    sideEffects: 'None',
  };
  const tagLabels = { ...labels, [TAG_LABEL]: 'default', [LABEL_REV]: labels[LABEL_REV] ?? 'default' };
  const mwc: K8sObject = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: DEFAULT_TAG_MWC, labels: { ...tagLabels, app: 'sidecar-injector' } },
    webhooks: [
      {
        ...base,
        name: 'rev.namespace.sidecar-injector.istio.io',
        namespaceSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'In', values: ['default'] }, { key: 'istio-injection', operator: 'DoesNotExist' }] },
        objectSelector: { matchExpressions: [notDisabled] },
      },
      {
        ...base,
        name: 'rev.object.sidecar-injector.istio.io',
        namespaceSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'DoesNotExist' }, { key: 'istio-injection', operator: 'DoesNotExist' }] },
        objectSelector: { matchExpressions: [notDisabled, { key: 'istio.io/rev', operator: 'In', values: ['default'] }] },
      },
      {
        ...base,
        name: 'namespace.sidecar-injector.istio.io',
        namespaceSelector: { matchExpressions: [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }] },
        objectSelector: { matchExpressions: [notDisabled] },
      },
      {
        ...base,
        name: 'object.sidecar-injector.istio.io',
        namespaceSelector: { matchExpressions: [{ key: 'istio-injection', operator: 'DoesNotExist' }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] },
        objectSelector: { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'In', values: ['true'] }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] },
      },
    ],
  };
  const vwc: K8sObject = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: DEFAULT_VALIDATOR, labels: { ...tagLabels, app: 'istiod', istio: 'istiod' } },
    webhooks: [
      {
        admissionReviewVersions: ['v1'],
        clientConfig: { service: { name: svc.name ?? 'istiod', namespace: svc.namespace ?? 'istio-system', path: '/validate', ...(svc.port ? { port: svc.port } : {}) } },
        // Ignore until istiod has a certificate; istiod itself switches it to Fail once it serves.
        failurePolicy: 'Ignore',
        name: 'validation.istio.io',
        rules: [
          {
            apiGroups: ['security.istio.io', 'networking.istio.io', 'telemetry.istio.io', 'extensions.istio.io'],
            apiVersions: ['*'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['*'],
          },
        ],
        sideEffects: 'None',
      },
    ],
  };
  return [mwc, vwc];
}
