import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { repoRoot } from '../../cluster/controlplane.js';
import { CHART, helm, helmOk } from '../../helm/helm.js';

// One source: the Helm chart (rendered by real Helm) and `istio-operator operator manifests` (the CLI) give the
// same objects for the same settings. The CLI adds only the operator's Namespace, which Helm leaves to
// `helm install --create-namespace`. No cluster is needed: `helm template` renders offline.

const bin = path.join(repoRoot, 'bin', 'istio-operator.js');

type Obj = { kind: string; metadata: { name: string; namespace?: string } };
const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const byKey = (objs: Obj[]) => Object.fromEntries(objs.map((o) => [key(o), o]).sort(([a], [b]) => (a! < b! ? -1 : 1)));
const docs = (text: string) => (yaml.loadAll(text) as Obj[]).filter((d) => d && typeof d === 'object');

function cliManifests(args: string[]): Obj[] {
  const r = spawnSync(process.execPath, [bin, 'operator', 'manifests', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`operator manifests ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return docs(r.stdout);
}

function valuesFile(v: unknown): string {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'iop-values-')), 'values.yaml');
  fs.writeFileSync(f, yaml.dump(v));
  return f;
}

/** Every value set away from its default (and the admission policy scoped to the watched namespaces). */
const NON_DEFAULT = {
  image: { repository: 'registry.example/mesh/istio-operator', digest: 'sha256:' + 'a'.repeat(64), pullPolicy: 'Always' },
  imagePullSecrets: [{ name: 'pull' }],
  replicas: 3,
  leaderElection: { enabled: true, leaseDuration: '30s' },
  concurrency: 4,
  logLevel: 'debug',
  watchNamespaces: ['team-a', 'mesh'],
  trustedNamespaces: ['mesh'],
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
  nodeSelector: { 'kubernetes.io/os': 'linux', pool: 'system' },
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'system', effect: 'NoSchedule' }],
  affinity: {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: 'kubernetes.io/hostname',
            labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'istio-operator' } },
          },
        },
      ],
    },
  },
  priorityClassName: 'system-cluster-critical',
  podLabels: { team: 'platform', 'cost-center': '42' },
  podAnnotations: { 'example.com/note': 'a: "quoted" value\nwith a newline' },
  metrics: { serviceMonitor: { enabled: true, interval: '15s', labels: { release: 'prom' } } },
  podDisruptionBudget: { enabled: true, maxUnavailable: 1 },
};

async function compare(t: import('ava').ExecutionContext, name: string, namespace: string, cliArgs: string[], helmArgs: string[]) {
  const fromCli = cliManifests(['--name', name, '--namespace', namespace, ...cliArgs]);
  const fromHelm = docs(await helmOk(['template', name, CHART, '--namespace', namespace, '--include-crds', ...helmArgs]));
  t.deepEqual(
    fromCli.filter((o) => o.kind === 'Namespace').map(key),
    [`Namespace//${namespace}`],
    'the CLI adds the Namespace, and only that',
  );
  t.deepEqual(byKey(fromHelm), byKey(fromCli.filter((o) => o.kind !== 'Namespace')));
  return fromHelm;
}

test('defaults: helm template and operator manifests give the same objects', async (t) => {
  const objs = await compare(t, 'istio-operator', 'istio-operator', [], []);
  t.deepEqual(objs.map((o) => o.kind).sort(), [
    'ClusterRole',
    'ClusterRoleBinding',
    'CustomResourceDefinition',
    'Deployment',
    'Role',
    'RoleBinding',
    'Service',
    'ServiceAccount',
    'ValidatingAdmissionPolicy',
    'ValidatingAdmissionPolicyBinding',
  ]);
  const dep = objs.find((o) => o.kind === 'Deployment') as any;
  const version = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version;
  t.is(
    dep.spec.template.spec.containers[0].image,
    `ghcr.io/istio-operator/istio-operator:${version}`,
    'the image tag follows package.json',
  );
});

test('every value changed: the same objects from a values file given to both', async (t) => {
  const f = valuesFile(NON_DEFAULT);
  const objs = await compare(t, 'mesh-op', 'platform', ['-f', f], ['-f', f]);
  t.deepEqual(objs.map((o) => o.kind).sort(), [
    'ClusterRole',
    'ClusterRoleBinding',
    'CustomResourceDefinition',
    'Deployment',
    'PodDisruptionBudget',
    'Role',
    'RoleBinding',
    'Service',
    'ServiceAccount',
    'ServiceMonitor',
    'ValidatingAdmissionPolicy',
    'ValidatingAdmissionPolicyBinding',
  ]);
  const dep = objs.find((o) => o.kind === 'Deployment') as any;
  t.is(dep.spec.template.spec.containers[0].image, `${NON_DEFAULT.image.repository}@${NON_DEFAULT.image.digest}`);
  t.true(dep.spec.template.spec.containers[0].args.includes('--trusted-namespaces=mesh'));
  const vapb = objs.find((o) => o.kind === 'ValidatingAdmissionPolicyBinding') as any;
  t.deepEqual(vapb.spec.matchResources.namespaceSelector.matchExpressions[0].values, ['team-a', 'mesh']);
  t.is(objs.find((o) => o.kind === 'ClusterRole')!.metadata.name, 'mesh-op.platform');
});

test('the CLI shorthand flags mean what the same values mean to helm, and switches turn objects off', async (t) => {
  const off = valuesFile({ admissionPolicy: { enabled: false }, leaderElection: { enabled: false } });
  const objs = await compare(
    t,
    'op',
    'ops',
    [
      '-f',
      off,
      '--image',
      'example.com/op:dev',
      '--replicas',
      '1',
      '--concurrency',
      '3',
      '--namespaces',
      'x,y',
      '--trusted-namespaces',
      'x',
    ],
    [
      '-f',
      off,
      '--set',
      'image.repository=example.com/op,image.tag=dev,replicas=1,concurrency=3',
      '--set',
      'watchNamespaces={x,y}',
      '--set',
      'trustedNamespaces={x}',
    ],
  );
  t.false(
    objs.some((o) => o.kind.startsWith('ValidatingAdmissionPolicy')),
    'admissionPolicy.enabled=false: no policy',
  );
  const args: string[] = (objs.find((o) => o.kind === 'Deployment') as any).spec.template.spec.containers[0].args;
  t.false(args.includes('--leader-elect'));
  t.true(args.includes('--namespaces=x,y') && args.includes('--trusted-namespaces=x') && args.includes('--concurrency=3'));
});

test('a typo or a wrong type is refused by both, naming the value', async (t) => {
  const f = valuesFile({ replica: 3, leaderElection: { enabled: 'yes' } });
  const cli = spawnSync(process.execPath, [bin, 'operator', 'manifests', '-f', f], { encoding: 'utf8' });
  t.is(cli.status, 1);
  t.regex(cli.stderr, /error: replica: is not a value of the operator install \(valid here: image, /);
  t.regex(cli.stderr, /error: leaderElection\.enabled: is a string \(a boolean, like the default true\)/);
  const h = await helm(['template', 'x', CHART, '-f', f]);
  t.not(h.code, 0);
  t.regex(h.stderr, /values don't meet the specifications of the schema/);
  t.regex(h.stderr, /replica/);
  t.regex(h.stderr, /leaderElection/);
});

test('helm lint passes on the generated chart, strict', async (t) => {
  const out = await helmOk(['lint', '--strict', CHART]);
  t.regex(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});
