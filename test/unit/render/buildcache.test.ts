import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  CACHE_FORMAT,
  DATA_CACHE_FILE,
  PARSERS,
  cacheDir,
  cachedParse,
  parserVersions,
  resetDataCache,
} from '../../../operator/buildcache.js';
import { CODE_CACHE_SUFFIX, generatedFilesLoaded, requireGenerated, writeCodeCaches } from '../../../operator/render/codecache.js';
import {
  RUNTIME_BUNDLE_FILE,
  TEMPLATE_CACHE_FILE,
  precompileSource,
  renderTemplate,
  resetTemplateCache,
  runtimeBundleCurrent,
  templateCacheStamp,
  type RuntimeBundle,
  type TemplateCache,
} from '../../../operator/render/engine.js';
import { buildDataCache, writeCaches } from '../../../operator/build/precompile.js';
import { manifestsDir, packageRoot } from '../../../operator/paths.js';
import { DEFAULT_RELEASE, RELEASES } from '../../../operator/api/releases.js';

// The build cache (dist/operator/cache) may make a render faster, never different: an entry is used only for
// the exact source text it was made from. These tests feed the readers caches made from other text and check
// that they fall back to the source, and compare whole-process renders with and without the cache.

const evalSpec = (spec: string): object => new Function(`return ${spec};`)() as object;
const SA = 'base/reader-serviceaccount.yaml.hbs';
const saView = { namespace: 'istio-system', base: { readerServiceAccount: true, imagePullSecrets: [] } };

test.serial.afterEach.always(() => {
  resetTemplateCache(undefined);
  resetDataCache(undefined);
});

test.serial('cachedParse uses an entry only for the text it was made from', (t) => {
  const old = 'a: 1\nb: [x]\n';
  const edited = 'a: 2\nb: [x]\n';
  // A cache entry deliberately different from what parsing gives, to see which one is returned.
  resetDataCache({ format: CACHE_FORMAT, parsers: parserVersions(), entries: [['yaml', old, JSON.stringify({ from: 'cache' })]] });
  t.deepEqual(cachedParse('yaml', old), { from: 'cache' });
  t.deepEqual(cachedParse('yaml', edited), { a: 2, b: ['x'] }, 'edited text: parsed from source');
  t.deepEqual(cachedParse('yaml', old + ' '), { a: 1, b: ['x'] }, 'even a trailing space is another text');
  t.deepEqual(cachedParse('yamlCoreAll', old), [{ a: 1, b: ['x'] }], 'another parser: parsed from source');
  // Each use gets its own copy: callers mutate what they get.
  const one = cachedParse('yaml', old) as Record<string, unknown>;
  one.from = 'mutated';
  t.deepEqual(cachedParse('yaml', old), { from: 'cache' });
  // The caller's own parse runs on a miss (parse.ts passes its filename for error messages).
  t.deepEqual(
    cachedParse('yaml', edited, () => 'own'),
    'own',
  );
});

test('the data cache keeps only values JSON carries exactly, and skips what does not parse', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buildcache-'));
  try {
    fs.writeFileSync(path.join(dir, 'plain.yaml'), 'a: 1\nb: [true, null, "x"]\n');
    fs.writeFileSync(path.join(dir, 'date.yaml'), 'when: 2001-12-14\n'); // default schema: a Date
    fs.writeFileSync(path.join(dir, 'nan.yaml'), 'n: .nan\n');
    fs.writeFileSync(path.join(dir, 'broken.yaml'), 'a: [\n'); // left to render, which reports it
    const c = buildDataCache(
      ['plain', 'date', 'nan', 'broken'].map((n) => ({ parser: 'yaml' as const, rel: path.join(dir, `${n}.yaml`) })),
    );
    t.deepEqual(
      c.entries.map(([parser, text]) => [parser, text]),
      [['yaml', fs.readFileSync(path.join(dir, 'plain.yaml'), 'utf8')]],
    );
    t.is(c.parsers, parserVersions());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the build parses the CRDs of every release line (crds/istio/<line>/), which render reads through the cache', (t) => {
  const texts = new Set(
    buildDataCache()
      .entries.filter(([parser]) => parser === 'yaml')
      .map(([, text]) => text),
  );
  for (const r of RELEASES) {
    const dir = path.join(packageRoot, 'crds', 'istio', r.line);
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    t.true(files.length > 10, `crds/istio/${r.line}`);
    for (const f of files)
      t.true(texts.has(fs.readFileSync(path.join(dir, f), 'utf8')), `crds/istio/${r.line}/${f} is in the build's cache`);
  }
});

