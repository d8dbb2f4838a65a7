import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { packageRoot } from '../../../operator/paths.js';

const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(packageRoot, 'bin/istio-operator.js'), ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

test('profile list shows every profile as supported, openshift ones included, and the platforms of each release', (t) => {
  const r = cli('profile', 'list');
  t.is(r.code, 0);
  for (const p of ['ambient', 'default', 'demo', 'minimal', 'empty', 'openshift', 'openshift-ambient', 'preview', 'remote', 'stable'])
    t.regex(r.stdout, new RegExp(`^    ${p}$`, 'm'));
  t.notRegex(r.stdout, /not supported/);
  t.regex(r.stdout, /^    1\.30: gke, k3d, k3s, microk8s, minikube, openshift$/m);
});

test('profile dump prints the merged IstioOperator; diff shows the difference', (t) => {
  const d = cli('profile', 'dump', 'demo');
  t.is(d.code, 0);
  const iop = yaml.load(d.stdout) as any;
  t.is(iop.kind, 'IstioOperator');
  t.is(iop.spec.profile, 'demo');
  t.true(iop.spec.components.egressGateways[0].enabled);
  t.true(iop.spec.components.pilot.enabled);
  const diff = cli('profile', 'diff', 'default', 'demo');
  t.is(diff.code, 0);
  t.regex(diff.stdout, /^--- default\n\+\+\+ demo\n/);
  t.regex(diff.stdout, /^-  profile: default$/m);
  t.regex(diff.stdout, /^\+  profile: demo$/m);
});

test('errors: exit 1, the field path on stderr, nothing on stdout', (t) => {
  for (const args of [
    ['profile', 'dump', 'nosuch'],
    ['profile', 'dump', '--set', 'components.pilot.k8s.replicaCount=-1'],
    ['profile', 'dump', '--bogus'],
    ['migrate'],
    ['migrate', '-f', '/nonexistent.yaml'],
  ]) {
    const r = cli(...args);
    t.is(r.code, 1, args.join(' '));
    t.is(r.stdout, '', args.join(' '));
    t.regex(r.stderr, /^error: /, args.join(' '));
  }
  t.regex(cli('profile', 'dump', 'nosuch').stderr, /spec\.profile|--set profile/);
});

test('migrate prints the modernised file and lists the changes on stderr', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migrate-'));
  const f = path.join(dir, 'old.yaml');
  fs.writeFileSync(
    f,
    'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata:\n  name: old\nspec:\n  components:\n    citadel:\n      enabled: true\n  values:\n    global:\n      mtls:\n        auto: true\n',
  );
  const r = cli('migrate', '-f', f);
  t.is(r.code, 0);
  t.deepEqual(yaml.load(r.stdout), {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { name: 'old' },
    spec: { components: { ca: { mode: 'istiod' } }, meshConfig: { enableAutoMtls: true } },
  });
  t.regex(r.stderr, /warning: spec\.components\.citadel: .*components\.ca/);
  t.regex(r.stderr, /warning: spec\.values\.global\.mtls\.auto: .*meshConfig\.enableAutoMtls/);
});
