import test from 'ava';
import yaml from 'js-yaml';
import { resolveIstioOperator, type ResolveInput } from '../../../operator/api/resolve.js';
import type { K8sObject } from '../../../operator/api/types.js';
import { render } from '../../../operator/render/index.js';
import { toYamlStream } from '../../../operator/render/serialize.js';

// Render is a pure function of its input even though it keeps things across calls (parsed CRDs, compiled
// templates, text of the shared CRD schemas): whatever a caller does to one result, the next render is the same.

const renderOf = (input: ResolveInput) => render(resolveIstioOperator(input).install).objects;
const find = (objs: K8sObject[], kind: string, name: string): any => objs.find((o) => o.kind === kind && o.metadata.name === name);
const GATEWAY_CRD = 'gateways.networking.istio.io';
const demo: ResolveInput = { sets: ['profile=demo'] };

/** Every map and list inside `v` that can be changed, each changed: keys added, values replaced, lists grown. */
function mutateAll(v: unknown): void {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return;
  if (Array.isArray(v)) {
    v.forEach(mutateAll);
    v.push('added');
    return;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (typeof o[k] === 'object' && o[k] !== null) mutateAll(o[k]);
    else o[k] = `changed-${String(o[k])}`;
  }
  o.added = 'added';
}

test('mutating every writable part of a render result does not change the next render', (t) => {
  const before = toYamlStream(renderOf(demo));
  const victim = renderOf(demo);
  const crd = find(victim, 'CustomResourceDefinition', GATEWAY_CRD);
  for (const o of victim) mutateAll(o);
  // The bulk of a CRD's schema is shared and frozen: a change to it throws instead of reaching the next render.
  t.throws(
    () => {
      crd.spec.names.kind = 'Changed';
    },
    { instanceOf: TypeError },
  );
  t.throws(() => crd.spec.versions.push({}), { instanceOf: TypeError });
  t.throws(() => (crd.spec.versions[0].schema.openAPIV3Schema.type = 'string'), { instanceOf: TypeError });
  // What a caller usually changes is its own: metadata, the object and its spec's own fields.
  t.is(crd.spec.group, 'changed-networking.istio.io');
  crd.spec.versions = [];
  crd.spec = { replaced: true };
  t.is(toYamlStream(renderOf(demo)), before);
});

test('an overlay on a shared CRD schema changes that render only, and only where it patches', (t) => {
  const plain = renderOf(demo);
  const text = `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  profile: demo
  components:
    base:
      k8s:
        overlays:
        - kind: CustomResourceDefinition
          name: ${GATEWAY_CRD}
          patches:
          - path: spec.versions.[name:v1alpha3].served
            value: false
          - path: spec.names.shortNames
`;
  const patched = renderOf({ files: [{ name: 'iop.yaml', text }] });
  const before = find(plain, 'CustomResourceDefinition', GATEWAY_CRD);
  const after = find(patched, 'CustomResourceDefinition', GATEWAY_CRD);
  t.false(after.spec.versions.find((v: any) => v.name === 'v1alpha3').served);
  t.false('shortNames' in after.spec.names);
  t.true(before.spec.versions.find((v: any) => v.name === 'v1alpha3').served);
  // Untouched parts are still the shared ones; the patched path was copied.
  t.is(after.spec.versions.find((v: any) => v.name === 'v1').schema, before.spec.versions.find((v: any) => v.name === 'v1').schema);
  t.not(after.spec, before.spec);
  // The next render without the overlay is what it was, object by object and as text.
  const again = renderOf(demo);
  t.deepEqual(again, plain);
  t.is(toYamlStream(again), toYamlStream(plain));
  const written = yaml.loadAll(toYamlStream(patched)) as any[];
  t.deepEqual(find(written, 'CustomResourceDefinition', GATEWAY_CRD).spec, JSON.parse(JSON.stringify(after.spec)));
});

test('the reused text of shared values is exactly what writing them afresh gives (ISTIO_OPERATOR_NO_CACHE=1)', (t) => {
  const objects = renderOf(demo);
  const reused = toYamlStream(objects);
  const prior = process.env.ISTIO_OPERATOR_NO_CACHE;
  process.env.ISTIO_OPERATOR_NO_CACHE = '1';
  try {
    t.is(toYamlStream(objects), reused);
    t.is(toYamlStream(JSON.parse(JSON.stringify(objects)) as K8sObject[]), reused);
  } finally {
    if (prior === undefined) delete process.env.ISTIO_OPERATOR_NO_CACHE;
    else process.env.ISTIO_OPERATOR_NO_CACHE = prior;
  }
});
