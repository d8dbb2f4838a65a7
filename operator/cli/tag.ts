import { InputError } from '../api/errors.js';
import { refString } from '../apply/resources.js';
import { listTags, removeTag, setTag, TagError } from '../revision/tags.js';
import { FLAGS, OUTPUT_FLAG, outputFormat, parseArgs, printStructured, usageFor, type FlagSpec } from './args.js';
import { CLUSTER_FLAGS, clientFrom, confirm } from './install.js';

export const summary = 'Manage revision tags: set <tag> --revision R [--overwrite], list, remove <tag>';

const SPECS: FlagSpec[] = [
  { ...FLAGS.revision, help: 'Revision the tag points at (tag set)' },
  { name: 'overwrite', type: 'bool', help: 'Move a tag that already points at another revision (tag set)' },
  { ...FLAGS.force, help: 'Remove a tag that namespaces still select (tag remove)' },
  FLAGS.dryRun,
  FLAGS.yes,
  { ...OUTPUT_FLAG, help: 'text, json or yaml (tag list)' },
  ...CLUSTER_FLAGS,
];

const USAGE = 'tag set <tag> --revision R [--overwrite] [-y] | tag list | tag remove <tag> [--force] [-y]';

export async function run(argv: string[]): Promise<number> {
  const { flags, positional, help } = parseArgs(argv, SPECS, 'tag');
  if (help) {
    process.stdout.write(usageFor(USAGE, summary, SPECS));
    return 0;
  }
  const [sub, tag, ...extra] = positional;
  if (!sub || !['set', 'list', 'remove'].includes(sub)) {
    throw new InputError([
      { path: 'tag', message: sub ? `unknown subcommand "${sub}"` : 'missing subcommand', hint: 'set, list or remove' },
    ]);
  }
  if (extra.length) throw new InputError([{ path: `tag ${sub}`, message: `unexpected argument "${extra[0]}"` }]);
  if (sub !== 'list' && !tag)
    throw new InputError([{ path: `tag ${sub}`, message: 'missing the tag name', hint: `istio-operator tag ${sub} <tag>` }]);
  if (sub === 'set' && !flags.revision)
    throw new InputError([
      { path: '--revision', message: 'tag set needs the revision to point at', hint: '--revision 1-30-0 (or default)' },
    ]);
  const format = outputFormat(flags.output);
  const client = clientFrom(flags);
  const dry = flags['dry-run'] ? ' (dry run)' : '';
  try {
    if (sub === 'list') {
      const tags = await listTags(client);
      if (await printStructured(format, { tags })) return 0;
      const rows = [
        ['TAG', 'REVISION', 'NAMESPACES', 'MANAGED BY'],
        ...tags.map((t) => [t.tag, t.revision, t.namespaces.join(',') || '-', t.declaredBy ? `IstioOperator ${t.declaredBy}` : 'tag set']),
      ];
      const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) process.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ') + '\n');
      return 0;
    }
    if (!flags['dry-run'] && !flags.yes && !process.stdin.isTTY) {
      process.stderr.write(`error: tag ${sub} changes which control plane injects new pods; pass -y to confirm when not on a terminal\n`);
      return 1;
    }
    if (sub === 'set') {
      if (!flags['dry-run'] && !(await confirm(`Point tag ${tag} at revision ${flags.revision}?`, !!flags.yes))) return 1;
      const r = await setTag(client, { tag: tag!, revision: flags.revision, overwrite: !!flags.overwrite, dryRun: !!flags['dry-run'] });
      for (const x of r.results) process.stdout.write(`${refString(x.ref)} ${x.outcome}${dry}\n`);
      for (const x of r.removed) process.stdout.write(`${refString(x)} removed${dry}\n`);
      process.stdout.write(
        `tag ${tag} -> revision ${flags.revision}${r.previous && r.previous !== flags.revision ? ` (was ${r.previous})` : ''}${dry}\n`,
      );
      if (r.takenFrom)
        process.stderr.write(
          `warning: tag ${tag} was installed by IstioOperator ${r.takenFrom}; it is now managed by \`tag set\` (if that IstioOperator lists it in spec.values.revisionTags, remove it there or the operator moves it back)\n`,
        );
      if (r.namespaces.length) {
        process.stdout.write(`Restart the workloads of ${r.namespaces.length} namespace(s) labelled istio.io/rev=${tag} to move them:\n`);
        for (const n of r.namespaces) process.stdout.write(`  kubectl rollout restart deployment -n ${n}\n`);
      }
      return 0;
    }
    if (!flags['dry-run'] && !(await confirm(`Remove tag ${tag}?`, !!flags.yes))) return 1;
    const r = await removeTag(client, { tag: tag!, force: !!flags.force, dryRun: !!flags['dry-run'] });
    if (r.namespaces.length)
      process.stderr.write(
        `warning: --force: namespaces ${r.namespaces.join(', ')} still select tag ${tag}; their new pods will not be injected\n`,
      );
    if (r.declaredBy)
      process.stderr.write(
        `warning: IstioOperator ${r.declaredBy} installed this tag; if it lists it in spec.values.revisionTags, the operator recreates it\n`,
      );
    for (const x of r.removed) process.stdout.write(`${refString(x)} removed${dry}\n`);
    return 0;
  } catch (e) {
    if (e instanceof TagError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    client.close();
  }
}

/** What `completion` offers after this command (completion.ts). */
export const completion = { subcommands: ['set', 'list', 'remove'], flags: SPECS };
