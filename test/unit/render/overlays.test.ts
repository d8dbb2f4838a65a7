import test from 'ava';
import { InputError } from '../../../operator/api/errors.js';
import type { K8sObject } from '../../../operator/api/types.js';
import { applyOverlays } from '../../../operator/render/overlays.js';
import { parsePath } from '../../../operator/api/path.js';

function objects(): K8sObject[] {
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'istiod', namespace: 'istio-system', labels: { app: 'istiod' } },
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'discovery',
                args: ['discovery', '--monitoringAddr=:15014'],
                env: [
                  { name: 'PILOT_CERT_PROVIDER', value: 'istiod' },
                  { name: 'REVISION', value: 'default' },
                ],
                ports: [{ containerPort: 8080, name: 'http-debug' }],
              },
            ],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'istiod', namespace: 'istio-system' }, spec: { ports: [{ port: 15010 }] } },
  ];
}
const F = 'components.pilot.k8s';
const c0 = (o: K8sObject[]): any => (o[0] as any).spec.template.spec.containers[0];

test('path syntax: keys, [N], key[N], [key:value], [:value], escaped dots', (t) => {
  t.deepEqual(parsePath('spec.template.spec.containers.[name:discovery].args[0]'), [
    { kind: 'key', key: 'spec' },
    { kind: 'key', key: 'template' },
    { kind: 'key', key: 'spec' },
    { kind: 'key', key: 'containers' },
    { kind: 'select', field: 'name', value: 'discovery' },
    { kind: 'key', key: 'args' },
    { kind: 'index', index: 0 },
  ]);
  t.deepEqual(parsePath('metadata.annotations.a\\.b/c'), [
    { kind: 'key', key: 'metadata' },
    { kind: 'key', key: 'annotations' },
    { kind: 'key', key: 'a.b/c' },
  ]);
  t.deepEqual(parsePath('args.[:--x=1.2]'), [
    { kind: 'key', key: 'args' },
    { kind: 'value', value: '--x=1.2' },
  ]);
  // istioctl ignores a leading or trailing dot, and [-1] appends.
  t.deepEqual(parsePath('.a.b.'), [
    { kind: 'key', key: 'a' },
    { kind: 'key', key: 'b' },
  ]);
  t.deepEqual(parsePath('a[-1]'), [
    { kind: 'key', key: 'a' },
    { kind: 'index', index: -1 },
  ]);
  for (const bad of ['', 'a..b', 'a.[b', 'a]', 'a.[nocolon]', 'a.[x:]', 'a.[b c:d]']) t.throws(() => parsePath(bad), undefined, bad);
});

test('set through selectors and indices; missing map keys are created', (t) => {
  const o = objects();
  applyOverlays(
    o,
    [
      {
        kind: 'Deployment',
        name: 'istiod',
        patches: [
          { path: 'spec.template.spec.containers.[name:discovery].env.[name:PILOT_CERT_PROVIDER].value', value: 'foobar' },
          { path: 'spec.template.spec.containers.[name:discovery].args[1]', value: '--monitoringAddr=:9999' },
          { path: 'spec.template.spec.containers.[name:discovery].ports.[containerPort:8080].containerPort', value: 8090 },
          { path: 'spec.template.metadata.annotations.x', value: 'y' },
          { path: 'metadata.labels.team', value: { nested: true } },
        ],
      },
    ],
    F,
  );
  t.is(c0(o).env[0].value, 'foobar');
  t.deepEqual(c0(o).args, ['discovery', '--monitoringAddr=:9999']);
  t.is(c0(o).ports[0].containerPort, 8090);
  t.deepEqual((o[0] as any).spec.template.metadata, { annotations: { x: 'y' } });
  t.deepEqual((o[0].metadata.labels as any).team, { nested: true });
});

test('a patch without a value deletes: list elements by selector or index, scalars in lists by [:value], map keys', (t) => {
  const o = objects();
  applyOverlays(
    o,
    [
      {
        kind: 'Deployment',
        name: 'istiod',
        patches: [
          { path: 'spec.template.spec.containers.[name:discovery].env.[name:REVISION]' },
          { path: 'spec.template.spec.containers.[name:discovery].args.[:--monitoringAddr=:15014]' },
          { path: 'metadata.labels.app', value: null },
          { path: 'metadata.annotations.notThere' },
        ],
      },
    ],
    F,
  );
  t.deepEqual(c0(o).env, [{ name: 'PILOT_CERT_PROVIDER', value: 'istiod' }]);
  t.deepEqual(c0(o).args, ['discovery']);
  t.deepEqual(o[0].metadata.labels, {});
});

test('an overlay for an object the component does not render is an error naming the overlay', (t) => {
  const e = t.throws(() => applyOverlays(objects(), [{ kind: 'Deployment', name: 'istio-pilot', patches: [] }], F), {
    instanceOf: InputError,
  });
  t.is(e!.issues[0].path, 'components.pilot.k8s.overlays[0]');
  t.regex(e!.issues[0].message, /Deployment "istio-pilot"/);
  t.regex(e!.issues[0].hint ?? '', /istiod/);
  const e2 = t.throws(() => applyOverlays(objects(), [{ kind: 'ConfigMap', name: 'x' }], F), { instanceOf: InputError });
  t.regex(e2!.issues[0].hint ?? '', /Deployment, Service/);
});