test.serial('cachedParse ignores a cache from another js-yaml or cache format', (t) => {
  const text = 'a: 1\n';
  const entries: Array<['yaml', string, string]> = [['yaml', text, JSON.stringify('cached')]];
  resetDataCache({ format: CACHE_FORMAT, parsers: parserVersions(), entries });
  t.is(cachedParse('yaml', text), 'cached', 'the control: a matching stamp is used');
  for (const stale of [
    { format: CACHE_FORMAT, parsers: 'js-yaml@0.0.1', entries },
    { format: CACHE_FORMAT + 1, parsers: parserVersions(), entries },
  ]) {
    resetDataCache(stale);
    t.deepEqual(cachedParse('yaml', text), PARSERS.yaml(text));
  }
});

/** A template cache whose entry says it was made from `source` but holds the spec of `compiled`. */
function templateCacheWith(id: string, source: string, compiled: string): TemplateCache {
  return { ...templateCacheStamp(), templates: { [id]: { source, spec: evalSpec(precompileSource(compiled)) } } };
}

test.serial('a precompiled template is used only while its source is unchanged', (t) => {
  const src = fs.readFileSync(path.join(manifestsDir, SA), 'utf8');
  const other = src.replace('name: istio-reader-service-account', 'name: from-the-cache');
  t.not(other, src);
  const fresh = renderTemplate('base', 'reader-serviceaccount.yaml.hbs', saView);
  t.is(fresh[0]?.metadata.name, 'istio-reader-service-account');

  // Made from this exact source: used (the spec here differs on purpose, to see that it is the one used).
  resetTemplateCache(templateCacheWith(SA, src, other));
  t.is(renderTemplate('base', 'reader-serviceaccount.yaml.hbs', saView)[0]?.metadata.name, 'from-the-cache');

  // Made from an older source (the template was edited after the build): compiled from source instead.
  resetTemplateCache(templateCacheWith(SA, other, other));
  t.deepEqual(renderTemplate('base', 'reader-serviceaccount.yaml.hbs', saView), fresh);

  // Made by another Handlebars version, cache format or with other compile options: the whole cache is ignored.
  for (const stamp of [{ handlebars: '0.0.1' }, { options: '{}' }, { format: CACHE_FORMAT + 1 }]) {
    resetTemplateCache({ ...templateCacheWith(SA, src, other), ...stamp });
    t.deepEqual(renderTemplate('base', 'reader-serviceaccount.yaml.hbs', saView), fresh, JSON.stringify(stamp));
  }
});

test.serial('no cache at all: templates compile from source with the same result', (t) => {
  resetTemplateCache(null);
  const noCache = renderTemplate('base', 'reader-serviceaccount.yaml.hbs', saView);
  resetTemplateCache(undefined);
  t.deepEqual(renderTemplate('base', 'reader-serviceaccount.yaml.hbs', saView), noCache);
});

test('the joined Handlebars runtime is used only while every file it was made from is unchanged', (t) => {
  const file = path.join(cacheDir, RUNTIME_BUNDLE_FILE);
  if (!fs.existsSync(file)) writeCaches();
  if (!fs.existsSync(file)) return t.pass('this Handlebars cannot be joined; the installed files are loaded');
  const b = createRequire(import.meta.url)(file) as RuntimeBundle;
  t.true(runtimeBundleCurrent(b));
  t.true(b.files.length > 5);
  const [rel, size, mtimeMs] = b.files[0]!;
  t.false(runtimeBundleCurrent({ ...b, files: [[rel, size + 1, mtimeMs], ...b.files.slice(1)] }), 'a file of another size');
  t.false(runtimeBundleCurrent({ ...b, files: [[rel, size, mtimeMs + 1], ...b.files.slice(1)] }), 'a file written since');
  t.false(runtimeBundleCurrent({ ...b, files: [['../no/such/file.js', 1, 1], ...b.files] }), 'a file gone');
  t.false(runtimeBundleCurrent({ ...b, entry: b.files[1]![0] }), 'handlebars/runtime resolves elsewhere now');
  t.false(runtimeBundleCurrent({ ...b, format: CACHE_FORMAT + 1 }));
  // The joined runtime is the runtime: same version, same template() contract.
  const joined = b.load() as { VERSION: string; template: unknown };
  t.is(joined.VERSION, (createRequire(import.meta.url)('handlebars/runtime') as { VERSION: string }).VERSION);
  t.is(typeof joined.template, 'function');
});

