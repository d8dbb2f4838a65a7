import { spawnSync } from 'node:child_process';
import path from 'node:path';
import test from 'ava';
import { repoRoot } from '../../cluster/controlplane.js';

// `operator manifests` and `operator`: bad settings are refused before anything is printed, naming the flag and
// what would be valid.

const bin = path.join(repoRoot, 'bin', 'istio-operator.js');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

for (const [args, why] of [
  [
    ['operator', 'manifests', '--name', 'Bad_Name'],
    /--name: "Bad_Name" is not a valid instance name \(a DNS-1123 label of at most 53 characters/,
  ],
  [['operator', 'manifests', '--namespace', 'a,b'], /--namespace: names more than one namespace \(one namespace name\)/],
  [
    ['operator', 'manifests', '--trusted-namespaces', 'ok,Not-OK'],
    /--trusted-namespaces: "Not-OK" is not a namespace name \(comma-separated DNS-1123 labels/,
  ],
  [['operator', 'manifests', '--replicas', 'two'], /--replicas: "two" is not a valid number \(an integer >= 1\)/],
  [['operator', 'manifests', '-f', '/nonexistent/values.yaml'], /-f \/nonexistent\/values.yaml: file not found/],
  [['operator', '--trusted-namespaces', 'UPPER', '--kubeconfig', '/nonexistent'], /--trusted-namespaces: "UPPER" is not a namespace name/],
] as Array<[string[], RegExp]>) {
  test(`refused: ${args.slice(1).join(' ')}`, (t) => {
    const r = run(...args);
    t.is(r.status, 1);
    t.is(r.stdout, '');
    t.regex(r.stderr, why);
  });
}

test('operator manifests: the trusted namespaces reach the Deployment and the policy; the default is NAMESPACE and istio-system', (t) => {
  const r = run('operator', 'manifests', '--namespace', 'ops', '--crd=false');
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /- --trusted-namespaces=ops,istio-system\n/);
  t.true(r.stdout.includes('- expression: "[\\"ops\\",\\"istio-system\\"]"\n'));
});
