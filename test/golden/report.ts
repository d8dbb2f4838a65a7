import { CASES, explainedFor } from './cases.js';
import {
  CATEGORIES,
  NON_CORE,
  caseExists,
  refusal,
  runCase,
  share,
  coreTally,
  currentCoreTally,
  ABSENT,
  type CaseResult,
  type LeafDiff,
  type Category,
} from './compare.js';
import { NEWEST_FIXTURE_RELEASE } from '../helpers/fixtures.js';

// `node dist/test/golden/report.js [--release=1.30.3] [--set=live|multicluster|istio] [--all] [--floors] [case...]`: fidelity of our render against Istio's golden outputs,
// one table per case and the paths that differ, grouped by category (core categories first).
// Without --all each category lists at most 12 differences. --floors prints the ratchet table for golden.test.ts.

const pct = (n: number) => `${(n * 100).toFixed(1)}%`;
const STALE = "Istio's vendored golden is stale here (its test's chart snapshot): the release's istioctl renders it as we do (golden/live)";

function show(v: unknown): string {
  if (v === ABSENT) return '(absent)';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 100 ? s.slice(0, 97) + '...' : s;
}

/** Template-text line diffs come in runs; one entry per template, the first missing lines quoted. */
function summarize(diffs: LeafDiff[]): string[] {
  const out: string[] = [];
  const runs = new Map<string, LeafDiff[]>();
  for (const d of diffs) {
    const m = /^(.*):L\d+$/.exec(d.path);
    if (m) {
      const k = `${d.object} ${m[1]}`;
      runs.set(k, [...(runs.get(k) ?? []), d]);
    } else if (d.path === '') out.push(`MISSING ${d.object}`);
    else out.push(`${d.object} ${d.path}: golden ${show(d.golden)}, ours ${show(d.ours)}`);
  }
  for (const [k, ds] of runs) {
    if (ds.every((d) => d.ours === ABSENT)) {
      out.push(`${k}: absent in ours (${ds.length} golden lines)`);
      continue;
    }
    out.push(
      `${k}: ${ds.length} golden line(s) not in ours, e.g. ${ds
        .slice(0, 3)
        .map((d) => `${d.path.replace(/^.*:/, '')} ${show(d.golden)}`)
        .join('; ')}`,
    );
  }
  return out;
}

type Explanation = { match: string; reason: string };
const explanationOf = (d: LeafDiff, ex: Explanation[]) => ex.find((e) => new RegExp(e.match).test(`${d.object} ${d.path}`));

