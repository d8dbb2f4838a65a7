import test from 'ava';
import { operatorManifests, operatorRules } from '../../../operator/controller/selfmanifests.js';
import { Counter, Gauge, Histogram, Registry, parseAddr } from '../../../operator/controller/metrics.js';
import { resolveFromCluster } from '../../../operator/controller/reconciler.js';
import { InputError } from '../../../operator/api/errors.js';
import { groupOf, KINDS } from '../../../operator/api/kinds.js';

test('operator manifests: CRD, namespace, SA, ClusterRole(+Binding), lease Role(+Binding), Deployment, metrics Service, admission policy(+binding)', (t) => {
  const objs = operatorManifests({ namespace: 'ops', watchNamespaces: ['a', 'b'] });
  t.deepEqual(
    objs.map((o) => o.kind),
    [
      'CustomResourceDefinition',
      'Namespace',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'Deployment',
      'Service',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ],
  );
  const dep = objs.find((o) => o.kind === 'Deployment') as any;
  const args: string[] = dep.spec.template.spec.containers[0].args;
  t.true(args.includes('--leader-elect'));
  t.true(args.includes('--lease-namespace=ops'));
  t.true(args.includes('--namespaces=a,b'));
  t.is(dep.spec.template.spec.serviceAccountName, 'istio-operator');
});

test('no RBAC rule has a wildcard, and every rule names resources and verbs', (t) => {
  const rules = operatorRules(operatorManifests());
  t.true(rules.length > 5);
  for (const r of rules) {
    for (const f of ['apiGroups', 'resources', 'verbs'] as const) {
      t.true(Array.isArray(r[f]) && r[f].length > 0, `${r.kind}/${r.name} ${f}`);
      t.false(
        r[f].some((x) => x.includes('*')),
        `${r.kind}/${r.name} ${f} has a wildcard: ${r[f].join(',')}`,
      );
    }
  }
  // The lease is the only thing the namespaced Role grants.
  const role = rules.filter((r) => r.kind === 'Role');
  t.deepEqual(
    role.map((r) => r.resources),
    [['leases']],
  );
});

test('metrics render in Prometheus text format', (t) => {
  const r = new Registry();
  const c = r.add(new Counter('x_total', 'X.'));
  c.inc({ result: 'applied' });
  c.inc({ result: 'applied' });
  r.add(new Gauge('g', 'G.', () => [[{ name: 'a"b' }, 3]]));
  const h = r.add(new Histogram('d_seconds', 'D.', [0.1, 1]));
  h.observe(0.05);
  h.observe(0.5);
  const text = r.render();
  t.regex(text, /# TYPE x_total counter\nx_total\{result="applied"\} 2/);
  t.regex(text, /g\{name="a\\"b"\} 3/);
  t.regex(
    text,
    /d_seconds_bucket\{le="0.1"\} 1\nd_seconds_bucket\{le="1"\} 2\nd_seconds_bucket\{le="\+Inf"\} 2\nd_seconds_sum 0.55\nd_seconds_count 2/,
  );
  t.deepEqual(parseAddr(':8080'), { host: undefined, port: 8080 });
  t.deepEqual(parseAddr('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  t.throws(() => parseAddr('x'));
});

test('the in-cluster resolve refuses a profile path and finds the install namespace', (t) => {
  const iop = (spec: any) => ({
    apiVersion: 'install.istio.io/v1alpha1' as const,
    kind: 'IstioOperator' as const,
    metadata: { name: 'x', namespace: 'ns' },
    spec,
  });
  const e = t.throws(() => resolveFromCluster(iop({ profile: '/etc/passwd' })), { instanceOf: InputError }) as InputError;
  t.is(e.issues[0]!.path, 'spec.profile');
  t.is(resolveFromCluster(iop({ namespace: 'my-istio' })).install.istioNamespace, 'my-istio');
  t.is(resolveFromCluster(iop({})).install.istioNamespace, 'istio-system');
});

test('the ClusterRole grants exactly what the kinds table implies: rendered kinds are applied, watched and pruned; usage kinds are watched', (t) => {
  const rules = operatorRules(operatorManifests()).filter((r) => r.kind === 'ClusterRole' && !r.resourceNames);
  const granted = (apiVersion: string, plural: string) =>
    new Set(rules.filter((r) => r.apiGroups.includes(groupOf(apiVersion)) && r.resources.includes(plural)).flatMap((r) => r.verbs));
  for (const k of KINDS) {
    const want = k.cacheOnly
      ? ['get', 'list', 'watch', 'create', 'patch']
      : k.rendered
        ? ['get', 'list', 'watch', 'create', 'patch', 'delete']
        : k.kind === 'Pod'
          ? ['list', 'watch']
          : k.kind === 'Namespace'
            ? ['get', 'list', 'watch', 'create']
            : [];
    const have = granted(k.apiVersion, k.plural);
    for (const v of want) t.true(have.has(v), `${k.kind}: ${v} not granted (has ${[...have].join(', ') || 'nothing'})`);
  }
});
