import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { SYNC_WAVE_ANNOTATION } from '../../../operator/render/syncwave.js';
import { packageRoot } from '../../../operator/paths.js';

// The Config Management Plugin as Argo CD's cmp-server runs it: its generate command, in the application's
// directory, with parameters as PARAM_* environment variables, must print exactly what `istio-operator render`
// prints for the same files and flags, and refuse what it cannot render.

const argocd = (f: string) => path.join(packageRoot, 'argocd', f);
const load = (f: string) => yaml.load(fs.readFileSync(argocd(f), 'utf8')) as any;
const plugin = load('plugin.yaml');
const bin = path.join(packageRoot, 'bin', 'istio-operator.js');

const iop = (name: string, spec: string) =>
  `apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata:\n  name: ${name}\n  namespace: istio-system\nspec:\n${spec}`;

let shim: string;
test.before(() => {
  // `istio-operator` on PATH, as in the sidecar image.
  shim = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-bin-'));
  fs.writeFileSync(path.join(shim, 'istio-operator'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} "$@"\n`, {
    mode: 0o755,
  });
});
test.after.always(() => fs.rmSync(shim, { recursive: true, force: true }));

function appDir(files: Record<string, string>): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-app-'));
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(d, f), text);
  return d;
}

/** Runs the plugin's generate command the way argocd-cmp-server does: cwd = app dir, parameters in the env. */
function generate(dir: string, params: Record<string, string> = {}) {
  const [cmd, ...cmdArgs] = plugin.spec.generate.command as string[];
  const env = { PATH: `${shim}:/usr/bin:/bin`, HOME: dir, ARGOCD_APP_NAME: 'istio', ...params };
  return spawnSync(cmd, [...cmdArgs, ...(plugin.spec.generate.args as string[])], { cwd: dir, env, encoding: 'utf8' });
}
const render = (dir: string, args: string[]) => spawnSync(process.execPath, [bin, 'render', ...args], { cwd: dir, encoding: 'utf8' });

test('plugin.yaml is a ConfigManagementPlugin; the ConfigMap and the sidecar patch carry and mount it', (t) => {
  t.is(plugin.apiVersion, 'argoproj.io/v1alpha1');
  t.is(plugin.kind, 'ConfigManagementPlugin');
  t.is(plugin.metadata.name, 'istio-operator');
  t.is(plugin.spec.version, 'v1');
  t.deepEqual(plugin.spec.generate.command, ['sh', '-c']);
  t.is(plugin.spec.discover.fileName, './istio-operator.yaml');
  const cm = load('cmp-configmap.yaml');
  t.is(cm.data['plugin.yaml'], fs.readFileSync(argocd('plugin.yaml'), 'utf8'), 'cmp-configmap.yaml carries plugin.yaml byte for byte');
  const patch = load('repo-server-patch.yaml');
  const c = patch.spec.template.spec.containers[0];
  t.deepEqual(c.command, ['/var/run/argocd/argocd-cmp-server']);
  t.is(c.securityContext.runAsUser, 999);
  const mount = c.volumeMounts.find((m: any) => m.mountPath === '/home/argocd/cmp-server/config/plugin.yaml');
  t.is(mount.subPath, 'plugin.yaml');
  t.is(patch.spec.template.spec.volumes.find((v: any) => v.name === mount.name).configMap.name, cm.metadata.name);
  for (const p of ['/var/run/argocd', '/home/argocd/cmp-server/plugins'])
    t.truthy(
      c.volumeMounts.find((m: any) => m.mountPath === p),
      p,
    );
});

test('the example Applications name the plugin as Argo CD spells it and only its parameters', (t) => {
  const names = new Set((plugin.spec.parameters.static as Array<{ name: string }>).map((p) => p.name));
  const app = load('applications/render-only.yaml');
  t.is(app.kind, 'Application');
  t.is(app.spec.source.plugin.name, `${plugin.metadata.name}-${plugin.spec.version}`);
  for (const p of app.spec.source.plugin.parameters) t.true(names.has(p.name), p.name);
  t.true(app.spec.syncPolicy.syncOptions.includes('RespectIgnoreDifferences=true'));
  // The render-only example ignores exactly what argocd/ignore-differences.yaml documents.
  t.deepEqual(app.spec.ignoreDifferences, load('ignore-differences.yaml').spec.ignoreDifferences);
  for (const doc of yaml.loadAll(fs.readFileSync(argocd('applications/operator.yaml'), 'utf8')) as any[]) {
    t.is(doc.kind, 'Application');
    t.is(doc.spec.source.plugin, undefined, 'the operator recipe applies IstioOperators as they are');
    t.true(doc.spec.syncPolicy.syncOptions.includes('ServerSideApply=true'));
  }
  const profile = load('applications/profile.yaml');
  t.is(profile.spec.source.path, 'profiles');
  t.true(fs.existsSync(path.join(packageRoot, 'profiles', profile.spec.source.directory.include)));
});

test('generate renders istio-operator.yaml with the revision and --set parameters, byte for byte as the CLI', (t) => {
  const dir = appDir({ 'istio-operator.yaml': iop('mesh', '  profile: minimal\n'), 'other.yaml': iop('ignored', '  profile: demo\n') });
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const g = generate(dir, {
    PARAM_REVISION: 'canary',
    PARAM_SET_0: 'values.global.logging.level=default:debug',
    PARAM_SET_1: 'meshConfig.accessLogFile=/dev/stdout',
  });
  t.is(g.status, 0, g.stderr);
  const r = render(dir, [
    '-f',
    'istio-operator.yaml',
    '--revision',
    'canary',
    '--set',
    'values.global.logging.level=default:debug',
    '--set',
    'meshConfig.accessLogFile=/dev/stdout',
  ]);
  t.is(r.status, 0, r.stderr);
  t.true(g.stdout === r.stdout, 'identical bytes');
  t.true(g.stdout.includes(`${SYNC_WAVE_ANNOTATION}:`));
  t.true(g.stdout.includes('istiod-canary'));
});

test('without istio-operator.yaml, every IstioOperator file at the top is merged in byte order; files parameter wins', (t) => {
  const dir = appDir({
    'b-prod.yaml': iop('mesh', '  meshConfig:\n    accessLogFile: /dev/stdout\n'),
    'a-base.yaml': iop('mesh', '  profile: minimal\n'),
    'kustomize-leftover.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n',
    'notes.txt': 'kind: IstioOperator\n',
  });
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const g = generate(dir, { PARAM_SYNC_WAVES: 'false' });
  t.is(g.status, 0, g.stderr);
  t.is(g.stdout, render(dir, ['-f', 'a-base.yaml', '-f', 'b-prod.yaml', '--sync-waves=false']).stdout);
  t.false(g.stdout.includes(SYNC_WAVE_ANNOTATION));
  const only = generate(dir, { PARAM_FILES_0: 'a-base.yaml' });
  t.is(only.status, 0, only.stderr);
  t.is(only.stdout, render(dir, ['-f', 'a-base.yaml']).stdout);
});

test('generate refuses files outside the app directory, an empty directory and a bad spec, with empty stdout', (t) => {
  const dir = appDir({ 'istio-operator.yaml': iop('mesh', '  profile: minimal\n  revision: Not_A_Label\n') });
  const empty = appDir({ 'README.md': '# nothing here\n' });
  t.teardown(() => [dir, empty].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  for (const f of ['../etc/passwd', '/etc/passwd', 'sub/../../x']) {
    const g = generate(dir, { PARAM_FILES_0: f });
    t.is(g.status, 1, f);
    t.is(g.stdout, '');
    t.regex(g.stderr, /outside the application directory/, f);
  }
  const e = generate(empty);
  t.is(e.status, 1);
  t.regex(e.stderr, /no IstioOperator/);
  const bad = generate(dir);
  t.is(bad.status, 1);
  t.is(bad.stdout, '');
  t.regex(bad.stderr, /revision/);
});

test('parameter values reach the CLI as single arguments: no shell expansion, no word splitting', (t) => {
  const dir = appDir({ 'istio-operator.yaml': iop('mesh', '  profile: minimal\n') });
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const marker = path.join(dir, 'pwned');
  const g = generate(dir, {
    PARAM_SET_0: `values.global.logging.level=$(touch ${marker}) \`touch ${marker}\` "a b"; touch ${marker}`,
    PARAM_REVISION: `x; touch ${marker}`,
  });
  t.false(fs.existsSync(marker));
  // The values are invalid as a revision, and the CLI says so about exactly that value.
  t.is(g.status, 1);
  t.regex(g.stderr, /revision/);
});
