// The comparison the canary test makes between our two revisions and the two releases' goldens (test/istio/releasediff.ts),
// on the goldens themselves: what it sees between releases, that a revision and a namespace do not count as changes, and
// that RBAC and templates are compared by meaning rather than by text.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import {
  compareDeltas,
  permissions,
  reachableText,
  releaseDelta,
  templateReferences,
  type Obj,
  type Side,
} from '../../istio/releasediff.js';
import { referenceDir } from '../../istio/releases.js';

function golden(release: string): Side {
  const dir = path.join(referenceDir(release), 'golden');
  const input = yaml.load(fs.readFileSync(path.join(dir, 'inputs', 'pilot_default.yaml'), 'utf8')) as { spec: Record<string, unknown> };
  const objects = (
    yaml.loadAll(fs.readFileSync(path.join(dir, 'outputs', 'pilot_default.golden.yaml'), 'utf8')) as Array<Obj | null>
  ).filter((o): o is Obj => !!o);
  return { objects, revision: '', namespace: 'istio-system', hub: String(input.spec.hub), tag: String(input.spec.tag) };
}

/** The same objects as a revisioned install in another namespace with another tag would name them. */
function asRevision(s: Side, revision: string, namespace: string, tag: string): Side {
  const text = JSON.stringify(s.objects)
    .replace(/istio-system/g, namespace)
    .replace(/"istiod"/g, `"istiod-${revision}"`)
    .replace(/"istio-sidecar-injector"/g, `"istio-sidecar-injector-${revision}"`)
    .replace(/"istio\.io\/rev":"default"/g, `"istio.io/rev":"${revision}"`)
    .replace(new RegExp(`:${s.tag.replace(/\./g, '\\.')}"`, 'g'), `:${tag}"`);
  return { objects: JSON.parse(text) as Obj[], revision, namespace, hub: s.hub, tag };
}

test('a release compared with itself has no changes', (t) => {
  t.deepEqual(releaseDelta(golden('1.30.3'), golden('1.30.3')), []);
});

test('1.30.3 -> 1.31.0-rc.0: the goldens differ in the sidecar and agentgateway templates, and nowhere else compared', (t) => {
  const d = releaseDelta(golden('1.30.3'), golden('1.31.0-rc.0'));
  t.true(
    d.includes('ConfigMap istio-sidecar-injector template sidecar: + field .ProxyInitImage'),
    'the field that broke injection on 1.30 (issue #14)',
  );
  t.true(d.includes('ConfigMap istio-sidecar-injector template agentgateway: + name CA_ADDRESS'));
  t.deepEqual(
    d.filter((l) => !l.startsWith('ConfigMap istio-sidecar-injector template ')),
    [],
  );
});

test('1.29.6 -> 1.30.3: ClusterRoles compared as the permissions they grant', (t) => {
  const d = releaseDelta(golden('1.29.6'), golden('1.30.3'));
  t.true(d.includes('ClusterRole istio-reader-clusterrole: + list core/configmaps'));
  t.true(d.includes('ClusterRole istiod-clusterrole: + patch gateway.networking.k8s.io/httproutes/status'));
  t.true(d.includes('ConfigMap istio-sidecar-injector template agentgateway: added'));
});

test('a revision, a namespace and an image tag are not changes: a revisioned copy has the same delta as the goldens', (t) => {
  const a = golden('1.30.3');
  const b = golden('1.31.0-rc.0');
  const ours = releaseDelta(asRevision(a, '1-30-3', 'istio-canary-1', '1.30.3'), asRevision(b, '1-31-0', 'istio-canary-1', '1.31.0-rc.0'));
  t.deepEqual(compareDeltas(ours, releaseDelta(a, b)), { onlyOurs: [], onlyGolden: [] });
});

test('permissions: rules split or merged the same way grant the same triples', (t) => {
  const merged = {
    kind: 'ClusterRole',
    metadata: { name: 'x' },
    rules: [{ apiGroups: ['', 'apps'], resources: ['pods', 'deployments'], verbs: ['get', 'list'] }],
  };
  const split = {
    kind: 'ClusterRole',
    metadata: { name: 'x' },
    rules: [
      { apiGroups: ['apps'], resources: ['deployments', 'pods'], verbs: ['list', 'get'] },
      { apiGroups: [''], resources: ['deployments'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'get'] },
    ],
  };
  t.deepEqual([...permissions(merged)].sort(), [...permissions(split)].sort());
  t.true(permissions(merged).has('get core/pods'));
});

test('templateReferences: the data a template reads and the names it writes, not its comments or layout', (t) => {
  const tpl =
    '{{- /* uses .NotThis */ -}}\ncontainers:\n- name: istio-proxy\n  image: "{{ .ProxyImage }}"\n  env:\n  - name: CA_ADDRESS\n    value: {{ .Values.global.caAddress | quote }}\n{{- if isset .ObjectMeta.Annotations `sidecar.istio.io/proxyCPU` }}\n{{- end }}\n';
  t.deepEqual([...templateReferences(tpl)].sort(), [
    'annotation sidecar.istio.io/proxyCPU',
    'field .ObjectMeta.Annotations',
    'field .ProxyImage',
    'field .Values.global.caAddress',
    'name CA_ADDRESS',
    'name istio-proxy',
  ]);
});

test('reachableText: a define counts only when the template (or a define it reaches) calls it', (t) => {
  const tpl = [
    '{{- define "a" }}A uses .Values.x{{ template "b" . }}{{ end }}',
    '{{- define "b" }}{{ if .Values.y }}B{{ end }}{{ end }}',
    '{{- define "unused" }}{{ range .Values.z }}Z{{ end }}{{ end }}',
    'body {{ template "a" . }} {{ if .Values.w }}w{{ end }}',
  ].join('\n');
  const text = reachableText(tpl);
  t.true(text.includes('.Values.x') && text.includes('.Values.y') && text.includes('.Values.w'));
  t.false(text.includes('.Values.z'), 'the define nothing calls is not part of it');
  t.deepEqual([...templateReferences(tpl)].sort(), ['field .Values.w', 'field .Values.x', 'field .Values.y']);
});

test('templateReferences: nil-safe field access and flow-style names read as the plain forms', (t) => {
  const a = '{{- if eq ((.Values.pilot).env).X true }}\n        - {containerPort: 15020, name: metrics, protocol: TCP}\n{{- end }}';
  const b = '{{- if eq (.Values.pilot.env).X true }}\n        - containerPort: 15020\n          name: metrics\n{{- end }}';
  t.deepEqual([...templateReferences(a)].sort(), [...templateReferences(b)].sort());
  t.true(templateReferences(a).has('field .Values.pilot.env.X') && templateReferences(a).has('name metrics'));
});
