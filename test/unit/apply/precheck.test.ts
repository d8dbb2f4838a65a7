import test from 'ava';
import { certainlyUnchanged, sameQuantity } from '../../../operator/apply/precheck.js';

// A live Deployment as the apiserver stores it after our apply, plus a field another manager set.
const desired = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'istiod', namespace: 'istio-system', labels: { app: 'istiod' }, annotations: {} },
  spec: {
    replicas: 1,
    template: {
      spec: {
        containers: [
          {
            name: 'discovery',
            image: 'pilot:1',
            args: ['a', 'b'],
            env: [{ name: 'X', value: '' }],
            resources: { requests: { memory: '2048Mi' } },
          },
        ],
      },
    },
  },
};
const ours = {
  manager: 'istio-operator',
  operation: 'Apply',
  fieldsType: 'FieldsV1',
  fieldsV1: {
    'f:metadata': { 'f:labels': { 'f:app': {} }, 'f:annotations': {} },
    'f:spec': {
      'f:replicas': {},
      'f:template': {
        'f:spec': {
          'f:containers': {
            'k:{"name":"discovery"}': {
              '.': {},
              'f:name': {},
              'f:image': {},
              'f:args': {},
              'f:env': { 'k:{"name":"X"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
              'f:resources': { 'f:requests': { 'f:memory': {} } },
            },
          },
        },
      },
    },
  },
};
function live(over: (l: any) => void = () => {}, managed = [ours]): any {
  const l: any = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'istiod',
      namespace: 'istio-system',
      labels: { app: 'istiod', theirs: 'x' },
      resourceVersion: '7',
      managedFields: structuredClone(managed),
    },
    spec: {
      replicas: 1,
      template: {
        spec: {
          containers: [
            {
              name: 'discovery',
              image: 'pilot:1',
              args: ['a', 'b'],
              env: [{ name: 'X' }],
              resources: { requests: { memory: '2Gi' } },
              terminationMessagePath: '/dev/termination-log',
            },
          ],
        },
      },
    },
  };
  over(l);
  return l;
}

test("identical apply is proven unchanged (defaults, canonical quantities, omitted zero values, others' fields)", (t) => {
  const why: string[] = [];
  t.true(certainlyUnchanged(desired, live(), why), why.join('; '));
});

test('a changed value is not unchanged', (t) => {
  const d = structuredClone(desired);
  d.spec.replicas = 2;
  t.false(certainlyUnchanged(d, live()));
  t.false(
    certainlyUnchanged(
      desired,
      live((l) => (l.spec.template.spec.containers[0].image = 'pilot:0')),
    ),
    'someone changed our field',
  );
});

test('a field we owned and no longer render is not unchanged (the apply would remove it)', (t) => {
  const d: any = structuredClone(desired);
  delete d.metadata.labels;
  t.false(certainlyUnchanged(d, live()));
  const d2: any = structuredClone(desired);
  d2.spec.template.spec.containers[0].args = ['a'];
  t.false(certainlyUnchanged(d2, live()), 'atomic list shrinks');
});

test('a field we render and do not own yet is not unchanged', (t) => {
  const d: any = structuredClone(desired);
  d.metadata.labels.theirs = 'x';
  t.false(certainlyUnchanged(d, live()), 'same value, but ownership would change: let the dry-run decide');
  const d2: any = structuredClone(desired);
  d2.spec.template.spec.containers.push({ name: 'sidecar', image: 's' });
  t.false(certainlyUnchanged(d2, live()));
});

test('without exactly one Apply entry of ours, nothing is proven', (t) => {
  t.false(certainlyUnchanged(desired, live(undefined, [])));
  t.false(certainlyUnchanged(desired, live(undefined, [ours, ours])));
  t.false(certainlyUnchanged(desired, live(undefined, [{ ...ours, manager: 'kubectl' }])));
});

test('quantities compare by amount', (t) => {
  t.true(sameQuantity('500m', '0.5'));
  t.true(sameQuantity('2048Mi', '2Gi'));
  t.true(sameQuantity('1e3', '1k'));
  t.false(sameQuantity('1G', '1Gi'));
  t.false(sameQuantity('abc', 'abc'));
});
