import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { crdsDir } from '../../../operator/paths.js';

const crd = yaml.load(fs.readFileSync(path.join(crdsDir, 'install.istio.io_istiooperators.yaml'), 'utf8')) as any;
const v = crd.spec.versions[0];
const spec = v.schema.openAPIV3Schema.properties.spec;

test('names, scope, version, status subresource, printer columns', (t) => {
  t.is(crd.metadata.name, 'istiooperators.install.istio.io');
  t.is(crd.spec.scope, 'Namespaced');
  t.deepEqual(crd.spec.names.shortNames, ['iop', 'io']);
  t.is(crd.spec.names.kind, 'IstioOperator');
  t.is(v.name, 'v1alpha1');
  t.true(v.served && v.storage);
  t.deepEqual(v.subresources, { status: {} });
  t.deepEqual(
    v.additionalPrinterColumns.map((c: any) => [c.name, c.jsonPath]),
    [
      ['Revision', '.spec.revision'],
      ['Istio', '.status.istio.version'],
      ['Status', '.status.status'],
      ['Age', '.metadata.creationTimestamp'],
    ],
  );
});

test('free-form parts preserve unknown fields; tag is int-or-string', (t) => {
  for (const k of ['values', 'unvalidatedValues', 'meshConfig']) t.true(spec.properties[k]['x-kubernetes-preserve-unknown-fields'], k);
  t.true(spec.properties.tag['x-kubernetes-int-or-string']);
  t.true(spec.properties.components.properties.pilot.properties.tag['x-kubernetes-int-or-string']);
  t.deepEqual(spec.properties.components.properties.ca.properties.mode.enum, ['istiod', 'operator', 'provided', 'external']);
});

test('every typed node is structural and every spec field has a description', (t) => {
  const walk = (node: any, p: string) => {
    t.true(typeof node.description === 'string' && node.description.length > 0, `${p} has a description`);
    t.true(!!node.type || node['x-kubernetes-int-or-string'] || node['x-kubernetes-preserve-unknown-fields'], `${p} has a type`);
    for (const [k, c] of Object.entries<any>(node.properties ?? {})) walk(c, `${p}.${k}`);
    if (node.items?.properties) for (const [k, c] of Object.entries<any>(node.items.properties)) walk(c, `${p}[].${k}`);
  };
  walk(spec, 'spec');
  const k8s = spec.properties.components.properties.pilot.properties.k8s.properties;
  for (const f of [
    'affinity',
    'env',
    'hpaSpec',
    'imagePullPolicy',
    'nodeSelector',
    'podDisruptionBudget',
    'podAnnotations',
    'priorityClassName',
    'readinessProbe',
    'replicaCount',
    'resources',
    'service',
    'serviceAnnotations',
    'strategy',
    'tolerations',
    'securityContext',
    'volumes',
    'volumeMounts',
    'overlays',
  ]) {
    t.truthy(k8s[f], f);
  }
});
