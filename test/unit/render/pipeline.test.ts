import { spawnSync } from 'node:child_process';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { InputError } from '../../../operator/api/errors.js';
import { resolveIstioOperator, type ResolveInput } from '../../../operator/api/resolve.js';
import type { K8sObject } from '../../../operator/api/types.js';
import { render } from '../../../operator/render/index.js';
import { applyOwnershipLabels } from '../../../operator/render/labels.js';
import { byStage, sortObjects } from '../../../operator/render/order.js';
import { STAGES, stageOf } from '../../../operator/api/kinds.js';
import { toYamlStream } from '../../../operator/render/serialize.js';
import { packageRoot } from '../../../operator/paths.js';
import {
  LABEL_COMPONENT,
  LABEL_OWNER_NAME,
  LABEL_OWNER_NAMESPACE,
  LABEL_REVISION,
  LABEL_VERSION,
  labelValue,
} from '../../../operator/api/labels.js';

// The whole pipeline (api resolve → render → serialize): labels, order, determinism, injection safety, CLI.

const doc = (spec: string, metadata = '') => `apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n${metadata}spec:\n${spec}`;
function renderOf(input: ResolveInput) {
  return render(resolveIstioOperator(input).install);
}
const find = (objs: K8sObject[], kind: string, name: string): any => objs.find((o) => o.kind === kind && o.metadata.name === name);
const id = (o: K8sObject) => `${o.kind}:${o.metadata.namespace ?? ''}:${o.metadata.name}`;

test('ownership labels on every object, from the IstioOperator metadata', (t) => {
  const { objects } = renderOf({
    files: [{ name: 'a.yaml', text: doc('  profile: demo\n  tag: 1.30.1\n', 'metadata:\n  name: main\n  namespace: istio-system\n') }],
  });
  t.true(objects.length > 20);
  const components = new Set<string>();
  for (const o of objects) {
    const l = o.metadata.labels ?? {};
    t.is(l[LABEL_OWNER_NAME], 'main', id(o));
    t.is(l[LABEL_OWNER_NAMESPACE], 'istio-system', id(o));
    t.is(l[LABEL_VERSION], '1.30.1', id(o));
    t.is(l[LABEL_REVISION], 'default', id(o));
    t.truthy(l[LABEL_COMPONENT], id(o));
    components.add(l[LABEL_COMPONENT]);
  }
  t.deepEqual([...components].sort(), ['Base', 'EgressGateways', 'IngressGateways', 'Pilot']);
  t.is(find(objects, 'Deployment', 'istio-egressgateway').metadata.labels[LABEL_COMPONENT], 'EgressGateways');
  t.is(find(objects, 'CustomResourceDefinition', 'gateways.networking.istio.io').metadata.labels[LABEL_COMPONENT], 'Base');
  // Pod templates carry the component and owner as Istio's do.
  const podLabels = find(objects, 'Deployment', 'istiod').spec.template.metadata.labels;
  t.is(podLabels[LABEL_COMPONENT], 'Pilot');
  t.is(podLabels[LABEL_OWNER_NAME], 'main');
});

test('no name: owner "unknown", no owner namespace label; revision label follows the revision', (t) => {
  const { objects } = renderOf({ files: [{ name: 'a.yaml', text: doc('  profile: minimal\n  revision: canary\n') }] });
  for (const o of objects) {
    t.is(o.metadata.labels?.[LABEL_OWNER_NAME], 'unknown', id(o));
    t.false(LABEL_OWNER_NAMESPACE in (o.metadata.labels ?? {}), id(o));
    t.is(o.metadata.labels?.[LABEL_REVISION], 'canary', id(o));
  }
  t.truthy(find(objects, 'Deployment', 'istiod-canary'));
});

test('labelValue keeps label values valid', (t) => {
  t.is(labelValue('1.30.0'), '1.30.0');
  t.is(labelValue('1.30.0@sha256:abc'), '1.30.0_sha256_abc');
  t.is(labelValue('-x-'), 'x');
  t.is(labelValue('a'.repeat(80)).length, 63);
  t.is(labelValue(undefined), '');
});

