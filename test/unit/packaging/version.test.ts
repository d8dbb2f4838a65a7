import { spawnSync } from 'node:child_process';
import path from 'node:path';
import test from 'ava';
import { DEFAULT_IMAGE, packageVersion } from '../../../operator/controller/selfmanifests.js';
import { repoRoot } from '../../cluster/controlplane.js';

// One version: package.json's. The image tag, the Dockerfile's label, the chart's version and appVersion and the
// CHANGELOG's top entry follow it (scripts/version.mjs is what the release workflow runs on a tag).

const bin = path.join(repoRoot, 'bin', 'istio-operator.js');
const run = (...args: string[]) => spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8' });

test('package.json, Chart.yaml (version, appVersion), Dockerfile VERSION and CHANGELOG agree', async (t) => {
  const { versions, disagreements } = (await import(path.join(repoRoot, 'scripts', 'version.mjs'))) as {
    versions(): Record<string, string>;
    disagreements(tag?: string): string[];
  };
  t.deepEqual(disagreements(), [], JSON.stringify(versions()));
  t.deepEqual(disagreements(`v${packageVersion()}`), []);
  t.deepEqual(disagreements('v9.9.9'), [`tag v9.9.9 is not v${packageVersion()}`]);
  t.is(DEFAULT_IMAGE, `ghcr.io/istio-operator/istio-operator:${packageVersion()}`);
});

test('istio-operator version prints the version, the build commit and node, as text or JSON', (t) => {
  const json = run(bin, 'version', '-o', 'json');
  t.is(json.status, 0, json.stderr);
  const info = JSON.parse(json.stdout);
  t.is(info.version, packageVersion());
  t.is(info.node, process.version);
  t.regex(info.commit, /^([0-9a-f]{40}(-dirty)?|unknown)$/);
  const text = run(bin, 'version');
  t.regex(text.stdout, new RegExp(`^version: ${packageVersion().replace(/\./g, '\\.')}\\ncommit: `));
  const y = run(bin, 'version', '-o', 'yaml');
  t.is(y.status, 0);
  t.regex(y.stdout, new RegExp(`^version: ${packageVersion().replace(/\./g, '\\.')}\\n`));
  const bad = run(bin, 'version', '-o', 'xml');
  t.is(bad.status, 1);
  t.regex(bad.stderr, /--output: unknown format "xml" \(text, json or yaml\)/);
});
