import test from 'ava';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import type { KubeClient } from '../../../operator/apply/client.js';
import { render, type K8sObject } from '../../../operator/render/index.js';
import { explainUsage, readUsage, usageFrom, type ClusterSnapshot } from '../../../operator/revision/cluster.js';
import { overlappingWebhooks, upgradeStatus, type ClusterView } from '../../../operator/revision/inspect.js';
import { decideShared, forwardOnlyFrom, isShared } from '../../../operator/apply/shared.js';
import { checkTagName, tagObjectsFromInjector, TagError } from '../../../operator/revision/tags.js';

function renderIop(spec: Record<string, unknown>, name = 'cp', ns = 'istio-system'): K8sObject[] {
  const text = JSON.stringify({
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { name, namespace: 'istio-system' },
    spec: { namespace: ns, ...spec, values: { global: { istioNamespace: ns }, ...((spec.values as object) ?? {}) } },
  });
  return render(resolveIstioOperator({ files: [{ name: 'iop.json', text }] }).install).objects;
}
const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);
const OWNER = /^(install\.operator\.istio\.io|operator\.istio\.io)\//;
const withoutOwner = (o: K8sObject) => ({
  ...o,
  metadata: { ...o.metadata, labels: Object.fromEntries(Object.entries(o.metadata.labels ?? {}).filter(([k]) => !OWNER.test(k))) },
});

test('declarative tags: spec.values.revisionTags renders each tag webhook, its Service, and for default the validator', (t) => {
  const objs = renderIop({ profile: 'minimal', revision: '1-29-0', tag: '1.29.0', values: { revisionTags: ['prod', 'default'] } });
  const prod = find(objs, 'MutatingWebhookConfiguration', 'istio-revision-tag-prod')!;
  t.truthy(prod);
  // istio.io/rev names the revision (istiod patches the caBundle by it), not the owner's default; owner labels added.
  t.is(prod.metadata.labels!['istio.io/rev'], '1-29-0');
  t.is(prod.metadata.labels!['istio.io/tag'], 'prod');
  t.is(prod.metadata.labels!['install.operator.istio.io/owning-resource'], 'cp');
  const hooks = prod.webhooks as any[];
  t.deepEqual(
    hooks.map((w) => w.name),
    ['rev.namespace.sidecar-injector.istio.io', 'rev.object.sidecar-injector.istio.io'],
  );
  t.deepEqual(hooks[0].namespaceSelector.matchExpressions[0], { key: 'istio.io/rev', operator: 'In', values: ['prod'] });
  t.deepEqual(hooks[1].objectSelector.matchExpressions[1], { key: 'istio.io/rev', operator: 'In', values: ['prod'] });
  // Same endpoint as the revision's own injector.
  const injector = find(objs, 'MutatingWebhookConfiguration', 'istio-sidecar-injector-1-29-0')!;
  t.deepEqual(hooks[0].clientConfig, (injector.webhooks as any[])[0].clientConfig);
  t.deepEqual((find(objs, 'Service', 'istiod-revision-tag-prod') as any).spec.selector, { app: 'istiod', 'istio.io/rev': '1-29-0' });
  const def = find(objs, 'MutatingWebhookConfiguration', 'istio-revision-tag-default')!;
  t.deepEqual((def.webhooks as any[]).map((w) => w.name).slice(2), [
    'namespace.sidecar-injector.istio.io',
    'object.sidecar-injector.istio.io',
  ]);
  const vwc = find(objs, 'ValidatingWebhookConfiguration', 'istiod-default-validator')!;
  t.is((vwc.webhooks as any[])[0].clientConfig.service.name, 'istiod-1-29-0');
  t.is(vwc.metadata.labels!['istio.io/rev'], '1-29-0');
  // No tags, no tag objects.
  t.falsy(renderIop({ profile: 'minimal', revision: '1-29-0' }).find((o) => /revision-tag/.test(o.metadata.name)));
});

