import readline from 'node:readline';
import { formatWarning, type Warning } from '../api/errors.js';
import type { ResolvedInstall } from '../api/install.js';
import { resolveIstioOperator } from '../api/resolve.js';
import { KubeClient, readsOf, writesOf } from '../apply/client.js';
import { summarize, waitInstalled, type InstallResult } from '../apply/install.js';
import { applyInstall, prepareInstall } from '../install/workflow.js';
import { refuseOperatorManaged } from '../install/managers.js';
import { consoleProgress } from '../apply/readiness.js';
import { refString } from '../apply/resources.js';
import { FLAGS, parseArgs, readInputFiles, usageFor, type FlagSpec, type Flags } from './args.js';

export const summary = 'Apply an IstioOperator to a cluster (server-side apply, only what differs)';

export const CLUSTER_FLAGS: FlagSpec[] = [FLAGS.kubeconfig, FLAGS.context];
const SPECS: FlagSpec[] = [
  FLAGS.filename,
  FLAGS.set,
  FLAGS.revision,
  FLAGS.release,
  FLAGS.dryRun,
  FLAGS.wait,
  FLAGS.timeout,
  { ...FLAGS.force, help: 'Turn validation errors into warnings, and replace (delete + create) objects whose immutable fields change' },
  FLAGS.yes,
  FLAGS.takeOver,
  ...CLUSTER_FLAGS,
];

/** -f/--set/--revision → the resolved install. Resolve's warnings go to stderr. */
export function resolvedFrom(flags: Flags): ResolvedInstall {
  const { install, warnings } = resolveIstioOperator({
    files: readInputFiles(flags.filename ?? []),
    sets: flags.set ?? [],
    ...(flags.revision ? { revision: flags.revision } : {}),
    ...(flags.release ? { release: flags.release } : {}),
    force: !!flags.force,
  });
  printWarnings(warnings);
  return install;
}

export function printWarnings(warnings: Warning[]): void {
  for (const w of warnings) process.stderr.write(`! ${formatWarning(w)}\n`);
}

export function clientFrom(flags: Flags): KubeClient {
  return KubeClient.fromOptions({
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.context ? { context: flags.context } : {}),
  });
}

/** Asks y/N on a TTY. Off a TTY there is nobody to ask: proceed, as kubectl apply does, so pipelines and CI never hang. */
export async function confirm(question: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) return true;
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await new Promise<string>((r) => rl.question(`${question} (y/N) `, r));
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

export function countsLine(r: { counts: InstallResult['counts'] }): string {
  const c = r.counts;
  const writes = writesOf(c);
  return `${writes} write request${writes === 1 ? '' : 's'}, ${c.dryRun} dry-run${c.dryRun === 1 ? '' : 's'}, ${readsOf(c)} read${readsOf(c) === 1 ? '' : 's'}`;
}

export async function run(argv: string[]): Promise<number> {
  const { flags, help } = parseArgs(argv, SPECS, 'install');
  if (help) {
    process.stdout.write(usageFor('install -f FILE [--set PATH=VALUE] [--revision R] [flags]', summary, SPECS));
    return 0;
  }
  const install = resolvedFrom(flags);
  const client = clientFrom(flags);
  const progress = consoleProgress(process.stderr);
  try {
    // Render, and check a provided CA secret, before anything is written: an unusable secret is an InputError
    // naming secret and key, and the cluster stays as it was.
    const unchecked = await refuseOperatorManaged(client, [install.owner], 'install over', !!flags['take-over']);
    if (unchecked) process.stderr.write(`warning: ${unchecked}\n`);
    const p = await prepareInstall(client, install);
    printWarnings(p.warnings);
    const rev = install.revision ? ` (revision ${install.revision})` : '';
    if (
      !flags['dry-run'] &&
      !(await confirm(
        `This will install the Istio ${install.profile} profile${rev} into the cluster at ${client.server}. Proceed?`,
        !!flags.yes,
      ))
    ) {
      process.stderr.write('Cancelled.\n');
      return 1;
    }
    const { apply: r } = await applyInstall(client, p, {
      dryRun: !!flags['dry-run'],
      force: !!flags.force,
      timeoutMs: flags.timeout,
      progress,
      onCaWritten: (ca) => void process.stdout.write(`${ca.message}\n`),
    });
    const verb = flags['dry-run'] ? ' (dry run)' : '';
    if (r.namespaceCreated) process.stdout.write(`created Namespace ${install.istioNamespace}${verb}\n`);
    for (const x of r.results) if (x.outcome !== 'unchanged') process.stdout.write(`${x.outcome} ${refString(x.ref)}${verb}\n`);
    for (const p of r.pruned) process.stdout.write(`pruned ${refString(p)}${verb}\n`);
    for (const n of r.sharedNotes) process.stderr.write(`note: ${n}\n`);
    const s = summarize(r);
    process.stdout.write(
      `${flags['dry-run'] ? 'Dry run: ' : ''}${s.created} created, ${s.configured} configured, ${s.replaced} replaced, ${s.unchanged} unchanged, ${s.pruned} pruned; ${countsLine(r)}\n`,
    );
    if (!flags['dry-run'] && flags.wait) await waitInstalled(client, p.objects, flags.timeout, progress);
    if (!flags['dry-run']) progress.info('✔ Installation complete');
    return 0;
  } finally {
    progress.stop();
    client.close();
  }
}

/** What `completion` offers after this command (completion.ts). */
export const completion = { flags: SPECS };
