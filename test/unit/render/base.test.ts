import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { renderBase, istioCrds } from '../../../operator/render/components/base.js';
import type { RenderContext } from '../../../operator/render/context.js';
import type { K8sObject } from '../../../operator/api/types.js';
import { manifestsDir } from '../../../operator/paths.js';
import { loadGolden } from '../../golden/compare.js';
import { DEFAULT_RELEASE, RELEASES, type Release } from '../../../operator/api/releases.js';
import { releaseFixturesDir } from '../../helpers/fixtures.js';

// The base component: Istio's CRDs (per release line, generated from its API: test/unit/render/crdschemas.test.ts
// compares them with Istio's) and the
// istio-reader ServiceAccount, from a hand-made RenderContext so the test does not depend on values resolution.

const defaults = yaml.load(fs.readFileSync(path.join(manifestsDir, 'values.yaml'), 'utf8')) as Record<string, any>;

function ctx(over: { values?: Record<string, any>; revision?: string; namespace?: string; release?: Release } = {}): RenderContext {
  const values = structuredClone(defaults);
  for (const [k, v] of Object.entries(over.values ?? {})) values[k] = { ...(values[k] ?? {}), ...v };
  const revision = over.revision ?? '';
  return {
    values,
    meshConfig: {},
    revision,
    rev: revision || 'default',
    revSuffix: revision ? `-${revision}` : '',
    namespace: over.namespace ?? 'istio-system',
    istioNamespace: 'istio-system',
    version: '1.30.0',
    release: over.release ?? DEFAULT_RELEASE,
    ca: { mode: 'istiod', secretName: 'cacerts' },
  };
}

const crdsOf = (objs: K8sObject[]) => objs.filter((o) => o.kind === 'CustomResourceDefinition');
const names = (objs: K8sObject[]) => objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
const goldenCrds = () =>
  loadGolden('all_on.golden-show-in-gh-pull-request.yaml').filter((o) => o.kind === 'CustomResourceDefinition') as any[];

test('renders the 15 Istio CRDs of 1.30 and the istio-reader ServiceAccount', (t) => {
  const objs = renderBase(ctx());
  t.is(crdsOf(objs).length, 15);
  const sa = objs.find((o) => o.kind === 'ServiceAccount')!;
  t.is(sa.metadata.name, 'istio-reader-service-account');
  t.is(sa.metadata.namespace, 'istio-system');
  t.deepEqual(sa.metadata.labels, { app: 'istio-reader', 'app.kubernetes.io/name': 'istio-reader', 'app.kubernetes.io/part-of': 'istio' });
  t.is(objs.length, 16);
});

test('CRD identity equals Istio 1.30: group, names, scope, categories, versions with served/storage, printer columns', (t) => {
  const ours = new Map(crdsOf(renderBase(ctx())).map((c: any) => [c.metadata.name, c]));
  const golden = goldenCrds();
  t.is(golden.length, 14);
  for (const g of golden) {
    const o = ours.get(g.metadata.name);
    if (!o) {
      t.fail(`missing CRD ${g.metadata.name}`);
      continue;
    }
    t.is(o.spec.group, g.spec.group, g.metadata.name);
    t.is(o.spec.scope, g.spec.scope, g.metadata.name);
    t.deepEqual(o.spec.names, g.spec.names, g.metadata.name);
    const ident = (c: any) =>
      c.spec.versions.map((v: any) => ({
        name: v.name,
        served: v.served,
        storage: v.storage,
        subresources: v.subresources,
        required: v.schema.openAPIV3Schema.required,
        topLevel: Object.keys(v.schema.openAPIV3Schema.properties).sort(),
        columns: (v.additionalPrinterColumns ?? []).map((c: any) => [c.name, c.type, c.jsonPath, c.priority]),
      }));
    t.deepEqual(ident(o), ident(g), g.metadata.name);
    t.deepEqual(o.metadata.labels, { 'app.kubernetes.io/part-of': 'istio' });
  }
});

