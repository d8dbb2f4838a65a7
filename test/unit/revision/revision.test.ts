import test from 'ava';
import { revisionUsage, describeUsage, type MetaLike, type PodLike } from '../../../operator/revision/usage.js';
import yaml from 'js-yaml';
import { canaryManifest, plannedObjects, planUpgrade, revisionForVersion } from '../../../operator/revision/plan.js';

const namespaces: MetaLike[] = [
  { name: 'shop', labels: { 'istio.io/rev': 'prod' } },
  { name: 'legacy', labels: { 'istio-injection': 'enabled' } },
  { name: 'pinned', labels: { 'istio.io/rev': '1-29-0' } },
  { name: 'both', labels: { 'istio.io/rev': '1-30-0', 'istio-injection': 'enabled' } },
  { name: 'plain' },
];
const pods: PodLike[] = [
  { name: 'a', namespace: 'shop', annotations: { 'istio.io/rev': '1-29-0' }, phase: 'Running' },
  { name: 'b', namespace: 'shop', labels: { 'istio.io/rev': 'prod' }, phase: 'Pending' },
  { name: 'done', namespace: 'shop', annotations: { 'istio.io/rev': '1-29-0' }, phase: 'Succeeded' },
  { name: 'crashed', namespace: 'shop', annotations: { 'istio.io/rev': '1-29-0' }, phase: 'Failed' },
  { name: 'asks', namespace: 'plain', labels: { 'sidecar.istio.io/inject': 'true' } },
];

test('a revision is used by namespaces and pods that name it or a tag pointing at it; finished pods do not count', (t) => {
  const u = revisionUsage('1-29-0', { namespaces, pods, tags: { prod: '1-29-0', default: '1-30-0' } });
  t.true(u.inUse);
  t.deepEqual(u.namespaces, ['pinned', 'shop']);
  t.deepEqual(u.pods, ['shop/a', 'shop/b']);
  t.deepEqual(u.tags, ['prod']);
  t.is(describeUsage(u), 'revision 1-29-0 is in use by 2 namespaces (pinned, shop), 2 pods (shop/a, shop/b), 1 tag (prod)');
});

test("istio-injection=enabled and inject=true pods belong to the default tag's revision; istio.io/rev wins over istio-injection", (t) => {
  const u = revisionUsage('1-30-0', { namespaces, pods, tags: { default: '1-30-0' } });
  t.deepEqual(u.namespaces, ['both', 'legacy']);
  t.deepEqual(u.pods, ['plain/asks']);
  t.deepEqual(u.tags, ['default']);
  const old = revisionUsage('1-29-0', {
    namespaces: [{ name: 'legacy', labels: { 'istio-injection': 'enabled' } }],
    pods: [],
    tags: { default: '1-30-0' },
  });
  t.false(old.inUse);
  t.is(describeUsage(old), 'revision 1-29-0 is not in use');
});

test('without a default tag, the unrevisioned control plane is the default', (t) => {
  const u = revisionUsage('', { namespaces, pods: [], tags: {} });
  t.deepEqual(u.namespaces, ['legacy']);
});

test('upgrade plan: one or two minors ahead are planned step by step, with tag moves and the removal last', (t) => {
  const p = planUpgrade({
    target: '1.30.0',
    kubernetesVersion: 'v1.33.4',
    installed: [
      {
        revision: '1-29-0',
        version: '1.29.0',
        namespace: 'istio-system',
        tags: ['prod'],
        namespaces: ['shop'],
        pods: 3,
        gateways: ['istio-ingressgateway'],
      },
    ],
  });
  t.true(p.ok, JSON.stringify(p.prechecks));
  t.is(p.newRevision, '1-30-0');
  t.regex(p.steps[0].manifest ?? '', /revision: 1-30-0/);
  t.is(p.steps[1].command, 'istio-operator tag set prod --revision 1-30-0 --overwrite');
  t.is(p.steps.at(-1)?.command, 'istio-operator uninstall --revision 1-29-0');
});

