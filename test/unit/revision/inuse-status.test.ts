import test from 'ava';
import { computeStatus } from '../../../operator/controller/status.js';
import { describeUsage, revisionUsage } from '../../../operator/revision/usage.js';

test('an applied IstioOperator shows InUse with counts and a sample of its users', (t) => {
  const u = revisionUsage('1-29-0', {
    namespaces: [{ name: 'shop', labels: { 'istio.io/rev': 'prod' } }],
    pods: [{ name: 'a', namespace: 'shop', annotations: { 'istio.io/rev': '1-29-0' } }],
    tags: { prod: '1-29-0' },
  });
  const now = new Date('2026-11-22T05:00:00Z');
  const s = computeStatus(
    undefined,
    3,
    { kind: 'applied', components: { Pilot: { ready: true } }, updating: false, inUse: { inUse: u.inUse, message: describeUsage(u) } },
    now,
  );
  const c = s.conditions!.find((x) => x.type === 'InUse')!;
  t.is(c.status, 'True');
  t.is(c.reason, 'RevisionInUse');
  t.is(c.message, 'revision 1-29-0 is in use by 1 namespace (shop), 1 pod (shop/a), 1 tag (prod)');
  const free = revisionUsage('1-29-0', { namespaces: [], pods: [], tags: {} });
  const s2 = computeStatus(
    s,
    3,
    { kind: 'applied', components: { Pilot: { ready: true } }, updating: false, inUse: { inUse: false, message: describeUsage(free) } },
    new Date('2026-11-22T06:00:00Z'),
  );
  const c2 = s2.conditions!.find((x) => x.type === 'InUse')!;
  t.is(c2.status, 'False');
  t.is(c2.message, 'revision 1-29-0 is not in use');
  t.is(c2.lastTransitionTime, '2026-11-22T06:00:00.000Z');
});
