import test from 'ava';
import { installerOf } from '../../../operator/install/survey.js';

// Who installed a control plane, by the marks each installer leaves (precheck and status both read it this way).

const meta = (m: Record<string, unknown>) => ({ metadata: { name: 'istiod', namespace: 'istio-system', ...m } });
const owner = { 'install.operator.istio.io/owning-resource': 'cp', 'install.operator.istio.io/owning-resource-namespace': 'ops', 'istio.io/rev': 'default' };

test('Sail by ownerReference, Helm by label or annotation', (t) => {
  t.deepEqual(installerOf(meta({ ownerReferences: [{ apiVersion: 'sailoperator.io/v1', kind: 'IstioRevision', name: 'default' }] }), new Set()), { installer: 'Sail', owner: 'IstioRevision default' });
  t.deepEqual(installerOf(meta({ labels: { 'app.kubernetes.io/managed-by': 'Helm' }, annotations: { 'meta.helm.sh/release-name': 'istiod', 'meta.helm.sh/release-namespace': 'istio-system' } }), new Set()), { installer: 'Helm', owner: 'release istio-system/istiod' });
});

test('owner labels: ours when an inventory exists for that owner, istioctl otherwise', (t) => {
  t.deepEqual(installerOf(meta({ labels: owner }), new Set(['ops/cp/default'])), { installer: 'IstioOperator', owner: 'IstioOperator ops/cp' });
  t.deepEqual(installerOf(meta({ labels: owner }), new Set()), { installer: 'istioctl', owner: 'istioctl (IstioOperator ops/cp)' });
  t.deepEqual(installerOf(meta({ labels: { ...owner, 'install.operator.istio.io/owning-resource': 'unknown' } }), new Set()), { installer: 'istioctl', owner: 'istioctl install' });
  t.deepEqual(installerOf(meta({ labels: { ...owner, 'install.operator.istio.io/owning-resource': 'installed-state' } }), new Set(['ops/installed-state/default'])).installer, 'istioctl');
});

test('no marks at all: unknown, said as such', (t) => {
  t.is(installerOf(meta({ labels: { app: 'istiod' } }), new Set()).installer, 'unknown');
  t.is(installerOf(meta({ labels: { 'operator.istio.io/component': 'Pilot' } }), new Set()).installer, 'istioctl');
});
