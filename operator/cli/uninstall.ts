import { InputError } from '../api/errors.js';
import { refString } from '../apply/resources.js';
import { describeUsers, planRemoval, removeRevision, type RemovalOptions } from '../revision/removal.js';
import { FLAGS, parseArgs, usageFor, type FlagSpec } from './args.js';
import { CLUSTER_FLAGS, clientFrom, confirm, resolvedFrom } from './install.js';
import { refuseOperatorManaged } from '../install/managers.js';

export const summary = 'Remove an installed revision (or everything, with --purge)';

const SPECS: FlagSpec[] = [
  FLAGS.revision,
  FLAGS.filename,
  FLAGS.set,
  { name: 'purge', type: 'bool', help: 'Remove everything istio-operator installed, CRDs (and with them all Istio config) included' },
  { ...FLAGS.force, help: 'Remove a revision even if namespaces, pods or tags still use it' },
  FLAGS.dryRun,
  FLAGS.yes,
  FLAGS.takeOver,
  ...CLUSTER_FLAGS,
];

export async function run(argv: string[]): Promise<number> {
  const { flags, help } = parseArgs(argv, SPECS, 'uninstall');
  if (help) {
    process.stdout.write(usageFor('uninstall (--revision R | -f FILE | --purge) [flags]', summary, SPECS));
    return 0;
  }
  const modes = [flags.revision !== undefined, flags.filename.length > 0, !!flags.purge].filter(Boolean).length;
  if (modes !== 1) {
    throw new InputError([{ path: 'uninstall', message: 'say what to remove', hint: 'exactly one of --revision R, -f FILE, or --purge' }]);
  }
  const opts: RemovalOptions = { force: !!flags.force, dryRun: !!flags['dry-run'], purge: !!flags.purge };
  if (flags.revision !== undefined) opts.revision = flags.revision || 'default';
  if (flags.filename.length) opts.owner = resolvedFrom({ ...flags, revision: undefined }).owner;
  const client = clientFrom(flags);
  try {
    const plan = await planRemoval(client, opts);
    if (!plan.inventories.length && !opts.purge) {
      process.stderr.write(
        `nothing to remove: no installation recorded for ${opts.owner ? `IstioOperator ${opts.owner.name} revision ${opts.owner.rev}` : `revision ${opts.revision}`}\n`,
      );
      return 0;
    }
    const unchecked = await refuseOperatorManaged(
      client,
      plan.inventories.map((i) => i.owner),
      'uninstall',
      !!flags['take-over'] || !!opts.purge,
    );
    if (unchecked) process.stderr.write(`warning: ${unchecked}\n`);
    if (plan.users.length) {
      process.stderr.write(
        `${opts.force ? 'warning' : 'error'}: still in use:\n${describeUsers(plan.users)
          .map((l) => `  ${l}\n`)
          .join('')}`,
      );
      if (!opts.force) {
        process.stderr.write('refusing to remove a revision in use; relabel those namespaces/pods or pass --force\n');
        return 1;
      }
    }
    if (plan.gateways.length) process.stderr.write(`warning: this removes gateways: ${plan.gateways.map(refString).join(', ')}\n`);
    const what = opts.purge
      ? 'everything istio-operator installed, CRDs included'
      : `${plan.objects.length} objects of revision ${[...new Set(plan.inventories.map((i) => i.owner.rev))].join(', ')}`;
    if (!opts.dryRun) {
      if (!flags.yes && !process.stdin.isTTY) {
        process.stderr.write(`error: uninstall removes ${what}; pass -y to confirm when not on a terminal\n`);
        return 1;
      }
      if (!(await confirm(`This removes ${what}. Proceed?`, !!flags.yes))) {
        process.stderr.write('Cancelled.\n');
        return 1;
      }
    }
    const r = await removeRevision(client, opts, plan);
    const suffix = opts.dryRun ? ' (dry run)' : '';
    for (const d of r.deleted) process.stdout.write(`removed ${refString(d)}${suffix}\n`);
    for (const s of r.skipped) if (s.why !== 'already gone') process.stdout.write(`kept ${refString(s.ref)}: ${s.why}\n`);
    process.stdout.write(`${r.deleted.length} removed${suffix}\n`);
    return 0;
  } finally {
    client.close();
  }
}

/** What `completion` offers after this command (completion.ts). */
export const completion = { flags: SPECS };
