import { platformsOf } from '../render/platforms.js';
import yaml from 'js-yaml';
import { listProfiles } from '../api/profiles.js';
import { resolveIstioOperator } from '../api/resolve.js';
import { DEFAULT_RELEASE, describeRelease, RELEASES } from '../api/releases.js';
import { InputError, formatWarning } from '../api/errors.js';
import { FLAGS, OUTPUT_FLAG, outputFormat, parseArgs, printStructured, readInputFiles, usageFor, type FlagSpec } from './args.js';

export const summary = 'List, dump and diff the built-in profiles';

const specs: FlagSpec[] = [
  FLAGS.filename,
  FLAGS.set,
  FLAGS.revision,
  FLAGS.release,
  FLAGS.force,
  { ...OUTPUT_FLAG, help: 'text, json or yaml (profile list)' },
];
const USAGE = usageFor(
  'profile list | dump [NAME] [-f FILE]... [--set PATH=VALUE]... | diff A B',
  'list: the built-in profiles. dump: the IstioOperator a profile resolves to (merged over default,\n' +
    'plus any -f files and --set overrides). diff: line differences between two resolved profiles.\n' +
    'NAME may also be a path to an IstioOperator file.',
  specs,
);

export function dumpYaml(x: unknown): string {
  return yaml.dump(x, { noRefs: true, lineWidth: -1, quotingType: '"' });
}

export async function run(argv: string[]): Promise<number> {
  const { flags, positional, help } = parseArgs(argv, specs, 'profile');
  const [sub, ...rest] = positional;
  if (help || !sub) {
    (help ? process.stdout : process.stderr).write(USAGE);
    return help ? 0 : 1;
  }
  const files = readInputFiles(flags.filename);
  const resolve = (name: string | undefined) => {
    const r = resolveIstioOperator({
      files,
      sets: [...(name ? [`profile=${name}`] : []), ...flags.set],
      ...(flags.revision ? { revision: flags.revision } : {}),
      ...(flags.release ? { release: flags.release } : {}),
      force: flags.force,
    });
    return r;
  };
  switch (sub) {
    case 'list': {
      if (rest.length) throw new InputError([{ path: 'profile list', message: `takes no arguments, got ${rest.join(' ')}` }]);
      const format = outputFormat(flags.output);
      if (
        await printStructured(format, {
          profiles: listProfiles(),
          releases: RELEASES.map((r) => ({ ...r, default: r === DEFAULT_RELEASE, platforms: platformsOf(r) })),
        })
      )
        return 0;
      const out = ['Istio configuration profiles:'];
      for (const p of listProfiles()) out.push(`    ${p.name}${p.supported ? '' : `  (${p.note})`}`);
      out.push('', 'Istio releases (every profile renders for each; choose with spec.tag, or --release for a digest tag):');
      for (const r of RELEASES) out.push(`    ${describeRelease(r)}`);
      out.push('', 'Platforms (values.global.platform), per release:');
      for (const r of RELEASES) out.push(`    ${r.line}: ${platformsOf(r).join(', ')}`);
      process.stdout.write(out.join('\n') + '\n');
      return 0;
    }
    case 'dump': {
      if (rest.length > 1) throw new InputError([{ path: 'profile dump', message: `takes one profile, got ${rest.join(' ')}` }]);
      const r = resolve(rest[0]);
      const text = dumpYaml(r.install.iop);
      for (const w of r.warnings) process.stderr.write(`warning: ${formatWarning(w)}\n`);
      process.stdout.write(text);
      return 0;
    }
    case 'diff': {
      if (rest.length !== 2)
        throw new InputError([
          { path: 'profile diff', message: `needs two profiles, got ${rest.length}`, hint: 'profile diff default demo' },
        ]);
      const [a, b] = rest;
      const ra = resolve(a);
      const rb = resolve(b);
      const out = lineDiff(dumpYaml(ra.install.iop), dumpYaml(rb.install.iop), a, b);
      process.stdout.write(out === '' ? `Profiles ${a} and ${b} are identical\n` : out);
      return 0;
    }
    default:
      throw new InputError([{ path: `profile ${sub}`, message: 'unknown subcommand', hint: 'one of: list, dump, diff' }]);
  }
}

/** A unified diff of two texts by lines (LCS), with 3 lines of context; '' when equal. */
export function lineDiff(aText: string, bText: string, aName: string, bName: string, context = 3): string {
  const a = aText.split('\n');
  const b = bText.split('\n');
  if (a[a.length - 1] === '') a.pop();
  if (b[b.length - 1] === '') b.pop();
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const ops: Array<{ op: ' ' | '-' | '+'; text: string; ai: number; bi: number }> = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) ops.push({ op: ' ', text: a[i], ai: i++, bi: j++ });
    else if (i < n && (j >= m || lcs[i + 1][j] >= lcs[i][j + 1])) ops.push({ op: '-', text: a[i], ai: i++, bi: j });
    else ops.push({ op: '+', text: b[j], ai: i, bi: j++ });
  }
  if (!ops.some((o) => o.op !== ' ')) return '';
  const out = [`--- ${aName}`, `+++ ${bName}`];
  let k = 0;
  while (k < ops.length) {
    if (ops[k].op === ' ') {
      k++;
      continue;
    }
    // A hunk: from `context` lines before this change to `context` lines after the last change that is
    // no more than 2*context lines away.
    const start = Math.max(0, k - context);
    let end = k;
    let lastChange = k;
    while (end < ops.length && end - lastChange <= 2 * context) {
      if (ops[end].op !== ' ') lastChange = end;
      end++;
    }
    end = Math.min(ops.length, lastChange + context + 1);
    const h = ops.slice(start, end);
    const aStart = h[0].ai + 1;
    const bStart = h[0].bi + 1;
    const aLen = h.filter((o) => o.op !== '+').length;
    const bLen = h.filter((o) => o.op !== '-').length;
    out.push(`@@ -${aStart},${aLen} +${bStart},${bLen} @@`);
    for (const o of h) out.push(`${o.op}${o.text}`);
    k = end;
  }
  return out.join('\n') + '\n';
}

/** What `completion` offers after this command (completion.ts). */
export const completion = { subcommands: ['list', 'dump', 'diff'], flags: specs };