test('upgrade plan refuses three minor versions, a downgrade, an unsupported release and a Kubernetes too old, saying why', (t) => {
  const on = (version: string) => ({
    kubernetesVersion: 'v1.33.0',
    installed: [
      { revision: version.replace(/\./g, '-'), version, namespace: 'istio-system', tags: [], namespaces: [], pods: 0, gateways: [] },
    ],
  });
  const skip = planUpgrade({ ...on('1.26.1'), target: '1.29.6' });
  t.false(skip.ok);
  t.deepEqual(skip.steps, []);
  t.regex(skip.prechecks.find((c) => !c.ok)!.message, /crosses 3 minor versions; Istio supports canary upgrades across at most 2/);
  const down = planUpgrade({ ...on('1.30.3'), target: '1.29.6' });
  t.regex(down.prechecks.find((c) => !c.ok)!.message, /older than the running 1.30.3/);
  const old = planUpgrade({ ...on('1.29.6'), target: '1.26.0' });
  t.regex(old.prechecks.find((c) => c.name === 'target release')!.message, /Istio 1.26 is not supported.*1\.29, 1\.30, 1\.31/);
  const k8s = planUpgrade({ ...on('1.29.6'), kubernetesVersion: 'v1.31.2', target: '1.30.3' });
  t.regex(k8s.prechecks.find((c) => !c.ok)!.message, /Istio 1.30 needs Kubernetes 1.32 or newer; the cluster runs v1.31.2/);
  t.is(revisionForVersion('1.30.0'), '1-30-0');
});

test('upgrade plan 1.30 -> 1.31 names what 1.31 installs differently and installs the release candidate by its own tag', (t) => {
  const p = planUpgrade({
    target: '1.31.0-rc.0',
    kubernetesVersion: 'v1.33.4',
    installed: [{ revision: '1-30-3', version: '1.30.3', namespace: 'istio-system', tags: [], namespaces: [], pods: 0, gateways: [] }],
  });
  t.true(p.ok, JSON.stringify(p.prechecks));
  t.is(p.release, '1.31');
  t.regex(p.steps[0]!.manifest!, /tag: 1\.31\.0-rc\.0/);
  t.true(
    p.changes.some((c) => /ProxyInitImage/.test(c)),
    p.changes.join('\n'),
  );
  t.false(p.changes.some((c) => c.startsWith('1.30:')));
  const objects = plannedObjects(p.steps[0]!.manifest!);
  t.true(objects.includes('Deployment istio-system/istiod-1-31-0-rc-0'), objects.join('\n'));
  t.true(objects.includes('CustomResourceDefinition trafficextensions.extensions.istio.io'));
});

test("upgrade plan: the new IstioOperator installs into the running revision's Istio namespace", (t) => {
  const p = planUpgrade({
    target: '1.30.0',
    kubernetesVersion: 'v1.33.0',
    installed: [{ revision: '1-29-0', version: '1.29.0', namespace: 'mesh-a', tags: [], namespaces: [], pods: 0, gateways: [] }],
  });
  t.regex(p.steps[0]!.manifest!, /^ {2}namespace: mesh-a$/m);
  t.regex(p.steps[0]!.manifest!, /^ {6}istioNamespace: mesh-a$/m);
  const std = planUpgrade({
    target: '1.30.0',
    kubernetesVersion: 'v1.33.0',
    installed: [{ revision: '1-29-0', version: '1.29.0', namespace: 'istio-system', tags: [], namespaces: [], pods: 0, gateways: [] }],
  });
  t.notRegex(std.steps[0]!.manifest!, /istioNamespace/);
});

test('the canary manifest keeps the running profile and settings, with the new revision and tag and no gateways', (t) => {
  const running = {
    revision: '1-29-6',
    version: '1.29.6',
    namespace: 'istio-system',
    tags: [],
    namespaces: [],
    pods: 0,
    gateways: [],
    spec: {
      profile: 'demo',
      revision: '1-29-6',
      tag: '1.29.6',
      meshConfig: { accessLogFile: '/dev/stdout' },
      values: { global: { tag: '1.29.6', logging: { level: 'default:debug' } } },
    },
  };
  const m = canaryManifest(running, '1-30-3', '1.30.3');
  const doc = yaml.load(m.replace(/^#.*\n/, '')) as any;
  t.is(doc.spec.profile, 'demo');
  t.is(doc.spec.revision, '1-30-3');
  t.is(doc.spec.tag, '1.30.3');
  t.deepEqual(doc.spec.meshConfig, { accessLogFile: '/dev/stdout' });
  t.deepEqual(doc.spec.values, { global: { logging: { level: 'default:debug' } } });
  t.deepEqual(doc.spec.components, { ingressGateways: [], egressGateways: [] });
  t.regex(m, /^# Revision 1-29-6's profile and settings/);
  // Renders as the new revision, with nothing of the old one's gateways.
  const objs = plannedObjects(m);
  t.true(objs.includes('Deployment istio-system/istiod-1-30-3'));
  t.false(objs.some((o) => /gateway/.test(o) && o.startsWith('Deployment')));
  // Recorded before specs were: the default profile, and a comment saying to copy the settings.
  t.regex(canaryManifest({ ...running, spec: undefined }, '1-30-3', '1.30.3'), /copy its profile and settings/);
});
