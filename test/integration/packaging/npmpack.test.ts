import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { repoRoot } from '../../cluster/controlplane.js';

// The npm package as a user gets it: `npm pack` of this checkout, installed into an empty project, runs
// `istio-operator render`. --ignore-scripts on pack: `prepare` would compile again, and `npm test` has just built
// dist/ (a release runs `npm pack`/`npm publish`, which do run `prepare`).

const sh = (cmd: string, args: string[], cwd: string) => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}: ${r.stderr}`);
  return r.stdout;
};

test('npm pack installs into a clean directory and renders', (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'istio-operator-pack-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const [packed] = JSON.parse(sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], repoRoot)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const files = packed!.files.map((f) => f.path);
  t.true(files.includes('dist/operator/cache/templates.cjs'), 'the render cache ships');
  t.true(files.includes('manifests/operator/values.yaml') && files.includes('crds/install.istio.io_istiooperators.yaml'));
  t.false(
    files.some((f) => f.startsWith('dist/test/') || f.startsWith('test/') || f.startsWith('operator/')),
    'no tests, no sources',
  );

  const project = path.join(tmp, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user-project', version: '1.0.0', private: true }));
  sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', path.join(tmp, packed!.filename)], project);
  const out = sh(path.join(project, 'node_modules', '.bin', 'istio-operator'), ['render', '--set', 'profile=minimal'], project);
  t.regex(out, /kind: Deployment\nmetadata:\n(.*\n)*?  name: istiod\n/);
  t.is(
    out,
    sh(process.execPath, [path.join(repoRoot, 'bin', 'istio-operator.js'), 'render', '--set', 'profile=minimal'], project),
    'byte-identical to this checkout',
  );
  const version = JSON.parse(sh(path.join(project, 'node_modules', '.bin', 'istio-operator'), ['version', '-o', 'json'], project));
  t.is(version.version, JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
});
