import { CASES } from './cases.js';
import { CATEGORIES, runCase, share, shareWithoutSchemas, ABSENT, type CaseResult, type LeafDiff } from './compare.js';

// `node dist/test/golden/report.js [--all] [case...]`: fidelity of our render against Istio's golden outputs,
// one table per case and the paths that differ. `--all` lists every differing path (default: the first 40 per case).

const pct = (n: number) => `${(n * 100).toFixed(1)}%`;

function show(v: unknown): string {
  if (v === ABSENT) return '(absent)';
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 100 ? s.slice(0, 97) + '...' : s;
}

/** Injection-template line diffs come in runs; group them per template so the list stays readable. */
function summarize(diffs: LeafDiff[]): string[] {
  const out: string[] = [];
  const lineRuns = new Map<string, number>();
  for (const d of diffs) {
    const m = /^(.*):L(\d+)$/.exec(d.path);
    if (m) {
      const k = `${d.object} ${m[1]}`;
      lineRuns.set(k, (lineRuns.get(k) ?? 0) + 1);
      continue;
    }
    if (d.path === '') out.push(`MISSING ${d.object}`);
    else out.push(`${d.object} ${d.path} [${d.category}]: golden ${show(d.golden)}, ours ${show(d.ours)}`);
  }
  for (const [k, n] of lineRuns) out.push(`${k} [text]: ${n} golden line(s) not found in ours`);
  return out;
}

function printCase(r: CaseResult, limit: number, pending?: string): void {
  console.log(`\n## ${r.name}${pending ? `  (pending: ${pending})` : ''}`);
  if (r.error) console.log(`render error: ${r.error.split('\n').join(' | ')}`);
  const present = r.objects.filter((o) => o.present).length;
  console.log(`objects: ${present}/${r.objects.length} present; leaves ${r.agree}/${r.leaves} agree = ${pct(share(r))}` +
    (r.byCategory['crd schema'].leaves ? ` (without CRD schemas: ${pct(shareWithoutSchemas(r))})` : '') + `; rendered ${r.rendered} object(s)`);
  if (r.missing.length) console.log(`missing: ${r.missing.join(', ')}`);
  if (r.extra.length) console.log(`extra (ours, not in golden): ${r.extra.join(', ')}`);
  const cats = CATEGORIES.filter((c) => r.byCategory[c].leaves > 0);
  if (cats.length) {
    const w = Math.max(...cats.map((c) => c.length));
    for (const c of cats) {
      const t = r.byCategory[c];
      console.log(`  ${c.padEnd(w)}  ${String(t.agree).padStart(6)}/${String(t.leaves).padEnd(6)} ${pct(share(t)).padStart(6)}`);
    }
  }
  const lines = summarize(r.diffs);
  if (lines.length) {
    console.log(`differences (${lines.length}):`);
    for (const l of lines.slice(0, limit)) console.log(`  - ${l}`);
    if (lines.length > limit) console.log(`  ... ${lines.length - limit} more (--all)`);
  }
  for (const w of r.warnings) console.log(`  warning: ${w}`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const all = args.includes('--all');
  const names = args.filter((a) => !a.startsWith('--'));
  const cases = CASES.filter((c) => !names.length || names.includes(c.name));
  const results: Array<{ r: CaseResult; pending?: string }> = [];
  for (const c of cases) results.push({ r: await runCase(c), ...(c.pending ? { pending: c.pending } : {}) });

  console.log('# Golden fidelity: our render vs istioctl manifest generate (Helm bookkeeping labels and image hub/tag ignored)\n');
  console.log('| case | objects present | leaves agree | share | share w/o CRD schemas | note |');
  console.log('|---|---|---|---|---|---|');
  for (const { r, pending } of results) {
    const present = r.objects.filter((o) => o.present).length;
    const note = pending ? `pending: ${pending}` : r.error ? `error: ${r.error.split('\n')[0]}` : r.name === 'all_off' ? `${r.rendered} object(s) rendered (must be 0)` : '';
    console.log(`| ${r.name} | ${present}/${r.objects.length} | ${r.agree}/${r.leaves} | ${pct(share(r))} | ${pct(shareWithoutSchemas(r))} | ${note} |`);
  }
  for (const { r, pending } of results) printCase(r, all ? Infinity : 40, pending);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 2;
});
