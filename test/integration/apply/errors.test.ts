// Cluster access errors must be sentences a user can act on, not ECONNREFUSED stacks. No cluster needed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { testKubeconfig } from '../helpers/cluster.js';
import { cli } from './_util.js';

const iop = path.join(os.tmpdir(), `ap-errors-${process.pid}.yaml`);
fs.writeFileSync(iop, 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  profile: minimal\n');

function kubeconfig(server: string): string {
  const file = path.join(os.tmpdir(), `ap-errors-kc-${process.pid}-${Math.random().toString(16).slice(2)}`);
  fs.writeFileSync(
    file,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 'x' } }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'ctx',
    }),
  );
  return file;
}

test('unreachable cluster: names the server and the flags to check', async (t) => {
  const r = await cli(['install', '-f', iop, '-y'], { kubeconfig: kubeconfig('https://127.0.0.1:1') });
  t.is(r.code, 2);
  t.regex(r.stderr, /cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:1: connection refused; check --kubeconfig\/--context/);
  t.notRegex(r.stderr, /ECONNREFUSED|at .*\.js:\d+/);
});

test('diff against an unreachable cluster exits 2 (an error, not "changes")', async (t) => {
  const r = await cli(['diff', '-f', iop], { kubeconfig: kubeconfig('https://127.0.0.1:1') });
  t.is(r.code, 2);
  t.regex(r.stderr, /cannot reach the Kubernetes API/);
});

test('missing kubeconfig file and unknown context are named', async (t) => {
  const r = await cli(['install', '-f', iop, '-y'], { kubeconfig: '/nonexistent/kubeconfig' });
  t.is(r.code, 2);
  t.regex(r.stderr, /kubeconfig \/nonexistent\/kubeconfig does not exist/);
  const kc = kubeconfig('https://127.0.0.1:1');
  const r2 = await cli(['uninstall', '--revision', 'x', '-y', '--context', 'nope'], { kubeconfig: kc });
  t.is(r2.code, 2);
  t.regex(r2.stderr, /context "nope" not found in kubeconfig \S+ \(available: ctx\)/);
});

test('uninstall needs exactly one of --revision, -f, --purge', async (t) => {
  const r = await cli(['uninstall', '-y'], { kubeconfig: kubeconfig('https://127.0.0.1:1') });
  t.is(r.code, 1);
  t.regex(r.stderr, /exactly one of --revision R, -f FILE, or --purge/);
});

test('rejected credentials: names the server and the kubeconfig user', async (t) => {
  const real = yaml.load(fs.readFileSync(testKubeconfig(), 'utf8')) as any;
  real.users = [{ name: 'wrong-token', user: { token: 'not-a-valid-token' } }];
  real.contexts[0].context.user = 'wrong-token';
  const file = path.join(os.tmpdir(), `ap-errors-401-${process.pid}`);
  fs.writeFileSync(file, yaml.dump(real));
  t.teardown(() => fs.rmSync(file, { force: true }));
  const r = await cli(['install', '-f', iop, '-y'], { kubeconfig: file });
  t.is(r.code, 2);
  t.regex(
    r.stderr,
    /unauthorized: the API server at https:\/\/127\.0\.0\.1:\d+ rejected the credentials of user "wrong-token" \(get namespaces "istio-system"\)/,
  );
});
