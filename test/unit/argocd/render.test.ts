import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import type { K8sObject } from '../../../operator/api/types.js';
import { render } from '../../../operator/render/index.js';
import { STAGES, stageOf } from '../../../operator/api/kinds.js';
import { toYamlStream } from '../../../operator/render/serialize.js';
import { SYNC_WAVE_ANNOTATION, syncWave, syncWaves, withSyncWaves } from '../../../operator/render/syncwave.js';
import { packageRoot } from '../../../operator/paths.js';

// What Argo CD gets from `istio-operator render` (the plugin runs exactly this): the same bytes every time,
// and sync waves that make Argo CD apply in install's stage order, CRDs first.

const bin = path.join(packageRoot, 'bin', 'istio-operator.js');
const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, [bin, 'render', ...args], { encoding: 'utf8', input, cwd: packageRoot });

// Everything the render can produce at once: all stages, gateways, a revision, an overlay, user strings.
const IOP = `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: gitops
  namespace: istio-system
spec:
  profile: demo
  revision: 1-30-0
  tag: 1.30.0
  meshConfig:
    accessLogFile: /dev/stdout
  components:
    pilot:
      k8s:
        replicaCount: 2
        hpaSpec: { minReplicas: 2, maxReplicas: 4 }
        podAnnotations: { note: "a: b\\n---\\nkind: Secret" }
  values:
    pilot:
      # Two replicas in values too: 1.30's charts decide istiod's PodDisruptionBudget from values alone (k8s
      # settings reach them from 1.31 on), and the budget is the policy stage's object.
      replicaCount: 2
`;

let dir: string;
test.before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argocd-render-'));
  fs.writeFileSync(path.join(dir, 'iop.yaml'), IOP);
});
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }));

const wave = (o: K8sObject) => o.metadata.annotations?.[SYNC_WAVE_ANNOTATION];
const id = (o: K8sObject) => `${o.kind}:${o.metadata.namespace ?? ''}:${o.metadata.name}`;

test('rendering twice, as two processes, gives identical bytes', (t) => {
  const a = cli(['-f', path.join(dir, 'iop.yaml'), '--set', 'values.global.logging.level=default:debug']);
  const b = cli(['-f', path.join(dir, 'iop.yaml'), '--set', 'values.global.logging.level=default:debug']);
  t.is(a.status, 0, a.stderr);
  t.is(b.status, 0, b.stderr);
  t.true(a.stdout.length > 10_000);
  t.true(a.stdout === b.stdout, 'byte-identical');
  // Input order of the same flags does not matter either (one -f, sets are independent paths).
  const c = cli(['--set', 'values.global.logging.level=default:debug', '-f', path.join(dir, 'iop.yaml')]);
  t.true(c.stdout === a.stdout);
});

test('every object carries a sync wave; CRDs come before everything else; waves follow the stage order', (t) => {
  const r = cli(['-f', path.join(dir, 'iop.yaml')]);
  t.is(r.status, 0, r.stderr);
  const docs = yaml.loadAll(r.stdout) as K8sObject[];
  t.true(docs.length > 30);
  const stagesSeen = new Set(docs.map((o) => stageOf(o.kind)));
  // The test input reaches every stage the render has, or it would prove little.
  for (const s of ['crds', 'cluster-rbac', 'config', 'workloads', 'policy', 'webhooks'] as const) t.true(stagesSeen.has(s), s);

  for (const o of docs) t.regex(wave(o) ?? '', /^-?\d+$/, id(o));
  const waves = docs.map((o) => Number(wave(o)));
  const crdWaves = docs.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => Number(wave(o)));
  const otherWaves = docs.filter((o) => o.kind !== 'CustomResourceDefinition').map((o) => Number(wave(o)));
  t.true(crdWaves.length > 10);
  t.true(Math.max(...crdWaves) < Math.min(...otherWaves), 'every CRD is in an earlier wave than every other object');
  t.true(Math.max(...crdWaves) < 0, "CRDs precede Argo CD's default wave 0 too");
  // Documents come in apply order, and the waves never go backwards along it.
  t.deepEqual(
    waves,
    [...waves].sort((x, y) => x - y),
  );
  // Same stage, same wave; a later stage, a strictly later wave.
  for (const o of docs) t.is(Number(wave(o)), syncWave(o), id(o));
  const table = syncWaves();
  t.deepEqual(
    table.map((w) => w.stage),
    [...STAGES],
  );
  for (let i = 1; i < table.length; i++) t.true(table[i].wave > table[i - 1].wave);
  // Namespaces, then cluster RBAC, before the workloads that use them; webhooks last, after istiod.
  const waveOf = (kind: string) => Number(wave(docs.find((o) => o.kind === kind)!));
  t.true(waveOf('ClusterRole') < waveOf('ServiceAccount'));
  t.true(waveOf('ServiceAccount') < waveOf('Deployment'));
  t.true(waveOf('Deployment') < waveOf('MutatingWebhookConfiguration'));
  t.is(waveOf('MutatingWebhookConfiguration'), Math.max(...waves));
});