test('a tag of an Istio namespace other than istio-system carries the namespace in its webhook name', (t) => {
  const objs = renderIop({ profile: 'minimal', revision: 'canary', values: { revisionTags: ['prod'] } }, 'cp', 'mesh-a');
  t.truthy(find(objs, 'MutatingWebhookConfiguration', 'istio-revision-tag-prod-mesh-a'));
  t.is(find(objs, 'Service', 'istiod-revision-tag-prod')!.metadata.namespace, 'mesh-a');
});

test('tag set builds from the live injector exactly what the declarative path renders (one template, one shape)', (t) => {
  const objs = renderIop({ profile: 'minimal', revision: '1-30-0', values: { revisionTags: ['prod'] } });
  const injector = find(objs, 'MutatingWebhookConfiguration', 'istio-sidecar-injector-1-30-0')!;
  const fromCli = tagObjectsFromInjector(
    'prod',
    { revision: '1-30-0', version: '1.30.0', namespace: 'istio-system', injector },
    { app: 'istiod', 'istio.io/rev': '1-30-0' },
  );
  const declared = objs.filter((o) => o.metadata.labels?.['istio.io/tag'] === 'prod').map(withoutOwner);
  const sort = (l: K8sObject[]) => [...l].sort((a, b) => a.kind.localeCompare(b.kind));
  t.deepEqual(sort(fromCli), sort(declared));
});

test('tag names: DNS labels short enough for the tag Service', (t) => {
  t.notThrows(() => checkTagName('prod'));
  for (const bad of ['Prod', 'prod_1', '-prod', 'a'.repeat(44), '']) t.throws(() => checkTagName(bad), { instanceOf: TagError });
});

const crd = (version: string, owner = 'cp-new'): K8sObject => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: {
    name: 'gateways.networking.istio.io',
    labels: { 'install.operator.istio.io/owning-resource': owner, 'operator.istio.io/version': version, 'istio.io/rev': owner },
  },
});

test('shared objects only move forward: an older render skips, a newer one takes over, an equal one keeps the owner', (t) => {
  const live = (v: string) => ({
    'install.operator.istio.io/owning-resource': 'cp-live',
    'operator.istio.io/version': v,
    'istio.io/rev': 'live',
  });
  t.is(decideShared(crd('1.29.0'), live('1.30.0')).action, 'skip');
  t.regex((decideShared(crd('1.29.0'), live('1.30.0')) as any).note, /at 1\.30\.0, newer than this revision's 1\.29\.0: left as is/);
  t.is(decideShared(crd('1.30.0'), live('1.29.0')).action, 'apply');
  t.is(decideShared(crd('1.30.0'), undefined).action, 'apply');
  // CRDs are applied without an owner (apply/owner.ts sharedBody): versions still order them.
  t.is(decideShared(crd('1.29.0'), { 'operator.istio.io/version': '1.30.0' }).action, 'skip');
  t.is(decideShared(crd('1.30.0'), { 'operator.istio.io/version': '1.30.0' }).action, 'apply');
  const same = decideShared(crd('1.30.0'), live('1.30.0'));
  t.is(same.action, 'keep-labels');
  t.is((same as any).labels['install.operator.istio.io/owning-resource'], 'cp-live');
  const sa: K8sObject = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: 'istio-reader-service-account',
      namespace: 'istio-system',
      labels: { 'operator.istio.io/component': 'Base', 'operator.istio.io/version': '1.29.0' },
    },
  };
  const dep: K8sObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'istiod-1-29-0',
      namespace: 'istio-system',
      labels: { 'operator.istio.io/component': 'Pilot', 'operator.istio.io/version': '1.29.0' },
    },
  };
  const r = forwardOnlyFrom(
    [crd('1.29.0'), sa, dep],
    new Map([
      ['CustomResourceDefinition//gateways.networking.istio.io', live('1.30.0')],
      ['ServiceAccount/istio-system/istio-reader-service-account', live('1.30.0')],
    ]),
  );
  t.deepEqual(
    r.objects.map((o) => o.metadata.name),
    ['istiod-1-29-0'],
  );
  t.is(r.notes.length, 2);
});

