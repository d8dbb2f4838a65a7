import test from 'ava';
import { InputError } from '../../../operator/api/errors.js';
import { operatorManifests, selfValues } from '../../../operator/controller/selfmanifests.js';
import { staleChartFiles, toGoTemplate } from '../../../scripts/chart.js';

// The chart in git is generated from manifests/operator (scripts/chart.ts); these check that it is current and
// that the translation refuses what it could not translate faithfully. Equality of the rendered objects is
// proven with real Helm in test/integration/packaging/chart.test.ts.

test('charts/istio-operator is what manifests/operator generates (run `npm run chart` when this fails)', (t) => {
  t.deepEqual(staleChartFiles(), []);
});

test('templates translate to Helm: paths get a dot, helpers keep their names, standalone blocks trim their line', (t) => {
  const src =
    'a: {{toJson (printf "%s-x" Values.n)}}\n{{#if Values.on}}\nb: 1\n{{else}}\nb: 2\n{{/if}}\n{{#each Values.m}}\n{{toJson @key}}: {{toJson this}}\n{{/each}}\n';
  t.is(
    toGoTemplate(src),
    'a: {{ toJson (printf "%s-x" .Values.n) }}\n{{- if .Values.on }}\nb: 1\n{{- else }}\nb: 2\n{{- end }}\n{{- range $key, $value := .Values.m }}\n{{ toJson $key }}: {{ toJson $value }}\n{{- end }}\n',
  );
});

test('what Helm could not mean the same way is refused, naming the file and line', (t) => {
  const refused = (src: string, why: RegExp) => t.throws(() => toGoTemplate(src, 'x.yaml.hbs'), { message: why });
  refused('a: {{Values.x}}\n', /x\.yaml\.hbs:1: every value is written through toJson/);
  refused('a: {{toJson (upper Values.x)}}\n', /helper "upper" is not one of/);
  refused('a: {{#if Values.x}}1{{/if}}\n', /must each stand on a line of their own/);
  refused('{{#with Values.x}}\na: 1\n{{/with}}\n', /block "with" is not one of/);
  refused('{{#each Values.m}}\na: {{toJson Values.x}}\n{{/each}}\n', /inside each: use this, @key or @root/);
  refused('a: {{toJson (default "x" Values.y z=1)}}\n', /hash arguments/);
});

test('values are checked against the defaults: unknown keys and wrong types name the field and what is valid', (t) => {
  const e = t.throws(
    () => selfValues({ values: { replica: 3, image: { tag: 5 }, leaderElection: { enable: true }, podLabels: { free: 'form' } } }),
    { instanceOf: InputError },
  ) as InputError;
  t.deepEqual(
    e.issues.map((i) => i.path),
    ['replica', 'image.tag', 'leaderElection.enable'],
  );
  t.regex(e.issues[0]!.hint!, /valid here: image, imagePullSecrets, replicas/);
  t.regex(e.issues[1]!.hint!, /a string/);
});

test('two instances in different namespaces share no cluster-scoped name', (t) => {
  const cluster = (ns: string) =>
    operatorManifests({ namespace: ns, includeCRD: false })
      .filter((o) => !o.metadata.namespace && o.kind !== 'Namespace')
      .map((o) => `${o.kind}/${o.metadata.name}`);
  const a = cluster('ops-a');
  const b = cluster('ops-b');
  t.deepEqual(a, [
    'ClusterRole/istio-operator.ops-a',
    'ClusterRoleBinding/istio-operator.ops-a',
    'ValidatingAdmissionPolicy/istio-operator.ops-a',
    'ValidatingAdmissionPolicyBinding/istio-operator.ops-a',
  ]);
  t.deepEqual(
    a.filter((n) => b.includes(n)),
    [],
  );
  const crb = operatorManifests({ namespace: 'ops-a', includeCRD: false }).find((o) => o.kind === 'ClusterRoleBinding') as any;
  t.is(crb.roleRef.name, 'istio-operator.ops-a');
  t.deepEqual(crb.subjects, [{ kind: 'ServiceAccount', name: 'istio-operator', namespace: 'ops-a' }]);
});
