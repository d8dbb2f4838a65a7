import test from 'ava';
import { ApiError, describePath } from '../../../operator/apply/client.js';
import { defaultTagIfNeeded, findInjector } from '../../../operator/apply/install.js';
import type { KubeClient } from '../../../operator/apply/client.js';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import { render } from '../../../operator/render/index.js';
import { renderRevisionTag } from '../../../operator/render/revisiontag.js';
import { inventoryName, minusRefs, unionRefs } from '../../../operator/apply/inventory.js';
import { byStage } from '../../../operator/apply/owner.js';
import { stageIndex as stageOf } from '../../../operator/api/kinds.js';
import { canonical, immutableFields, sameObject } from '../../../operator/apply/ssa.js';
import { crdReady, daemonSetReady, deploymentReady, workloadProgress, workloadReady } from '../../../operator/apply/readiness.js';
import { LABEL_OWNER_NAME, LABEL_OWNER_NAMESPACE, LABEL_REVISION } from '../../../operator/api/labels.js';
import { ownedBy } from '../../../operator/api/owner.js';

test('stages follow the render order: CRDs first, webhooks last, unknown kinds after CRDs', (t) => {
  const kinds = [
    'ValidatingWebhookConfiguration',
    'Deployment',
    'CustomResourceDefinition',
    'ClusterRole',
    'ServiceAccount',
    'PodDisruptionBudget',
    'Namespace',
    'Gateway',
  ];
  const stages = byStage(kinds.map((kind) => ({ kind })));
  t.deepEqual(
    stages[0]!.map((o) => o.kind),
    ['CustomResourceDefinition'],
  );
  t.deepEqual(
    stages[stages.length - 1]!.map((o) => o.kind),
    ['ValidatingWebhookConfiguration'],
  );
  t.true(stageOf('Gateway') > stageOf('CustomResourceDefinition'));
  t.true(stageOf('ClusterRole') < stageOf('ServiceAccount'));
  t.true(stageOf('Deployment') < stageOf('PodDisruptionBudget'));
});

test('ownership needs the same owner name, owner namespace and revision', (t) => {
  const owner = { name: 'iop', namespace: 'istio-system', rev: 'canary' };
  const labels = { [LABEL_OWNER_NAME]: 'iop', [LABEL_OWNER_NAMESPACE]: 'istio-system', [LABEL_REVISION]: 'canary' };
  t.true(ownedBy(labels, owner));
  t.false(ownedBy({ ...labels, [LABEL_REVISION]: 'default' }, owner));
  t.false(ownedBy({ ...labels, [LABEL_OWNER_NAME]: 'unknown' }, owner));
  t.false(ownedBy({ ...labels, [LABEL_OWNER_NAMESPACE]: 'other' }, owner));
  t.false(ownedBy(undefined, owner));
  t.false(ownedBy({ [LABEL_OWNER_NAME]: 'iop', [LABEL_REVISION]: 'canary' }, owner), 'missing owner namespace is another owner');
});

test('comparison ignores bookkeeping and key order, nothing else', (t) => {
  const live = {
    metadata: { name: 'a', resourceVersion: '5', generation: 2, managedFields: [{}], creationTimestamp: 'x', uid: 'u' },
    spec: { b: 1, a: [1, 2] },
  };
  const dry = { spec: { a: [1, 2], b: 1 }, metadata: { name: 'a', resourceVersion: '6', generation: 3 } };
  t.true(sameObject(live, dry));
  t.false(sameObject(live, { ...dry, spec: { a: [2, 1], b: 1 } }));
  t.is(canonical({ b: 1, a: { d: 1, c: 2 } }), '{"a":{"c":2,"d":1},"b":1}');
});