test.serial('a V8 code cache is used only for the build of the file it was made from, untouched since', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codecache-'));
  const file = path.join(dir, 'gen.cjs');
  const status = () =>
    generatedFilesLoaded()
      .filter((l) => l.file === file)
      .pop()?.codeCache;
  try {
    const write = (id: string, v: number) =>
      fs.writeFileSync(file, `'use strict';\n// build: ${id}\nmodule.exports = { v: ${v}, f() { return ${v} * 2; } };\n`);
    write('build-a', 1);
    t.is((requireGenerated(file) as { v: number }).v, 1);
    t.is(status(), 'none');
    (requireGenerated(file) as { f(): number }).f();
    t.deepEqual(
      writeCodeCaches((f) => f === file),
      [file + CODE_CACHE_SUFFIX],
    );
    t.is((requireGenerated(file) as { f(): number }).f(), 2);
    t.is(status(), 'used');
    // Rebuilt: another id, same length (V8 alone would take the old cache for a same-length source).
    write('build-b', 3);
    t.is((requireGenerated(file) as { f(): number }).f(), 6);
    t.is(status(), 'none');
    // Edited by hand after the build, id kept: its mtime says so.
    write('build-a', 5);
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    t.is((requireGenerated(file) as { f(): number }).f(), 10);
    t.is(status(), 'none');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a render process takes the code caches the build wrote', (t) => {
  if (!fs.existsSync(path.join(cacheDir, TEMPLATE_CACHE_FILE + CODE_CACHE_SUFFIX))) writeCaches();
  const probe = `
    const e = await import(${JSON.stringify(path.join(packageRoot, 'dist/operator/render/engine.js'))});
    const c = await import(${JSON.stringify(path.join(packageRoot, 'dist/operator/render/codecache.js'))});
    e.renderTemplate('base', 'reader-serviceaccount.yaml.hbs', { namespace: 'x', base: { readerServiceAccount: true } });
    console.log(JSON.stringify(c.generatedFilesLoaded().map((l) => [path.basename(l.file), l.codeCache])));
  `.replace('path.basename(l.file)', "l.file.split('/').pop()");
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), [
    [RUNTIME_BUNDLE_FILE, 'used'],
    [TEMPLATE_CACHE_FILE, 'used'],
  ]);
});

function renderCli(args: string[], env: NodeJS.ProcessEnv = {}, root = packageRoot) {
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'istio-operator.js'), 'render', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test.serial('whole process: the same bytes with the build cache, without it, and for every profile and input kind', (t) => {
  if (!fs.existsSync(path.join(cacheDir, TEMPLATE_CACHE_FILE)) || !fs.existsSync(path.join(cacheDir, DATA_CACHE_FILE))) writeCaches();
  for (const args of [
    [],
    ['--set', 'profile=demo'],
    ['--set', 'profile=minimal'],
    ['--revision', 'canary', '--set', 'components.ingressGateways[0].enabled=true'],
  ]) {
    const cached = renderCli(args);
    const uncached = renderCli(args, { ISTIO_OPERATOR_NO_CACHE: '1' });
    t.is(cached.status, 0, cached.stderr);
    t.true(cached.stdout.length > 10000);
    t.is(cached.stdout, uncached.stdout, `render ${args.join(' ')}`);
    t.is(cached.stderr, uncached.stderr);
  }
});