/** The apiserver's structural-schema rules that a hand-written schema can break. */
function structuralProblems(s: any, at: string, out: string[]): void {
  if (!s || typeof s !== 'object') return void out.push(`${at}: not a schema`);
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true || s['x-kubernetes-int-or-string'] === true;
  if (!s.type && !preserve) out.push(`${at}: no type`);
  if (s.properties && s.additionalProperties) out.push(`${at}: properties and additionalProperties together`);
  for (const bad of ['$ref', 'definitions', 'dependencies', 'patternProperties']) if (bad in s) out.push(`${at}: ${bad} is not allowed`);
  if (s.type === 'array' && !s.items) out.push(`${at}: array without items`);
  if (s.type && s.type !== 'object' && (s.properties || s.additionalProperties)) out.push(`${at}: properties on a ${s.type}`);
  for (const [k, v] of Object.entries(s.properties ?? {})) structuralProblems(v, `${at}.${k}`, out);
  if (s.items) structuralProblems(s.items, `${at}[]`, out);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') structuralProblems(s.additionalProperties, `${at}{}`, out);
}

test('CRD schemas are structural, one storage version each, spec typed, status keeps unknown fields', (t) => {
  for (const r of RELEASES) {
    for (const c of crdsOf(renderBase(ctx({ release: r }))) as any[]) {
      t.is(c.apiVersion, 'apiextensions.k8s.io/v1');
      t.is(c.spec.versions.filter((v: any) => v.storage).length, 1, c.metadata.name);
      for (const v of c.spec.versions) {
        const problems: string[] = [];
        structuralProblems(v.schema.openAPIV3Schema, `${r.line} ${c.metadata.name}/${v.name}`, problems);
        t.deepEqual(problems, []);
        const { spec, status } = v.schema.openAPIV3Schema.properties;
        // The API's schema: unknown fields under spec are pruned or refused, as Istio's CRDs do.
        t.is(spec['x-kubernetes-preserve-unknown-fields'], undefined, `${r.line} ${c.metadata.name}/${v.name} spec`);
        t.is(spec.type, 'object');
        t.true(Object.keys(spec.properties ?? {}).length > 0, `${r.line} ${c.metadata.name}/${v.name} spec has fields`);
        t.true(status['x-kubernetes-preserve-unknown-fields'], `${r.line} ${c.metadata.name}/${v.name} status`);
        t.truthy(spec.description);
        t.deepEqual(v.subresources, { status: {} });
      }
    }
  }
});

test('the structural check catches what the apiserver rejects', (t) => {
  const p: string[] = [];
  structuralProblems(
    {
      type: 'object',
      properties: { a: {}, b: { type: 'array' }, c: { type: 'object', properties: {}, additionalProperties: { type: 'string' } } },
    },
    'x',
    p,
  );
  t.deepEqual(p, ['x.a: no type', 'x.b: array without items', 'x.c: properties and additionalProperties together']);
});

test('CRDs are the same whatever the revision, and callers get their own copies', (t) => {
  const a = renderBase(ctx());
  const b = renderBase(ctx({ revision: 'canary' }));
  t.deepEqual(a, b);
  (a[0] as any).spec.group = 'changed';
  a[0]!.metadata.labels!.x = 'y';
  t.deepEqual(renderBase(ctx()), b);
  t.not(istioCrds()[0], istioCrds()[0]);
  // Per line: parsed once, the schemas shared (frozen) between renders of the same line, not across lines.
  const [r29, r30] = [RELEASES.find((r) => r.line === '1.29')!, RELEASES.find((r) => r.line === '1.30')!];
  const vs = (r: Release) => istioCrds(r).find((c) => c.metadata.name === 'virtualservices.networking.istio.io') as any;
  t.is(vs(r30).spec.versions, vs(r30).spec.versions);
  t.true(Object.isFrozen(vs(r30).spec.versions[0].schema));
  t.not(vs(r29).spec.versions, vs(r30).spec.versions);
});

test('excludedCRDs, enableIstioConfigCRDs and enableCRDTemplates leave CRDs out', (t) => {
  const ex = renderBase(
    ctx({ values: { base: { excludedCRDs: ['envoyfilters.networking.istio.io', 'wasmplugins.extensions.istio.io'] } } }),
  );
  t.is(crdsOf(ex).length, 13);
  t.false(names(ex).includes('CustomResourceDefinition/envoyfilters.networking.istio.io'));
  t.is(crdsOf(renderBase(ctx({ values: { base: { enableIstioConfigCRDs: false } } }))).length, 0);
  t.is(crdsOf(renderBase(ctx({ values: { base: { enableCRDTemplates: false } } }))).length, 0);
});