test('node agents are shared too, but at the same version the first owner keeps all of them (no spec flip-flop)', (t) => {
  const ztunnel = (owner: string, rev: string, version: string): K8sObject => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {
      name: 'ztunnel',
      namespace: 'istio-system',
      labels: {
        'operator.istio.io/component': 'Ztunnel',
        'install.operator.istio.io/owning-resource': owner,
        'operator.istio.io/version': version,
        'istio.io/rev': rev,
      },
    },
  });
  const labels = (o: K8sObject) => o.metadata.labels!;
  t.true(isShared(ztunnel('a', 'default', '1.30.0')));
  t.is(decideShared(ztunnel('b', 'canary', '1.30.0'), labels(ztunnel('a', 'default', '1.30.0'))).action, 'skip');
  t.regex(
    (decideShared(ztunnel('b', 'canary', '1.30.0'), labels(ztunnel('a', 'default', '1.30.0'))) as any).note,
    /managed by IstioOperator a \(revision default\)/,
  );
  // Its own owner re-applies; a newer version takes over; an older one leaves it.
  t.is(decideShared(ztunnel('a', 'default', '1.30.0'), labels(ztunnel('a', 'default', '1.30.0'))).action, 'keep-labels');
  t.is(decideShared(ztunnel('b', 'canary', '1.31.0'), labels(ztunnel('a', 'default', '1.30.0'))).action, 'apply');
  t.is(decideShared(ztunnel('b', 'canary', '1.29.0'), labels(ztunnel('a', 'default', '1.30.0'))).action, 'skip');
});

const snap: ClusterSnapshot = {
  namespaces: [{ name: 'shop', labels: { 'istio.io/rev': 'prod' } }, { name: 'apps' }],
  pods: [
    { name: 'old', namespace: 'shop', annotations: { 'istio.io/rev': '1-29-0' }, phase: 'Running' },
    { name: 'new', namespace: 'shop', annotations: { 'istio.io/rev': '1-30-0' }, phase: 'Running' },
  ],
  tags: [{ tag: 'prod', revision: '1-30-0', webhook: 'istio-revision-tag-prod', declaredBy: 'istio-system/cp-new' }],
};

test('usage: a tag the removed owner installed is not a user by itself, but what selects it still is', (t) => {
  const u = usageFrom(snap, '1-30-0', { exceptOwner: { name: 'cp-new', namespace: 'istio-system' } });
  t.deepEqual(u.tags, []);
  t.deepEqual(u.namespaces, ['shop']);
  t.true(u.inUse);
  t.deepEqual(usageFrom(snap, '1-30-0').tags, ['prod']);
});

test('usage that cannot be read counts as in use, and says why', async (t) => {
  const broken = {
    request: async () => {
      throw new Error('pods is forbidden');
    },
  } as unknown as KubeClient;
  const u = await readUsage(broken, '1-29-0');
  t.true(u.inUse);
  t.regex(u.unknown!, /cannot tell whether revision 1-29-0 is in use \(pods is forbidden\); treating it as in use/);
});

test('upgrade status: pods running another revision than their namespace selects are left to move', (t) => {
  const view: ClusterView = {
    kubernetesVersion: 'v1.33.4',
    revisions: [
      { revision: '1-29-0', version: '1.29.0', namespace: 'istio-system', injector: {} as any },
      { revision: '1-30-0', version: '1.30.0', namespace: 'istio-system', injector: {} as any },
    ],
    snapshot: { ...snap, pods: [snap.pods[0]!] },
    gateways: new Map(),
    webhooks: [],
    inventories: [],
  };
  const s = upgradeStatus(view);
  t.deepEqual(s.toRestart, [{ pod: 'shop/old', runs: '1-29-0', selected: '1-30-0' }]);
  t.deepEqual(s.removable, []);
  const done = upgradeStatus({ ...view, snapshot: { ...snap, pods: [snap.pods[1]!] } });
  t.deepEqual(done.toRestart, []);
  t.deepEqual(done.removable, ['1-29-0']);
});