test.serial('whole process: a copy whose template, CRD, values and profile were edited after the build renders the edits', (t) => {
  if (!fs.existsSync(path.join(cacheDir, TEMPLATE_CACHE_FILE))) writeCaches();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stale-cache-'));
  try {
    for (const d of ['bin', 'manifests', 'profiles', 'crds', 'dist/operator'])
      fs.cpSync(path.join(packageRoot, d), path.join(root, d), { recursive: true });
    fs.writeFileSync(path.join(root, 'package.json'), fs.readFileSync(path.join(packageRoot, 'package.json')));
    fs.symlinkSync(path.join(packageRoot, 'node_modules'), path.join(root, 'node_modules'), 'dir');
    const before = renderCli([], {}, root);
    t.is(before.status, 0, before.stderr);
    t.is(before.stdout, renderCli([]).stdout, 'the copy renders as the original');

    const edit = (rel: string, from: string | RegExp, to: string) => {
      const f = path.join(root, rel);
      const text = fs.readFileSync(f, 'utf8');
      const next = text.replace(from, to);
      t.not(next, text, `edit of ${rel} applies`);
      fs.writeFileSync(f, next);
    };
    edit(`manifests/${SA}`, 'app.kubernetes.io/part-of: istio\n', 'app.kubernetes.io/part-of: istio\n    edited.example/template: "yes"\n');
    // The CRDs of the line a render without a tag installs.
    const crdDir = `crds/istio/${DEFAULT_RELEASE.line}`;
    const crd = fs.readdirSync(path.join(root, crdDir)).sort()[0]!;
    edit(`${crdDir}/${crd}`, /^  name: /m, '  generation: 7\n  name: ');
    edit('manifests/values.yaml', /^global:\n/m, 'global:\n  editedByTest: true\n');
    edit('profiles/default.yaml', /^  hub: .*$/m, '  hub: edited.example/hub');

    const after = renderCli([], {}, root);
    t.is(after.status, 0, after.stderr);
    t.regex(after.stdout, /edited\.example\/template: "?yes"?/);
    t.regex(after.stdout, /^  generation: 7$/m, 'the edited CRD is read');
    t.regex(after.stdout, /edited\.example\/hub\//, 'the edited default profile is read');
    t.regex(after.stdout, /editedByTest/, 'the edited values.yaml is read');
    // And it is exactly what a render without any cache gives for the edited copy.
    t.is(after.stdout, renderCli([], { ISTIO_OPERATOR_NO_CACHE: '1' }, root).stdout);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('render loads neither the Handlebars compiler nor the Kubernetes client', (t) => {
  if (!fs.existsSync(path.join(cacheDir, TEMPLATE_CACHE_FILE))) writeCaches();
  // Prints every module loaded by a whole-process render; CommonJS through require.cache, ESM through a hook.
  const probe = `
    import { register, createRequire } from 'node:module';
    const seen = [];
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (u) => seen.push(u)); port1.unref();
    register('data:text/javascript,' + encodeURIComponent('let p; export function initialize(d){p=d.port} export async function resolve(s,c,n){const r=await n(s,c); p.postMessage(r.url); return r}'), { data: { port: port2 }, transferList: [port2] });
    const { main } = await import(${JSON.stringify(path.join(packageRoot, 'dist/operator/cli/main.js'))});
    process.stdout.write = (c, e, cb) => { (typeof e === 'function' ? e : cb)?.(); return true; };
    await main(['render']);
    await new Promise((r) => setTimeout(r, 50));
    const cjs = Object.keys(createRequire(import.meta.url).cache);
    const generated = (await import(${JSON.stringify(path.join(packageRoot, 'dist/operator/render/codecache.js'))})).generatedFilesLoaded().map((l) => l.file);
    console.error(JSON.stringify([...seen, ...cjs, ...generated]));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const loaded = JSON.parse(r.stderr.trim().split('\n').pop()!) as string[];
  t.true(
    loaded.some((u) => u.includes('render/engine.js')),
    'the probe sees the render modules',
  );
  t.true(
    loaded.some((u) => u.endsWith(RUNTIME_BUNDLE_FILE)) ||
      loaded.some((u) => /handlebars[/\\]dist[/\\]cjs[/\\]handlebars\.runtime\.js$/.test(u)),
  );
  for (const heavy of [
    /@kubernetes[/\\]client-node/,
    /handlebars[/\\]dist[/\\]cjs[/\\]handlebars[/\\]compiler/,
    /source-map/,
    /p-queue/,
    /@peculiar/,
    /operator[/\\](apply|controller|ca|revision)[/\\]/,
  ]) {
    t.false(
      loaded.some((u) => heavy.test(u)),
      `render must not load ${heavy}`,
    );
  }
});
