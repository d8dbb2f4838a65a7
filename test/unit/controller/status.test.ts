import test from 'ava';
import { computeStatus, sameStatus, statusMergePatch } from '../../../operator/controller/status.js';
import { podSelector, podTrouble } from '../../../operator/apply/readiness.js';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:01:00Z');
const t2 = new Date('2026-01-01T00:02:00Z');

test('applied and ready is HEALTHY with Reconciled/Ready True at the observed generation', (t) => {
  const s = computeStatus(
    undefined,
    3,
    { kind: 'applied', updating: false, components: { Base: { ready: true }, Pilot: { ready: true } } },
    t0,
  );
  t.is(s.status, 'HEALTHY');
  t.is(s.observedGeneration, 3);
  t.deepEqual(s.componentStatus, { Base: { status: 'HEALTHY' }, Pilot: { status: 'HEALTHY' } });
  t.deepEqual(
    s.conditions!.map((c) => [c.type, c.status, c.observedGeneration, c.lastTransitionTime]),
    [
      ['Reconciled', 'True', 3, t0.toISOString()],
      ['Ready', 'True', 3, t0.toISOString()],
      ['Reconciling', 'False', 3, t0.toISOString()],
      ['Stalled', 'False', 3, t0.toISOString()],
    ],
  );
});

test('kstatus conditions: Reconciling while not ready or retrying, Stalled when only someone acting can help', (t) => {
  const c = (s: ReturnType<typeof computeStatus>, type: string) => s.conditions!.find((x) => x.type === type)!.status;
  const notReady = computeStatus(
    undefined,
    1,
    { kind: 'applied', updating: false, components: { Pilot: { ready: false, message: '0/1 available' } } },
    t0,
  );
  t.deepEqual([c(notReady, 'Reconciling'), c(notReady, 'Stalled')], ['True', 'False']);
  const stuck = computeStatus(
    notReady,
    1,
    {
      kind: 'applied',
      updating: false,
      components: { Pilot: { ready: false, stuck: true, message: 'pods cannot be created (FailedCreate): violates PodSecurity' } },
    },
    t1,
  );
  t.is(stuck.status, 'ERROR');
  t.regex(stuck.message!, /cannot become ready: Pilot: pods cannot be created \(FailedCreate\): violates PodSecurity/);
  t.deepEqual([c(stuck, 'Reconciling'), c(stuck, 'Stalled'), c(stuck, 'Ready')], ['False', 'True', 'False']);
  const retry = computeStatus(undefined, 2, { kind: 'applyFailed', message: 'apiserver unreachable', retrying: true }, t0);
  t.deepEqual([retry.status, c(retry, 'Reconciling'), c(retry, 'Stalled')], ['ERROR', 'True', 'False']);
  const forbidden = computeStatus(undefined, 2, { kind: 'applyFailed', message: 'secrets "x" is forbidden' }, t0);
  t.deepEqual([forbidden.status, c(forbidden, 'Reconciling'), c(forbidden, 'Stalled')], ['ERROR', 'False', 'True']);
  for (const kind of ['invalid', 'untrusted'] as const)
    t.is(c(computeStatus(undefined, 1, { kind, message: 'x' }, t0), 'Stalled'), 'True', kind);
});

test('not ready is RECONCILING, or UPDATING when the spec moved; the message names what is awaited', (t) => {
  const comps = { Base: { ready: true }, Pilot: { ready: false, message: 'Deployment istio-system/istiod: 0/1 available' } };
  const r = computeStatus(undefined, 1, { kind: 'applied', updating: false, components: comps }, t0);
  t.is(r.status, 'RECONCILING');
  t.regex(r.message!, /Pilot: Deployment istio-system\/istiod: 0\/1 available/);
  t.deepEqual(r.componentStatus!.Pilot, { status: 'RECONCILING', error: 'Deployment istio-system/istiod: 0/1 available' });
  const u = computeStatus(r, 2, { kind: 'applied', updating: true, components: comps }, t1);
  t.is(u.status, 'UPDATING');
});