function printCase(r: CaseResult, limit: number, explained: Explanation[] = []): void {
  console.log(`\n## ${r.name}`);
  if (r.error) console.log(`render error: ${r.error.split('\n').join(' | ')}`);
  const present = r.objects.filter((o) => o.present).length;
  const core = coreTally(r);
  console.log(
    `objects: ${present}/${r.objects.length} present; leaves ${r.agree}/${r.leaves} agree = ${pct(share(r))}; core ${core.agree}/${core.leaves} = ${pct(share(core))}; we rendered ${r.rendered} object(s)`,
  );
  if (r.missing.length) console.log(`missing: ${r.missing.join(', ')}`);
  if (r.extra.length) console.log(`extra (ours, not in golden): ${r.extra.join(', ')}`);
  if (r.extraFields.length) {
    console.log(`fields only ours has (${r.extraFields.length}, not counted in the share):`);
    for (const f of r.extraFields.slice(0, limit)) console.log(`  + ${f}`);
    if (r.extraFields.length > limit) console.log(`  ... ${r.extraFields.length - limit} more (--all)`);
  }
  const cats = CATEGORIES.filter((c) => r.byCategory[c].leaves > 0);
  const w = Math.max(0, ...cats.map((c) => c.length));
  for (const c of cats) {
    const t = r.byCategory[c];
    console.log(
      `  ${c.padEnd(w)}  ${String(t.agree).padStart(6)}/${String(t.leaves).padEnd(6)} ${pct(share(t)).padStart(6)}${NON_CORE.includes(c) ? '  (not core)' : ''}`,
    );
  }
  const missing = r.diffs.filter((d) => d.path === '');
  if (missing.length) console.log(`differences: ${missing.length} missing object(s)`);
  const known = r.diffs.filter((d) => explanationOf(d, explained));
  for (const e of explained) {
    const ds = known.filter((d) => explanationOf(d, explained) === e);
    if (!ds.length) continue;
    console.log(`explained (${ds.length} leaves): ${e.reason}`);
    for (const l of summarize(ds).slice(0, limit)) console.log(`  - ${l}`);
  }
  for (const c of CATEGORIES) {
    const ds = r.diffs.filter((d) => d.category === (c as Category) && d.path !== '' && !known.includes(d));
    if (!ds.length) continue;
    const lines = summarize(ds);
    console.log(`differences [${c}] (${ds.length} leaves):`);
    for (const l of lines.slice(0, limit)) console.log(`  - ${l}`);
    if (lines.length > limit) console.log(`  ... ${lines.length - limit} more (--all)`);
  }
  for (const w of r.warnings) console.log(`  warning: ${w}`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const all = args.includes('--all');
  const rel = args.find((a) => a.startsWith('--release='))?.slice('--release='.length) ?? NEWEST_FIXTURE_RELEASE;
  const names = args.filter((a) => !a.startsWith('--'));
  // --set=live (or multicluster; `istio` for Istio's own cases): one set of cases only.
  const set = args.find((a) => a.startsWith('--set='))?.slice('--set='.length);
  const cases = CASES.filter(
    (c) => (!names.length || names.includes(c.name)) && (!set || (c.set ?? 'istio') === set) && caseExists(c, rel),
  );
  const results: Array<{ r: CaseResult; set: string; explained: Explanation[]; refused?: string; accepted?: string }> = [];
  for (const c of cases) {
    const r = await runCase(c, rel);
    // What the live golden shows stale in Istio's vendored one is explained by it, leaf by leaf (compare.ts staleRefs).
    const stale = (r.stale ?? []).map((ref) => ({ match: `^${ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, reason: STALE }));
    results.push({
      r,
      set: c.set ?? 'istio',
      ...(c.refused ? { refused: refusal(c, rel) } : {}),
      ...(c.accepted ? { accepted: c.accepted } : {}),
      explained: [...explainedFor(c, rel), ...stale],
    });
  }

  console.log(`# Golden fidelity: our render vs Istio ${rel}'s \`istioctl manifest generate\``);
  console.log('(Helm bookkeeping labels and image hub/tag ignored; "core" leaves exclude CRD schemas, descriptions and injection-template');
  console.log("text, whose behaviour test/injection checks by executing ours and Istio's templates in Go)\n");
  console.log(
    '| case | objects present | leaves agree | share | core share | core share without stale leaves | core diffs (explained) | fields only ours | note |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const { r, explained, refused, accepted } of results) {
    if (refused !== undefined) {
      console.log(
        `| ${r.name} | - | - | - | - | - | - | - | istioctl refuses the input; ${r.error ? 'so do we' : accepted ? `we render it (explained: ${accepted})` : 'WE RENDER IT'} |`,
      );
      continue;
    }
    const present = r.objects.filter((o) => o.present).length;
    const coreDiffs = r.diffs.filter((d) => !NON_CORE.includes(d.category));
    const coreExplained = coreDiffs.filter((d) => explanationOf(d, explained)).length;
    const note = r.error ? `error: ${r.error.split('\n')[0]}` : r.name === 'all_off' ? `${r.rendered} object(s) rendered (must be 0)` : '';
    console.log(
      `| ${r.name} | ${present}/${r.objects.length} | ${r.agree}/${r.leaves} | ${pct(share(r))} | ${pct(share(coreTally(r)))} | ${r.stale ? pct(share(currentCoreTally(r))) : '-'} | ${coreDiffs.length} (${coreExplained}) | ${r.extraFields.length} | ${note} |`,
    );
  }
  // Per set of cases: objects and core leaves over the set's cases but refused ones (the release's figure).
  console.log(
    '\n| set | cases | objects present | core leaves agree | core share | without stale leaves | core diffs unexplained | refusals matched |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const s of [...new Set(results.map((x) => x.set))]) {
    const mine = results.filter((x) => x.set === s && x.refused === undefined);
    const objects = mine.reduce(
      (a, { r }) => ({ n: a.n + r.objects.length, present: a.present + r.objects.filter((o) => o.present).length }),
      { n: 0, present: 0 },
    );
    const sum = (ts: Array<{ leaves: number; agree: number }>) =>
      ts.reduce((a, b) => ({ leaves: a.leaves + b.leaves, agree: a.agree + b.agree }), { leaves: 0, agree: 0 });
    const core = sum(mine.map(({ r }) => coreTally(r)));
    const current = sum(mine.map(({ r }) => currentCoreTally(r)));
    const objectsNow = mine.reduce(
      (a, { r }) => a + r.objects.filter((o) => !o.present && (r.stale ?? []).includes(`${o.key} `)).length,
      0,
    );
    const unexplained = mine.reduce(
      (n, { r, explained }) => n + r.diffs.filter((d) => !NON_CORE.includes(d.category) && !explanationOf(d, explained)).length,
      0,
    );
    const refusals = results.filter((x) => x.set === s && x.refused !== undefined);
    const staleNote = objectsNow ? ` (${objectsNow} stale)` : '';
    console.log(
      `| ${s} | ${mine.length} | ${objects.present}/${objects.n}${staleNote} | ${core.agree}/${core.leaves} | ${pct(share(core))} | ${current.agree}/${current.leaves} = ${pct(share(current))} | ${unexplained} | ${refusals.filter((x) => x.r.error).length}/${refusals.length}${refusals.some((x) => !x.r.error && x.accepted) ? ` (${refusals.filter((x) => !x.r.error && x.accepted).length} accepted, explained)` : ''} |`,
    );
  }
  // Per category over all cases: the figure the issue's 100% target is about.
  console.log('\n| category (all cases but refused ones) | agree | share |');
  console.log('|---|---|---|');
  for (const c of CATEGORIES) {
    const t = results
      .filter((x) => x.refused === undefined)
      .reduce((a, { r }) => ({ leaves: a.leaves + r.byCategory[c].leaves, agree: a.agree + r.byCategory[c].agree }), {
        leaves: 0,
        agree: 0,
      });
    if (t.leaves) console.log(`| ${c}${NON_CORE.includes(c) ? ' (not core)' : ''} | ${t.agree}/${t.leaves} | ${pct(share(t))} |`);
  }
  if (args.includes('--floors')) {
    // The ratchet table for test/unit/golden.test.ts, from this measurement (shares rounded down to 0.1%).
    console.log('\nconst FLOORS: Record<string, Floor> = {');
    for (const { r, refused } of results) {
      if (refused !== undefined || !r.leaves) continue;
      // Stale leaves of Istio's vendored goldens (compare.ts staleRefs) count neither way, as in golden.test.ts.
      const stale = new Set(r.stale ?? []);
      const perfect = CATEGORIES.filter(
        (c) => r.byCategory[c].leaves > 0 && r.diffs.every((d) => d.category !== c || stale.has(`${d.object} ${d.path}`)),
      );
      const down = (n: number) => Math.floor(n * 1000) / 1000;
      const core = currentCoreTally(r);
      console.log(
        `  // ${r.name}: core ${core.agree}/${core.leaves} = ${pct(share(core))}; all leaves ${r.agree}/${r.leaves} = ${pct(share(r))}`,
      );
      console.log(
        `  '${r.name}': { core: ${down(share(core))}, perfect: [${perfect
          .filter((c) => !NON_CORE.includes(c))
          .map((c) => `'${c}'`)
          .join(', ')}] },`,
      );
    }
    console.log('};');
    return;
  }
  for (const { r, explained, refused } of results) {
    if (refused === undefined) printCase(r, all ? Infinity : 12, explained);
    else
      console.log(
        `\n## ${r.name}\nistioctl refuses: ${refused}\nours: ${r.error ? `refuses: ${r.error.split('\n').join(' | ')}` : `renders ${r.rendered} object(s)`}`,
      );
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 2;
});
