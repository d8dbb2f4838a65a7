import test from 'ava';
import { InputError } from '../../../operator/api/errors.js';
import { BUILTIN_PROFILES } from '../../../operator/api/profiles.js';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import type { K8sObject } from '../../../operator/api/types.js';
import { render } from '../../../operator/render/index.js';

// No perpetual OutOfSync: the render must not carry values something else in the cluster owns after install.
// istiod patches every webhook's caBundle and flips the validator's failurePolicy; the HPA owns replicas; the
// apiserver owns status and creationTimestamp. What cannot be left out is listed in argocd/ignore-differences.yaml.

const renderOf = (sets: string[]) => render(resolveIstioOperator({ sets }).install).objects;
const id = (o: K8sObject) => `${o.kind}:${o.metadata.namespace ?? ''}:${o.metadata.name}`;
const webhooks = (objects: K8sObject[], kind: string) =>
  objects.filter((o) => o.kind === kind).flatMap((o) => ((o as any).webhooks ?? []).map((w: any) => ({ id: id(o), w })));

for (const profile of BUILTIN_PROFILES) {
  test(`profile ${profile}: nothing rendered that istiod, the HPA or the apiserver write afterwards`, (t) => {
    const objects = renderOf([`profile=${profile}`]);
    if (objects.length === 0) return t.pass('renders nothing');
    for (const { id: oid, w } of [
      ...webhooks(objects, 'MutatingWebhookConfiguration'),
      ...webhooks(objects, 'ValidatingWebhookConfiguration'),
    ]) {
      // A remote profile may point at an external istiod with a caBundle the user gave; the default never does.
      t.false('caBundle' in (w.clientConfig ?? {}), `${oid} ${w.name}: caBundle is istiod's to write`);
    }
    for (const o of objects) {
      t.false('status' in o, `${id(o)}: status`);
      t.false('creationTimestamp' in o.metadata, `${id(o)}: creationTimestamp`);
    }
    const hpaTargets = new Set(
      objects
        .filter((o) => o.kind === 'HorizontalPodAutoscaler')
        .map((o) => `${o.metadata.namespace}/${(o as any).spec.scaleTargetRef.name}`),
    );
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      if (hpaTargets.has(`${d.metadata.namespace}/${d.metadata.name}`))
        t.is((d as any).spec.replicas, undefined, `${id(d)}: replicas belong to its HPA`);
    }
  });
}

test('the validating webhook starts Ignore (istiod flips it); values.base.validationFailurePolicy=Fail renders the end state', (t) => {
  const policies = (sets: string[]) => webhooks(renderOf(sets), 'ValidatingWebhookConfiguration').map(({ w }) => w.failurePolicy);
  t.deepEqual([...new Set(policies(['profile=default']))], ['Ignore']);
  t.deepEqual([...new Set(policies(['profile=default', 'values.base.validationFailurePolicy=Fail']))], ['Fail']);
  // The injector is Fail from the start in both cases: istiod never changes it.
  const injector = webhooks(renderOf(['profile=default']), 'MutatingWebhookConfiguration').map(({ w }) => w.failurePolicy);
  t.deepEqual([...new Set(injector)], ['Fail']);
  const e = t.throws(() => renderOf(['values.base.validationFailurePolicy=Sometimes']), { instanceOf: InputError });
  t.regex(e!.issues[0].path, /values\.base\.validationFailurePolicy/);
});
