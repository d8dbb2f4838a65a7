import { InputError, formatIssue } from '../api/errors.js';
import { objectDiffs } from '../apply/diff.js';
import { applyInstall, prepareInstall } from '../install/workflow.js';
import { FLAGS, parseArgs, usageFor, type FlagSpec } from './args.js';
import { CLUSTER_FLAGS, clientFrom, printWarnings, resolvedFrom } from './install.js';

export const summary = 'Show what install would change in the cluster';

const SPECS: FlagSpec[] = [
  FLAGS.filename,
  FLAGS.set,
  FLAGS.revision,
  FLAGS.release,
  { ...FLAGS.force, help: 'Turn validation errors into warnings' },
  ...CLUSTER_FLAGS,
];

// Exit codes as `kubectl diff`: 0 no changes, 1 changes, >1 an error (so input errors are 2 here, not 1).
export async function run(argv: string[]): Promise<number> {
  // `diff | head` closes the pipe early: that is the reader's choice, not an error worth a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(1);
  });
  try {
    const { flags, help } = parseArgs(argv, SPECS, 'diff');
    if (help) {
      process.stdout.write(usageFor('diff -f FILE [--set PATH=VALUE] [flags]', summary, SPECS));
      return 0;
    }
    const install = resolvedFrom(flags);
    const client = clientFrom(flags);
    try {
      const p = await prepareInstall(client, install);
      printWarnings(p.warnings);
      const { apply: r } = await applyInstall(client, p, { dryRun: true });
      const diffs = objectDiffs(r);
      for (const x of diffs) process.stdout.write(`# ${x.title}\n${x.text}`);
      process.stderr.write(diffs.length ? `${diffs.length} object${diffs.length === 1 ? '' : 's'} would change\n` : 'no changes\n');
      return diffs.length ? 1 : 0;
    } finally {
      client.close();
    }
  } catch (e) {
    if (e instanceof InputError) for (const i of e.issues) process.stderr.write(`error: ${formatIssue(i)}\n`);
    else process.stderr.write(`error: ${(e as Error).message}\n`);
    return 2;
  }
}

/** What `completion` offers after this command (completion.ts). */
export const completion = { flags: SPECS };