test('order: CRDs, namespaces, cluster RBAC, config, workloads, autoscaling/PDB, webhooks; sorted inside a stage', (t) => {
  const { objects } = renderOf({ files: [{ name: 'a.yaml', text: doc('  profile: demo\n') }] });
  const stages = objects.map((o) => STAGES.indexOf(stageOf(o.kind)));
  t.deepEqual(
    stages,
    [...stages].sort((a, b) => a - b),
    'stages never go backwards',
  );
  t.is(objects[0].kind, 'CustomResourceDefinition');
  t.regex(objects[objects.length - 1].kind, /WebhookConfiguration$/);
  t.deepEqual(sortObjects([...objects].reverse()).map(id), objects.map(id), 'order does not depend on input order');
  // Demo turns autoscaling off, so no HPA (and a single replica needs no PDB): that stage is empty and omitted.
  t.deepEqual(
    byStage(objects).map((s) => s.stage),
    ['crds', 'cluster-rbac', 'config', 'workloads', 'webhooks'],
  );
  t.deepEqual(
    byStage(objects)
      .flatMap((s) => s.objects)
      .map(id),
    objects.map(id),
  );
  const mk = (kind: string, name: string, namespace?: string): K8sObject => ({
    apiVersion: 'v1',
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}) },
  });
  const sorted = sortObjects([
    mk('ValidatingWebhookConfiguration', 'v'),
    mk('Deployment', 'b', 'ns2'),
    mk('Deployment', 'a', 'ns2'),
    mk('Deployment', 'z', 'ns1'),
    mk('Service', 's', 'ns1'),
    mk('PeerAuthentication', 'p', 'ns1'),
    mk('Namespace', 'ns1'),
    mk('ClusterRoleBinding', 'c'),
    mk('ClusterRole', 'c'),
    mk('CustomResourceDefinition', 'x'),
    mk('PodDisruptionBudget', 'p', 'ns1'),
    mk('ServiceAccount', 'sa', 'ns1'),
  ]);
  t.deepEqual(
    sorted.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`),
    [
      'CustomResourceDefinition//x',
      'Namespace//ns1',
      'ClusterRole//c',
      'ClusterRoleBinding//c',
      'ServiceAccount/ns1/sa',
      'PeerAuthentication/ns1/p',
      'Service/ns1/s',
      'Deployment/ns1/z',
      'Deployment/ns2/a',
      'Deployment/ns2/b',
      'PodDisruptionBudget/ns1/p',
      'ValidatingWebhookConfiguration//v',
    ],
  );
});

test('determinism: two renders of the same input are byte-identical', (t) => {
  const input: ResolveInput = {
    files: [
      {
        name: 'a.yaml',
        text: doc(
          '  profile: demo\n  components:\n    ingressGateways:\n    - name: second\n      enabled: true\n      namespace: gw\n',
          'metadata:\n  name: x\n',
        ),
      },
    ],
    sets: ['values.global.proxy.resources.requests.cpu=200m', 'meshConfig.accessLogFile=/dev/stdout'],
  };
  const a = toYamlStream(renderOf(input).objects);
  const b = toYamlStream(renderOf(input).objects);
  t.is(a, b);
  t.true(a.length > 10000);
});

test('k8s settings and overlays reach the rendered objects; a broken overlay names its field', (t) => {
  // Autoscaling off: with an HPA, replicaCount is left to the autoscaler (k8s.test.ts).
  const text = doc(`  profile: minimal
  values:
    pilot:
      autoscaleEnabled: false
  components:
    pilot:
      k8s:
        replicaCount: 2
        nodeSelector: {disk: ssd}
        overlays:
        - kind: Deployment
          name: istiod
          patches:
          - path: spec.template.spec.containers.[name:discovery].args[0]
            value: discovery-patched
`);
  const { objects } = renderOf({ files: [{ name: 'a.yaml', text }] });
  const d = find(objects, 'Deployment', 'istiod');
  t.is(d.spec.replicas, 2);
  t.deepEqual(d.spec.template.spec.nodeSelector, { disk: 'ssd' });
  t.is(d.spec.template.spec.containers.find((c: any) => c.name === 'discovery').args[0], 'discovery-patched');
  const bad = text.replace('[name:discovery]', '[name:nope]');
  const e = t.throws(() => renderOf({ files: [{ name: 'a.yaml', text: bad }] }), { instanceOf: InputError });
  t.is(e!.issues[0].path, 'components.pilot.k8s.overlays[0].patches[0].path');
});

// Strings built to break YAML if pasted as text: they must come back exactly, as strings.
const NASTY = [
  'a\nb: c',
  'x: y',
  '{{ .Values.global.hub }}',
  "'; rm -rf / #",
  '- item',
  '"quoted"',
  'true',
  '123',
  '|\n  block',
  '---\nkind: Secret',
];

test('injection safety: hostile strings in labels, annotations and mesh config survive exactly', (t) => {
  const spec: any = {
    profile: 'default',
    meshConfig: {
      defaultConfig: { proxyMetadata: Object.fromEntries(NASTY.map((s, i) => [`K${i}`, s])) },
      accessLogFormat: NASTY.join('|'),
    },
    components: {
      pilot: { k8s: { podAnnotations: Object.fromEntries(NASTY.map((s, i) => [`a${i}`, s])), serviceAnnotations: { s: NASTY[0] } } },
      ingressGateways: [{ name: 'istio-ingressgateway', enabled: true, k8s: { podAnnotations: { g: NASTY[1] } } }],
    },
  };
  const iop = resolveIstioOperator({
    files: [{ name: 'a.yaml', text: yaml.dump({ apiVersion: 'install.istio.io/v1alpha1', kind: 'IstioOperator', spec }) }],
    force: true,
  }).install;
  const out = toYamlStream(render(iop).objects);
  const docs = yaml.loadAll(out) as K8sObject[];
  t.false(
    docs.some((d) => d.kind === 'Secret'),
    'no smuggled document',
  );
  const d: any = find(docs, 'Deployment', 'istiod');
  NASTY.forEach((s, i) => t.is(d.spec.template.metadata.annotations[`a${i}`], s));
  t.is((find(docs, 'Service', 'istiod') as any).metadata.annotations.s, NASTY[0]);
  const gw: any = find(docs, 'Deployment', 'istio-ingressgateway');
  t.is(gw.spec.template.metadata.annotations.g, NASTY[1]);
  // Mesh config travels as a YAML string inside the `istio` ConfigMap: parse it back.
  const mesh: any = yaml.load((find(docs, 'ConfigMap', 'istio') as any).data.mesh);
  t.is(mesh.accessLogFormat, NASTY.join('|'));
  NASTY.forEach((s, i) => t.is(mesh.defaultConfig.proxyMetadata[`K${i}`], s));
});

test('injection safety: a hostile gateway label is a clear error naming it (a label value cannot hold it)', (t) => {
  const spec = { profile: 'minimal', components: { ingressGateways: [{ name: 'g', enabled: true, label: { hostile: NASTY[0] } }] } };
  const text = yaml.dump({ apiVersion: 'install.istio.io/v1alpha1', kind: 'IstioOperator', spec });
  const e = t.throws(() => renderOf({ files: [{ name: 'a.yaml', text }] }), { instanceOf: InputError });
  t.regex(e!.issues.map((i) => i.path).join(' '), /ingressGateways\[\d+\]\.label\.hostile/);
});

// ---- the CLI, as a process ---------------------------------------------------------------------------------

const bin = path.join(packageRoot, 'bin', 'istio-operator.js');
const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, [bin, 'render', ...args], { encoding: 'utf8', input, cwd: packageRoot });

test('cli: renders YAML to stdout; -f - reads stdin; --component filters', (t) => {
  const r = cli(['-f', '-', '--set', 'tag=1.30.0', '--component', 'pilot'], doc('  profile: minimal\n'));
  t.is(r.status, 0, r.stderr);
  const docs = yaml.loadAll(r.stdout) as K8sObject[];
  t.true(docs.length > 5);
  t.true(docs.every((d) => d.metadata.labels?.[LABEL_COMPONENT] === 'Pilot'));
  t.truthy(find(docs, 'Deployment', 'istiod'));
});

test('cli: errors exit 1, name the field, and write nothing to stdout', (t) => {
  for (const args of [
    ['--revision', 'Not_A_Label'],
    ['--set', 'components.pilot.k8s.replicaCount=-1'],
    ['-f', '/nonexistent.yaml'],
    ['--component', 'nope'],
    ['--bogus'],
  ]) {
    const r = cli(args);
    t.is(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    t.is(r.stdout, '', args.join(' '));
    t.regex(r.stderr, /^error: /m, args.join(' '));
  }
  const e = cli(['--component', 'nope']);
  t.regex(e.stderr, /--component.*one of: base, pilot/);
});

test('ownership labels: ours replace what a template or overlay wrote, except a template-set istio.io/rev', (t) => {
  const objs: K8sObject[] = [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'a', labels: { [LABEL_OWNER_NAME]: 'spoofed', [LABEL_REVISION]: 'stable-tag-target', keep: 'me' } },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b' } },
  ];
  applyOwnershipLabels(objs, 'pilot', { name: 'main', namespace: '', rev: 'canary' }, '1.30.0');
  t.deepEqual(objs[0].metadata.labels, {
    [LABEL_OWNER_NAME]: 'main',
    [LABEL_REVISION]: 'stable-tag-target',
    keep: 'me',
    [LABEL_COMPONENT]: 'Pilot',
    [LABEL_VERSION]: '1.30.0',
  });
  t.is(objs[1].metadata.labels?.[LABEL_REVISION], 'canary');
  t.false(LABEL_OWNER_NAMESPACE in (objs[1].metadata.labels ?? {}));
});