test('--sync-waves=false and --no-sync-waves leave the annotation out: output is what install applies', (t) => {
  const off = cli(['-f', path.join(dir, 'iop.yaml'), '--sync-waves=false']);
  const no = cli(['-f', path.join(dir, 'iop.yaml'), '--no-sync-waves']);
  const on = cli(['-f', path.join(dir, 'iop.yaml'), '--sync-waves=true']);
  t.is(off.status, 0, off.stderr);
  t.is(no.stdout, off.stdout);
  t.false(off.stdout.includes(SYNC_WAVE_ANNOTATION));
  t.is(on.stdout, cli(['-f', path.join(dir, 'iop.yaml')]).stdout, 'on is the default');
  // The apply path calls render() directly: its objects must never carry the annotation.
  const objects = render(resolveIstioOperator({ files: [{ name: 'iop.yaml', text: IOP }] }).install).objects;
  t.true(objects.every((o) => wave(o) === undefined));
  t.is(off.stdout, toYamlStream(objects));
  // With waves on, removing the one annotation gives the same objects back (an empty annotations map, which
  // some templates render, counts as none).
  const normal = (o: K8sObject, drop?: string) => {
    const a = { ...o.metadata.annotations };
    if (drop) delete a[drop];
    const metadata = { ...o.metadata, annotations: a };
    if (Object.keys(a).length === 0) delete (metadata as { annotations?: unknown }).annotations;
    return { ...o, metadata };
  };
  t.deepEqual(
    (yaml.loadAll(on.stdout) as K8sObject[]).map((o) => normal(o, SYNC_WAVE_ANNOTATION)),
    (yaml.loadAll(off.stdout) as K8sObject[]).map((o) => normal(o)),
  );
});

test('--sync-waves with a value that is not a boolean is an error with empty stdout', (t) => {
  const r = cli(['--sync-waves=maybe']);
  t.is(r.status, 1);
  t.is(r.stdout, '');
  t.regex(r.stderr, /--sync-waves.*not a boolean/);
});

test('--component keeps the waves of the full render (a split Application still orders by stage)', (t) => {
  const r = cli(['-f', path.join(dir, 'iop.yaml'), '--component', 'pilot']);
  t.is(r.status, 0, r.stderr);
  for (const o of yaml.loadAll(r.stdout) as K8sObject[]) t.is(Number(wave(o)), syncWave(o), id(o));
});

test('withSyncWaves copies: the input objects are untouched, and a wave set by an overlay is replaced', (t) => {
  const objs: K8sObject[] = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', annotations: { [SYNC_WAVE_ANNOTATION]: '-100', keep: 'me' } } },
    { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'b' } },
    { apiVersion: 'example.com/v1', kind: 'SomethingUnknown', metadata: { name: 'c' } },
  ];
  const before = structuredClone(objs);
  const out = withSyncWaves(objs);
  t.deepEqual(objs, before);
  t.deepEqual(out.map(wave), [String(syncWave(objs[0])), String(syncWave(objs[1])), String(syncWave(objs[0]))]);
  t.is(out[0].metadata.annotations?.keep, 'me');
  // Kinds order.ts does not know (Istio config) go with config: after the CRDs that define them.
  t.true(Number(wave(out[2])) > Number(wave(out[1])));
});