test('invalid paths are errors naming the patch; all problems are reported together', (t) => {
  const e = t.throws(
    () =>
      applyOverlays(
        objects(),
        [
          {
            kind: 'Deployment',
            name: 'istiod',
            patches: [
              { path: 'spec..template', value: 1 },
              { path: 'spec.template.spec.containers.[name:nope].image', value: 'x' },
              { path: 'spec.template.spec.containers.[name:discovery].args.[:--never-rendered]', value: 'x' },
              { path: 'metadata.name.deeper', value: 'x' },
            ],
          },
        ],
        F,
      ),
    { instanceOf: InputError },
  );
  t.deepEqual(
    e!.issues.map((i) => i.path),
    [0, 1, 2, 3].map((j) => `components.pilot.k8s.overlays[0].patches[${j}].path`),
  );
  t.regex(e!.issues[1].message, /name = "nope".*present: discovery/);
  t.regex(e!.issues[2].message, /has value = "--never-rendered" \(present: discovery/);
  t.regex(e!.issues[3].message, /scalar/);
});

test('apiVersion, when given, must match too', (t) => {
  t.throws(() => applyOverlays(objects(), [{ apiVersion: 'apps/v1beta1', kind: 'Deployment', name: 'istiod' }], F), {
    instanceOf: InputError,
  });
  t.notThrows(() => applyOverlays(objects(), [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'istiod' }], F));
});

test('overlay values are copied: changing the input later does not change the object', (t) => {
  const value = { a: 1 };
  const o = objects();
  applyOverlays(o, [{ kind: 'Service', name: 'istiod', patches: [{ path: 'spec.extra', value }] }], F);
  value.a = 2;
  t.deepEqual((o[1] as any).spec.extra, { a: 1 });
});

test('istioctl forms: an index past the end or [-1] appends, [:value] falls back to a regex, values may be maps and lists', (t) => {
  const o = objects();
  applyOverlays(
    o,
    [
      {
        kind: 'Deployment',
        name: 'istiod',
        patches: [
          { path: 'spec.template.spec.containers[1]', value: { name: 'sidecar', image: 'busybox' } },
          { path: 'spec.template.spec.containers.[name:discovery].args[-1]', value: '--log_as_json' },
          // No arg equals "--monitoring.*", so the first one the pattern matches is replaced (istioctl matches by regex).
          { path: 'spec.template.spec.containers.[name:discovery].args.[:--monitoring.*]', value: '--monitoringAddr=:15015' },
          { path: 'spec.template.spec.tolerations', value: [{ key: 'a', operator: 'Exists' }] },
          { path: 'spec.template.metadata.annotations', value: 'team: mesh' },
        ],
      },
    ],
    F,
  );
  const spec = (o[0] as any).spec.template.spec;
  t.deepEqual(spec.containers[1], { name: 'sidecar', image: 'busybox' });
  t.is(spec.containers[0].args.at(-1), '--log_as_json');
  t.true(spec.containers[0].args.includes('--monitoringAddr=:15015'));
  t.deepEqual(spec.tolerations, [{ key: 'a', operator: 'Exists' }]);
  t.deepEqual((o[0] as any).spec.template.metadata.annotations, { team: 'mesh' });
});

test('overlays may narrow RBAC, never widen it, rebind it or retarget an object (the tenant attack)', async (t) => {
  const { resolveIstioOperator } = await import('../../../operator/api/resolve.js');
  const { render } = await import('../../../operator/render/index.js');
  const attempt = (patches: Array<{ kind: string; name: string; path: string; value?: unknown }>) => () =>
    render(
      resolveIstioOperator({
        files: [
          {
            name: 'a.yaml',
            text: JSON.stringify({
              apiVersion: 'install.istio.io/v1alpha1',
              kind: 'IstioOperator',
              spec: {
                profile: 'minimal',
                revision: 'evil',
                components: {
                  pilot: {
                    k8s: { overlays: patches.map((p) => ({ kind: p.kind, name: p.name, patches: [{ path: p.path, value: p.value }] })) },
                  },
                },
              },
            }),
          },
        ],
      }).install,
    );
  const role = 'istiod-clusterrole-evil-istio-system';
  const wide = t.throws(
    attempt([{ kind: 'ClusterRole', name: role, path: 'rules[0]', value: { apiGroups: ['*'], resources: ['*'], verbs: ['*'] } }]),
    { instanceOf: InputError },
  );
  t.regex(wide!.issues[0]!.message, /rules\[0\] grants more than the render does/);
  t.is(wide!.issues[0]!.path, 'components.pilot.k8s.overlays');
  const bind = t.throws(
    attempt([
      {
        kind: 'ClusterRoleBinding',
        name: role,
        path: 'subjects[0]',
        value: { kind: 'ServiceAccount', name: 'tenant', namespace: 'tenant-a' },
      },
    ]),
    { instanceOf: InputError },
  );
  t.regex(bind!.issues[0]!.message, /binds a subject the render does not/);
  const ref = t.throws(attempt([{ kind: 'ClusterRoleBinding', name: role, path: 'roleRef.name', value: 'cluster-admin' }]), {
    instanceOf: InputError,
  });
  t.regex(ref!.issues[0]!.message, /changes roleRef/);
  const rename = t.throws(attempt([{ kind: 'ClusterRole', name: role, path: 'metadata.name', value: 'istiod-clusterrole-istio-system' }]), {
    instanceOf: InputError,
  });
  t.regex(rename!.issues[0]!.message, /renames or moves/);
  // Narrowing is fine: drop a verb, remove a rule.
  t.notThrows(attempt([{ kind: 'ClusterRole', name: role, path: 'rules[0].verbs', value: ['get'] }]));
  t.notThrows(attempt([{ kind: 'ClusterRole', name: role, path: 'rules[1]' }]));
});
