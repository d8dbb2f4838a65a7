import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { parseIstioOperator } from '../../../operator/api/parse.js';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import { API_VERSION, KIND } from '../../../operator/api/types.js';
import { render } from '../../../operator/render/index.js';
import { packageRoot, profilesDir } from '../../../operator/paths.js';

// An Argo CD Application may point at any one file of profiles/ (directory.include): each must be a complete,
// valid IstioOperator on its own. They are alternatives, not a set, so nothing may bundle them together.

const files = fs
  .readdirSync(profilesDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

test('profiles/ holds the profiles and no kustomization that would apply them all at once', (t) => {
  t.true(files.length >= 5, files.join(', '));
  for (const k of ['kustomization.yaml', 'kustomization.yml', 'Kustomization']) t.false(fs.existsSync(path.join(profilesDir, k)), k);
  // Argo CD's directory source would also read any other manifest it finds here.
  t.deepEqual(
    fs.readdirSync(profilesDir).filter((f) => !files.includes(f)),
    [],
  );
});

for (const f of files) {
  test(`profiles/${f} is an IstioOperator an Application can point at`, (t) => {
    const text = fs.readFileSync(path.join(profilesDir, f), 'utf8');
    // Exactly one document, and nothing Argo CD would read as a second resource.
    t.is(yaml.loadAll(text).filter((d) => d != null).length, 1);
    const iop = parseIstioOperator(text, f);
    t.is(iop.apiVersion, API_VERSION);
    t.is(iop.kind, KIND);
    t.regex(String(iop.metadata?.name ?? ''), /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'metadata.name is a DNS-1123 label');
    t.truthy(iop.metadata?.namespace, 'a namespace, so the Application need not supply one');
    // Resolves with no errors and renders, as the operator would do with it in the cluster.
    const resolved = resolveIstioOperator({ files: [{ name: f, text }] });
    t.notThrows(() => render(resolved.install));
  });
}

test('the docs name every profile file as a possible Application source', (t) => {
  const doc = fs.readFileSync(path.join(packageRoot, 'docs/gitops.md'), 'utf8');
  for (const f of files) t.true(doc.includes(f), f);
});
