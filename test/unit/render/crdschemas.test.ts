import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import yaml from 'js-yaml';
import { istioCrds } from '../../../operator/render/components/base.js';
import { RELEASES } from '../../../operator/api/releases.js';
import { packageRoot } from '../../../operator/paths.js';
import { releaseFixturesDir } from '../../helpers/fixtures.js';

// Our CRDs of each release line (crds/istio/<line>/, generated from the release's istio.io/api protos by
// scripts/crd-schemas.mjs) against what the release installs: its crd-all.gen.yaml (a fact to test against, never a
// source). Every leaf of Istio's CRD spec is one vote, but descriptions (ours are our own words, most fields have
// none); labels are the render's business (base.test.ts).

/** Share of the leaves of each release's CRD specs that ours agree on, measured 2026-12-04: all of them. */
const FACT_FLOORS: Record<string, number> = { '1.29': 1, '1.30': 1, '1.31': 1 };

interface Tally {
  leaves: number;
  agree: number;
  diffs: string[];
}

/** Leaf comparison: lists of named items (versions, printer columns) by name, other lists by index. */
function compare(p: string, g: unknown, o: unknown, t: Tally): void {
  if (/\.description$/.test(p)) return;
  if (g !== null && typeof g === 'object') {
    const ol = o !== null && typeof o === 'object' ? (o as Record<string, unknown>) : undefined;
    if (Array.isArray(g) && g.length && g.every((x) => x && typeof x === 'object' && typeof x.name === 'string')) {
      for (const x of g) compare(`${p}[${x.name}]`, x, Array.isArray(o) ? o.find((y) => y?.name === x.name) : undefined, t);
      for (const y of Array.isArray(o) ? o : []) if (!g.some((x) => x.name === y?.name)) t.diffs.push(`${p}[${y?.name}] only in ours`);
      return;
    }
    const keys = Object.keys(g);
    if (!keys.length) {
      t.leaves++;
      if (ol && !Object.keys(ol).length) t.agree++;
      else t.diffs.push(`${p}: Istio {}, ours ${JSON.stringify(o)}`);
      return;
    }
    for (const k of keys) compare(Array.isArray(g) ? `${p}[${k}]` : `${p}.${k}`, (g as Record<string, unknown>)[k], ol?.[k], t);
    for (const k of Object.keys(ol ?? {})) if (!(k in g) && k !== 'description') t.diffs.push(`${p}.${k} only in ours`);
    return;
  }
  t.leaves++;
  if (JSON.stringify(g) === JSON.stringify(o)) t.agree++;
  else t.diffs.push(`${p}: Istio ${JSON.stringify(g)}, ours ${JSON.stringify(o)?.slice(0, 200)}`);
}

for (const r of RELEASES) {
  test(`${r.line}: our CRDs agree with Istio ${r.patch}'s crd-all.gen.yaml on every leaf of their specs but descriptions`, (t) => {
    const theirs = (
      yaml.loadAll(fs.readFileSync(path.join(releaseFixturesDir(r.patch), 'crds', 'crd-all.gen.yaml'), 'utf8')) as any[]
    ).filter((d) => d?.kind === 'CustomResourceDefinition');
    const ours = new Map(istioCrds(r).map((c) => [c.metadata.name, c as any]));
    const tally: Tally = { leaves: 0, agree: 0, diffs: [] };
    for (const g of theirs) {
      const o = ours.get(g.metadata.name);
      if (!o) tally.diffs.push(`${g.metadata.name} missing`);
      compare(g.metadata.name, g.spec, o?.spec, tally);
      t.deepEqual(o?.metadata.annotations, g.metadata.annotations, `${g.metadata.name} annotations`);
    }
    t.deepEqual([...ours.keys()].sort(), theirs.map((g) => g.metadata.name).sort());
    const share = tally.agree / tally.leaves;
    t.log(`Istio ${r.patch}: ${tally.agree}/${tally.leaves} leaves agree (${(share * 100).toFixed(2)}%)`);
    t.true(
      share >= FACT_FLOORS[r.line]!,
      `${(share * 100).toFixed(2)}% < floor ${(FACT_FLOORS[r.line]! * 100).toFixed(2)}%:\n${tally.diffs.slice(0, 20).join('\n')}`,
    );
    // What only ours has is a difference too (a leaf Istio's schema lacks would refuse objects Istio accepts).
    t.deepEqual(
      tally.diffs.filter((d) => d.includes('only in ours')),
      [],
    );
  });
}

