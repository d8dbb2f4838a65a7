import test from 'ava';
import { argoHealth } from '../../helpers/argo-health.js';
import { computeStatus } from '../../../operator/controller/status.js';

// Argo CD's built-in health check for install.istio.io/IstioOperator reads only status.status.
// ACTION_REQUIRED is not one of Istio's historical values, so the script falls through to its default:
// Progressing, "Waiting for Istio Control Plane". That is the documented mapping: Argo shows a blocked
// deletion as progressing, and the message and InUse condition on the object say what to do.
const iop = (status: unknown) => ({ apiVersion: 'install.istio.io/v1alpha1', kind: 'IstioOperator', metadata: { name: 'x' }, status });

const at = new Date('2026-01-01T00:00:00Z');
const cases: Array<[string, ReturnType<typeof computeStatus>, string]> = [
  ['HEALTHY', computeStatus(undefined, 1, { kind: 'applied', updating: false, components: { Pilot: { ready: true } } }, at), 'Healthy'],
  [
    'RECONCILING',
    computeStatus(undefined, 1, { kind: 'applied', updating: false, components: { Pilot: { ready: false } } }, at),
    'Progressing',
  ],
  [
    'UPDATING',
    computeStatus(undefined, 1, { kind: 'applied', updating: true, components: { Pilot: { ready: false } } }, at),
    'Progressing',
  ],
  ['ERROR', computeStatus(undefined, 1, { kind: 'invalid', message: 'spec.profile: unknown profile "x"' }, at), 'Degraded'],
  ['ACTION_REQUIRED', computeStatus(undefined, 1, { kind: 'actionRequired', message: 'in use' }, at), 'Progressing'],
];

for (const [name, status, want] of cases) {
  test(`Argo health.lua reads ${name} as ${want}`, (t) => {
    t.is(status.status as string, name);
    t.is(argoHealth(iop(status)).status, want);
  });
}

test('ACTION_REQUIRED falls through to the script default message', (t) => {
  t.is(argoHealth(iop({ status: 'ACTION_REQUIRED' })).message, 'Waiting for Istio Control Plane');
});

test('no status yet is Progressing; NONE is Unknown', (t) => {
  t.is(argoHealth(iop(undefined)).status, 'Progressing');
  t.is(argoHealth(iop({ status: 'NONE' })).status, 'Unknown');
});
