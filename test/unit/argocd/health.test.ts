import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { argoHealth } from '../../helpers/argo-health.js';
import { argocdFixturesDir } from '../../helpers/fixtures.js';
import { computeStatus, type Outcome } from '../../../operator/controller/status.js';
import { packageRoot } from '../../../operator/paths.js';

// Statuses as the controller computes them, read by Argo CD's built-in check and by our stricter one.
const strict = fs.readFileSync(path.join(packageRoot, 'argocd/health.lua'), 'utf8');
const now = new Date('2026-01-01T00:00:00Z');

function iop(outcome: Outcome, generation = 3, observed = generation) {
  return {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { name: 'x', generation },
    status: computeStatus(undefined, observed, outcome, now),
  };
}

const cases: Array<[string, ReturnType<typeof iop>, string, string]> = [
  ['HEALTHY', iop({ kind: 'applied', components: { Pilot: { ready: true } }, updating: false }), 'Healthy', 'Healthy'],
  [
    'RECONCILING',
    iop({ kind: 'applied', components: { Pilot: { ready: false, message: 'Deployment istiod: 0/1 available' } }, updating: false }),
    'Progressing',
    'Progressing',
  ],
  ['UPDATING', iop({ kind: 'applied', components: { Pilot: { ready: false } }, updating: true }), 'Progressing', 'Progressing'],
  ['ERROR', iop({ kind: 'invalid', message: 'spec.components.pilot.k8s.replicaCount: must be >= 0' }), 'Degraded', 'Degraded'],
  // Argo's built-in script does not know ACTION_REQUIRED: it falls through to "Waiting for Istio Control Plane".
  [
    'ACTION_REQUIRED',
    iop({ kind: 'actionRequired', message: 'revision 1-29-0 is in use by 1 namespace (shop)' }),
    'Progressing',
    'Degraded',
  ],
  // HEALTHY from before the latest edit: the built-in check believes it, ours waits for the new generation.
  ['stale HEALTHY', iop({ kind: 'applied', components: { Pilot: { ready: true } }, updating: false }, 4, 3), 'Healthy', 'Progressing'],
];

for (const [name, obj, builtin, ours] of cases) {
  test(`health of ${name}: built-in ${builtin}, stricter ${ours}`, (t) => {
    t.is(argoHealth(obj).status, builtin);
    const h = argoHealth(obj, strict);
    t.is(h.status, ours);
    if (ours === 'Degraded') t.true(h.message.includes(obj.status.message ?? ''), h.message);
  });
}

test('no status yet is Progressing in both', (t) => {
  const obj = { metadata: { generation: 1 } };
  t.is(argoHealth(obj).status, 'Progressing');
  t.is(argoHealth(obj, strict).status, 'Progressing');
});

test('the argocd-cm snippet carries exactly argocd/health.lua', (t) => {
  const cm = yaml.load(fs.readFileSync(path.join(packageRoot, 'argocd/argocd-cm.yaml'), 'utf8')) as { data: Record<string, string> };
  t.is(cm.data['resource.customizations.health.install.istio.io_IstioOperator'], strict);
});

test("the Lua VM reproduces Argo CD's own test cases for its built-in script", (t) => {
  const dir = argocdFixturesDir;
  const suite = yaml.load(fs.readFileSync(path.join(dir, 'health_test.yaml'), 'utf8')) as {
    tests: Array<{ healthStatus: { status: string; message: string }; inputPath: string }>;
  };
  t.true(suite.tests.length >= 4);
  for (const c of suite.tests) {
    const obj = yaml.load(fs.readFileSync(path.join(dir, c.inputPath), 'utf8'));
    t.deepEqual(argoHealth(obj), c.healthStatus, c.inputPath);
  }
});

test("docs/gitops.md shows the health and message Argo CD's built-in check gives in each state", (t) => {
  const doc = fs.readFileSync(path.join(packageRoot, 'docs/gitops.md'), 'utf8');
  const rowOf: Record<string, string> = {
    HEALTHY: '| `HEALTHY`, current generation |',
    'stale HEALTHY': '| `HEALTHY`, but the spec changed since',
    RECONCILING: '| `RECONCILING` |',
    UPDATING: '| `UPDATING` |',
    ERROR: '| `ERROR`',
    ACTION_REQUIRED: '| `ACTION_REQUIRED`',
  };
  for (const [name, obj] of cases) {
    const row = doc.split('\n').find((l) => l.startsWith(rowOf[name]!));
    const h = argoHealth(obj);
    t.truthy(row, `a row for ${name}`);
    t.true(row!.includes(`| ${h.status}, "${h.message}"`), `${name}: Argo CD shows ${h.status}, "${h.message}"; the doc row is ${row}`);
  }
});