// The generator's CEL printer: rules as the API defines them, with the API's helpers expanded, printed as cel-go's
// unparser prints them (what Istio's CRDs carry, and what the API server reports in its errors).
const generator = async () =>
  (await import(pathToFileURL(path.join(packageRoot, 'scripts', 'crd-schemas.mjs')).href)) as {
    canonicalCel: (rule: string) => string;
    RELEASES: Record<string, string>;
  };

test('CEL rules: helpers expanded, strings double-quoted, parentheses where precedence needs them', async (t) => {
  const c = (await generator()).canonicalCel;
  t.is(c('oneof(self.a, self.b)'), '(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) <= 1');
  t.is(
    c("default(self.resolution, 'NONE') == 'NONE' ? !has(self.endpoints) : true"),
    '((has(self.resolution) ? self.resolution : "NONE") == "NONE") ? !has(self.endpoints) : true',
  );
  t.is(
    c('has(self.p) ? self.index({}, selector, matchLabels).size() > 0 : true'),
    'has(self.p) ? (((has(self.selector) && has(self.selector.matchLabels)) ? self.selector.matchLabels : {}).size() > 0) : true',
  );
  t.is(c('(has(self.selector)?1:0)+(has(self.targetRefs)?1:0)<=1'), '(has(self.selector) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1');
  t.is(
    c("self.startsWith('unix://') ? (self.substring(7,8) == '/' || self.substring(7,8) == '@') : true"),
    'self.startsWith("unix://") ? (self.substring(7, 8) == "/" || self.substring(7, 8) == "@") : true',
  );
  t.is(c(`key.matches('^a"b\\\\d$')`), 'key.matches("^a\\"b\\\\d$")');
  t.is(c('!(a && b) || -x < 0 && [1, 2u] == [] && {"k": 1.5}.size() > 0'), '!(a && b) || -x < 0 && [1, 2u] == [] && {"k": 1.5}.size() > 0');
  t.is(c('a - (b - c)'), 'a - (b - c)');
  t.is(c('(a - b) - c'), 'a - b - c');
  // cel-go wraps after && and || once a line reaches 80 columns.
  const long = c('has(self.aaaaaaaaaaaaaaaaaaaa) && has(self.bbbbbbbbbbbbbbbbbbbbbbbbbb) && has(self.cccccccccccccccccccc) && has(self.d)');
  t.is(long, 'has(self.aaaaaaaaaaaaaaaaaaaa) && has(self.bbbbbbbbbbbbbbbbbbbbbbbbbb) && has(self.cccccccccccccccccccc) &&\nhas(self.d)');
  t.throws(() => c('has(self.a'), { message: /expected \)|ends early/ });
});

test("crds/istio/<line>/ is what scripts/crd-schemas.mjs generates from each release's istio.io/api", async (t) => {
  // Reads the API module from Go's module cache (downloads it when missing: Go is on CI's PATH for test/istio/build.sh).
  const r = spawnSync(process.execPath, [path.join(packageRoot, 'scripts', 'crd-schemas.mjs'), '--check'], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  t.is(r.status, 0, `${r.stderr}${r.error?.message ?? ''}\nrun: node scripts/crd-schemas.mjs`);
  t.deepEqual(Object.keys((await generator()).RELEASES).sort(), RELEASES.map((x) => x.line).sort(), 'one API version per release line');
});