test('lastTransitionTime changes only when a condition flips', (t) => {
  const ready = { kind: 'applied' as const, updating: false, components: { Pilot: { ready: true } } };
  const notReady = { kind: 'applied' as const, updating: false, components: { Pilot: { ready: false } } };
  const a = computeStatus(undefined, 1, notReady, t0);
  const b = computeStatus(a, 1, notReady, t1);
  t.true(sameStatus(a, b), 'same facts later: identical status, so no write');
  const c = computeStatus(b, 1, ready, t2);
  const ltt = (s: typeof c, type: string) => s.conditions!.find((x) => x.type === type)!.lastTransitionTime;
  t.is(ltt(c, 'Reconciled'), t0.toISOString());
  t.is(ltt(c, 'Ready'), t2.toISOString());
});

test('an invalid spec is ERROR naming the field and keeps what is installed (Ready and component statuses)', (t) => {
  const ok = computeStatus(undefined, 1, { kind: 'applied', updating: false, components: { Pilot: { ready: true } } }, t0);
  const bad = computeStatus(ok, 2, { kind: 'invalid', message: 'spec.components.pilot.k8s.replicaCount: must be an integer' }, t1);
  t.is(bad.status, 'ERROR');
  t.regex(bad.message!, /spec\.components\.pilot\.k8s\.replicaCount/);
  t.deepEqual(bad.componentStatus, ok.componentStatus);
  const ready = bad.conditions!.find((c) => c.type === 'Ready')!;
  t.is(ready.status, 'True');
  t.is(ready.lastTransitionTime, t0.toISOString());
  const rec = bad.conditions!.find((c) => c.type === 'Reconciled')!;
  t.is(rec.status, 'False');
  t.is(rec.reason, 'InvalidSpec');
  t.is(rec.observedGeneration, 2);
});

test('ACTION_REQUIRED adds InUse', (t) => {
  const s = computeStatus(undefined, 1, { kind: 'actionRequired', message: 'revision "canary" is used by namespace ns1' }, t0);
  t.is(s.status, 'ACTION_REQUIRED');
  t.is(s.conditions!.find((c) => c.type === 'InUse')!.status, 'True');
});

test('the merge patch nulls components that went away and replaces conditions whole', (t) => {
  const prev = computeStatus(
    undefined,
    1,
    { kind: 'applied', updating: false, components: { Pilot: { ready: true }, IngressGateways: { ready: true } } },
    t0,
  );
  const next = computeStatus(prev, 2, { kind: 'applied', updating: false, components: { Pilot: { ready: true } } }, t1);
  const p = statusMergePatch(prev, next) as any;
  t.is(p.status.componentStatus.IngressGateways, null);
  t.deepEqual(p.status.componentStatus.Pilot, { status: 'HEALTHY' });
  t.true(Array.isArray(p.status.conditions));
  t.false('spec' in p, 'never the spec');
});

test('pods say why a workload is not ready: a stuck image pull is stuck, an unschedulable pod is not', (t) => {
  const pull = {
    metadata: { name: 'istiod-1' },
    status: {
      containerStatuses: [
        { name: 'discovery', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x/pilot:nope"' } } },
      ],
    },
  };
  t.deepEqual(podTrouble([pull]), {
    message: 'pod istiod-1 container discovery: ImagePullBackOff: Back-off pulling image "x/pilot:nope"',
    stuck: true,
  });
  const pending = {
    metadata: { name: 'istiod-2' },
    status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' }] },
  };
  t.deepEqual(podTrouble([pending]), { message: 'pod istiod-2: Unschedulable: 0/1 nodes are available', stuck: false });
  t.is(podTrouble([{ metadata: { name: 'ok' }, status: { containerStatuses: [{ name: 'c', state: { running: {} } }] } }]), undefined);
  t.is(
    podSelector({ metadata: { name: 'd' }, spec: { selector: { matchLabels: { app: 'istiod', 'istio.io/rev': 'r1' } } } }),
    'app=istiod,istio.io/rev=r1',
  );
});