test('immutable-field rejections are recognised with their field paths', (t) => {
  const e = new ApiError(
    'x',
    422,
    'Invalid',
    {
      details: { causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: ...: field is immutable', field: 'spec.selector' }] },
    },
    'patch',
    '/apis/apps/v1/namespaces/n/deployments/d',
  );
  t.deepEqual(immutableFields(e), ['spec.selector']);
  t.is(
    immutableFields(
      new ApiError('bad', 422, 'Invalid', { details: { causes: [{ message: 'must be positive', field: 'spec.replicas' }] } }, 'patch', '/'),
    ),
    undefined,
  );
  t.is(immutableFields(new Error('x')), undefined);
});

test('paths are described as kubectl names them', (t) => {
  t.is(describePath('/apis/apps/v1/namespaces/ns/deployments/x'), 'deployments.apps "x" in namespace "ns"');
  t.is(describePath('/api/v1/namespaces/ns/configmaps'), 'configmaps in namespace "ns"');
  t.is(describePath('/apis/rbac.authorization.k8s.io/v1/clusterroles/r'), 'clusterroles.rbac.authorization.k8s.io "r"');
  t.is(describePath('/api/v1/namespaces/istio-system'), 'namespaces "istio-system"');
});

test('inventory names and set arithmetic', (t) => {
  t.is(inventoryName({ name: 'My_IOP', namespace: '', rev: 'default' }), 'istio-operator-inventory-my-iop-default');
  const a = { apiVersion: 'v1', kind: 'Service', namespace: 'n', name: 'a' };
  const b = { apiVersion: 'v1', kind: 'Service', namespace: 'n', name: 'b' };
  t.deepEqual(minusRefs([a, b], [b]), [a]);
  t.deepEqual(unionRefs([b, a], [a]), [a, b]);
});

test('readiness predicates', (t) => {
  t.true(crdReady({ metadata: { name: 'c' }, status: { conditions: [{ type: 'Established', status: 'True' }] } }));
  t.false(crdReady({ metadata: { name: 'c' }, status: { conditions: [{ type: 'Established', status: 'False' }] } }));
  const d = {
    metadata: { name: 'd', generation: 2 },
    spec: { replicas: 1 },
    status: { observedGeneration: 2, updatedReplicas: 1, conditions: [{ type: 'Available', status: 'True' }] },
  };
  t.true(deploymentReady(d));
  t.false(deploymentReady({ ...d, status: { ...d.status, observedGeneration: 1 } }), 'stale status is not ready');
  t.false(deploymentReady(undefined));
  const ds = {
    kind: 'DaemonSet',
    metadata: { name: 'ds', generation: 3 },
    status: { observedGeneration: 3, desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 2 },
  };
  t.true(daemonSetReady(ds));
  t.false(daemonSetReady({ ...ds, status: { ...ds.status, numberAvailable: 1 } }), 'a node without an available agent');
  t.false(daemonSetReady({ ...ds, status: { ...ds.status, updatedNumberScheduled: 1 } }), 'a node still on the old pod');
  t.false(daemonSetReady({ ...ds, status: { ...ds.status, observedGeneration: 2 } }), 'stale status');
  t.true(daemonSetReady({ ...ds, status: { observedGeneration: 3, desiredNumberScheduled: 0 } }), 'no node to run on: nothing to wait for');
  t.is(workloadReady(ds, 'DaemonSet'), true);
  t.is(workloadReady({ metadata: { name: 's' } }, 'Service'), undefined);
  t.is(workloadProgress({ ...ds, status: { ...ds.status, numberAvailable: 1 } }, 'DaemonSet'), '1/2 nodes available, 2 updated');
});

test('default tag webhooks point at the revision istiod and select the default tag', (t) => {
  const injector = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'istio-sidecar-injector-canary', labels: { app: 'sidecar-injector' } },
    webhooks: [
      {
        name: 'rev.namespace.sidecar-injector.istio.io',
        clientConfig: { service: { name: 'istiod-canary', namespace: 'istio-system', path: '/inject', port: 443 }, caBundle: 'x' },
      },
    ],
  };
  t.is(findInjector([injector]), injector);
  const [mwc, vwc] = renderRevisionTag('default', { revision: 'canary', namespace: 'istio-system', injector });
  t.is(mwc!.metadata.labels![LABEL_REVISION], 'canary');
  t.is(mwc!.metadata.name, 'istio-revision-tag-default');
  t.is(mwc!.metadata.labels!['istio.io/tag'], 'default');
  const hooks = mwc!.webhooks as any[];
  t.deepEqual(
    hooks.map((h) => h.name),
    [
      'rev.namespace.sidecar-injector.istio.io',
      'rev.object.sidecar-injector.istio.io',
      'namespace.sidecar-injector.istio.io',
      'object.sidecar-injector.istio.io',
    ],
  );
  t.true(hooks.every((h) => h.clientConfig.service.name === 'istiod-canary' && !h.clientConfig.caBundle));
  t.is(vwc!.metadata.name, 'istiod-default-validator');
  t.is((vwc!.webhooks as any[])[0].clientConfig.service.path, '/validate');
});

test("a config cluster's default tag (injector and validator called by URL: an external istiod) is its own namespace's, calls the same URLs, and makes no tag Service", async (t) => {
  const ns = 'external-istiod';
  const url = 'https://istiod.external.example.com:15017';
  const text = JSON.stringify({
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { name: 'config', namespace: ns },
    spec: {
      profile: 'remote',
      namespace: ns,
      values: {
        global: { istioNamespace: ns, configCluster: true },
        pilot: { configMap: true },
        istiodRemote: { injectionURL: `${url}/inject/cluster/c2/net/n1` },
        base: { validationURL: `${url}/validate` },
      },
    },
  });
  const objects = render(resolveIstioOperator({ files: [{ name: 'iop.json', text }] }).install).objects;
  // A cluster with no tag and no default revision yet.
  const empty = { request: async () => undefined } as unknown as KubeClient;
  const tag = await defaultTagIfNeeded(empty, objects, { name: 'config', namespace: ns, rev: 'default' }, ns);
  t.deepEqual(
    tag.map((o) => `${o.kind} ${o.metadata.name}`),
    [`MutatingWebhookConfiguration istio-revision-tag-default-${ns}`, 'ValidatingWebhookConfiguration istiod-default-validator'],
  );
  for (const w of tag[0]!.webhooks as any[]) t.deepEqual(w.clientConfig, { url: `${url}/inject/cluster/c2/net/n1` }, w.name);
  t.deepEqual((tag[1]!.webhooks as any[])[0].clientConfig, { url: `${url}/validate` });
  // A remote whose istiod Service has no selector (its EndpointSlice leads to the primary): no tag Service either.
  const injector = {
    metadata: { name: 'istio-sidecar-injector' },
    webhooks: [
      {
        name: 'namespace.sidecar-injector.istio.io',
        clientConfig: { service: { name: 'istiod', namespace: 'istio-system', path: '/inject/cluster/c2/net/n1', port: 443 } },
      },
    ],
  };
  t.false(renderRevisionTag('default', { revision: 'default', namespace: 'istio-system', injector }).some((o) => o.kind === 'Service'));
});