test('overlapping webhooks: one already selecting the new revision, or an injector selecting every pod', (t) => {
  const rules = [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }];
  const hooks = [
    {
      metadata: { name: 'stale' },
      webhooks: [
        {
          name: 'rev.namespace.sidecar-injector.istio.io',
          rules,
          namespaceSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'In', values: ['1-30-0'] }] },
        },
      ],
    },
    { metadata: { name: 'greedy' }, webhooks: [{ name: 'auto.sidecar-injector.istio.io', rules }] },
    {
      metadata: { name: 'fine' },
      webhooks: [
        {
          name: 'rev.namespace.sidecar-injector.istio.io',
          rules,
          namespaceSelector: { matchExpressions: [{ key: 'istio.io/rev', operator: 'In', values: ['1-29-0'] }] },
        },
      ],
    },
  ];
  const o = overlappingWebhooks(hooks, '1-30-0');
  t.is(o.length, 2);
  t.regex(o[0]!, /stale .*selects istio.io\/rev=1-30-0/);
  t.regex(o[1]!, /greedy .*every pod/);
});

test('canary gateway: a second gateway on the new revision points at that istiod, beside the in-place one', (t) => {
  const objs = renderIop(
    {
      profile: 'empty',
      revision: '1-30-0',
      tag: '1.30.0',
      components: {
        ingressGateways: [
          { name: 'istio-ingressgateway-1-30-0', enabled: true, label: { istio: 'ingressgateway', app: 'istio-ingressgateway-canary' } },
        ],
      },
    },
    'gw-canary',
  );
  const d = find(objs, 'Deployment', 'istio-ingressgateway-1-30-0') as any;
  t.truthy(d);
  t.is(d.spec.template.metadata.labels['istio.io/rev'], '1-30-0');
  // Gateway resources select istio=ingressgateway: both gateways serve them while traffic shifts.
  t.is(d.spec.template.metadata.labels.istio, 'ingressgateway');
  const env = d.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
  t.is(env.find((e) => e.name === 'CA_ADDR')?.value, 'istiod-1-30-0.istio-system.svc:15012');
  t.deepEqual((find(objs, 'Service', 'istio-ingressgateway-1-30-0') as any).spec.selector, {
    app: 'istio-ingressgateway-canary',
    istio: 'ingressgateway',
  });
  // Nothing of the in-place gateway (istio-ingressgateway) is rendered by the canary IstioOperator.
  t.falsy(objs.find((o) => o.metadata.name === 'istio-ingressgateway'));
});

test('refusals name each user with the label or tag that makes it one', (t) => {
  const s: ClusterSnapshot = {
    namespaces: [
      { name: 'shop', labels: { 'istio.io/rev': 'prod' } },
      { name: 'legacy', labels: { 'istio-injection': 'enabled' } },
    ],
    pods: [{ name: 'a', namespace: 'apps', annotations: { 'istio.io/rev': '1-29-0' }, phase: 'Running' }],
    tags: [
      { tag: 'prod', revision: '1-29-0', webhook: 'istio-revision-tag-prod' },
      { tag: 'default', revision: '1-29-0', webhook: 'istio-revision-tag-default' },
    ],
  };
  t.deepEqual(explainUsage(s, usageFrom(s, '1-29-0')), [
    { kind: 'Namespace', name: 'legacy', why: 'labelled istio-injection=enabled (default tag -> 1-29-0)' },
    { kind: 'Namespace', name: 'shop', why: 'labelled istio.io/rev=prod (tag prod -> 1-29-0)' },
    { kind: 'Pod', name: 'apps/a', why: 'annotated istio.io/rev=1-29-0' },
    { kind: 'Tag', name: 'default', why: 'revision tag points at 1-29-0 (MutatingWebhookConfiguration istio-revision-tag-default)' },
    { kind: 'Tag', name: 'prod', why: 'revision tag points at 1-29-0 (MutatingWebhookConfiguration istio-revision-tag-prod)' },
  ]);
});