test('resourceScope splits cluster-scoped CRDs from the namespaced ServiceAccount', (t) => {
  t.deepEqual(
    renderBase(ctx({ values: { global: { resourceScope: 'namespace' } } })).map((o) => o.kind),
    ['ServiceAccount'],
  );
  const cluster = renderBase(ctx({ values: { global: { resourceScope: 'cluster' } } }));
  t.is(cluster.length, 15);
  t.true(cluster.every((o) => o.kind === 'CustomResourceDefinition'));
});

test('reader account: off with enableReaderRBAC=false or a custom account; pull secrets; namespace from the context', (t) => {
  const sa = (c: RenderContext) => renderBase(c).filter((o) => o.kind === 'ServiceAccount');
  t.is(sa(ctx({ values: { global: { enableReaderRBAC: false } } })).length, 0);
  t.is(sa(ctx({ values: { global: { readerServiceAccount: { name: 'mine', namespace: 'x' } } } })).length, 0);
  const withSecrets = sa(ctx({ values: { global: { imagePullSecrets: ['reg-a', 'reg: "b"\nx'] } }, namespace: 'mesh' }))[0] as any;
  t.is(withSecrets.metadata.namespace, 'mesh');
  // A secret name with YAML in it stays one string: values enter templates as JSON.
  t.deepEqual(withSecrets.imagePullSecrets, [{ name: 'reg-a' }, { name: 'reg: "b"\nx' }]);
});

test('base objects agree with the all_on golden on every leaf outside CRD schemas and column descriptions', (t) => {
  const golden = loadGolden('all_on.golden-show-in-gh-pull-request.yaml') as any[];
  const ours = renderBase(ctx()) as any[];
  const helm = new Set([
    'helm.sh/chart',
    'app.kubernetes.io/managed-by',
    'app.kubernetes.io/version',
    'app.kubernetes.io/instance',
    'release',
  ]);
  const strip = (o: any) => {
    const c = structuredClone(o);
    for (const k of Object.keys(c.metadata.labels ?? {})) if (helm.has(k)) delete c.metadata.labels[k];
    if (c.kind === 'CustomResourceDefinition') {
      for (const v of c.spec.versions) {
        delete v.schema;
        for (const col of v.additionalPrinterColumns ?? []) delete col.description;
      }
    }
    return c;
  };
  const sortKeys = (v: any): any =>
    Array.isArray(v)
      ? v.map(sortKeys)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sortKeys(v[k])]),
          )
        : v;
  const byName = (objs: any[]) => new Map(objs.map((o) => [`${o.kind}/${o.metadata.name}`, sortKeys(strip(o))]));
  const g = byName(golden.filter((o) => o.kind === 'CustomResourceDefinition' || o.metadata.name === 'istio-reader-service-account'));
  // Istio's goldens predate the TrafficExtension CRD its 1.30 base chart ships (crd-all.gen.yaml has it; the CRD
  // set test below checks every release against that file).
  const o = byName(ours.filter((x) => x.metadata.name !== 'trafficextensions.extensions.istio.io'));
  t.deepEqual([...o.keys()].sort(), [...g.keys()].sort());
  for (const [k, v] of g) t.deepEqual(o.get(k), v, k);
});

test("per release, the CRDs rendered are exactly the names in that release's crd-all.gen.yaml, with its versions", (t) => {
  for (const r of RELEASES) {
    // Each release row's patch is the fixture folder of that release (test/fixtures/istio/releases/<patch>).
    const fixture = r.patch;
    const theirs = (
      yaml.loadAll(fs.readFileSync(path.join(releaseFixturesDir(fixture), 'crds', 'crd-all.gen.yaml'), 'utf8')) as any[]
    ).filter((d) => d?.kind === 'CustomResourceDefinition');
    const ours = crdsOf(renderBase(ctx({ release: r }))) as any[];
    t.deepEqual(ours.map((c) => c.metadata.name).sort(), theirs.map((c) => c.metadata.name).sort(), r.line);
    const versions = (c: any) => c.spec.versions.map((v: any) => `${v.name}:${v.served}:${v.storage}`).sort();
    for (const c of theirs)
      t.deepEqual(versions(ours.find((o) => o.metadata.name === c.metadata.name)), versions(c), `${r.line} ${c.metadata.name}`);
  }
});
