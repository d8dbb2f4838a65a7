import readline from 'node:readline';
import { formatWarning } from '../api/errors.js';
import { resolveIstioOperator } from '../api/resolve.js';
import type { IstioOperator } from '../api/types.js';
import { KubeClient, readsOf, writesOf } from '../apply/client.js';
import { install, summarize, waitInstalled, type InstallResult } from '../apply/install.js';
import { ownerOf, type Owner } from '../apply/owner.js';
import { consoleProgress } from '../apply/readiness.js';
import { refString } from '../apply/resources.js';
import { render, type K8sObject } from '../render/index.js';
import { prepareCa } from '../ca/cluster.js';
import { FLAGS, parseArgs, readInputFiles, usageFor, type FlagSpec } from './args.js';

export const summary = 'Apply an IstioOperator to a cluster (server-side apply, only what differs)';

export const CLUSTER_FLAGS: FlagSpec[] = [FLAGS.kubeconfig, FLAGS.context];
const SPECS: FlagSpec[] = [
  FLAGS.filename,
  FLAGS.set,
  FLAGS.revision,
  FLAGS.dryRun,
  FLAGS.wait,
  FLAGS.timeout,
  { ...FLAGS.force, help: 'Turn validation errors into warnings, and replace (delete + create) objects whose immutable fields change' },
  FLAGS.yes,
  ...CLUSTER_FLAGS,
];

export interface Desired {
  iop: IstioOperator;
  objects: K8sObject[];
  owner: Owner;
  namespace: string;
}

/** -f/--set/--revision → the rendered objects, their owner and the Istio namespace. Warnings go to stderr. */
export function desiredFrom(flags: Record<string, any>): Desired {
  const { iop, warnings } = resolveIstioOperator({
    files: readInputFiles(flags.filename ?? []),
    sets: flags.set ?? [],
    ...(flags.revision ? { revision: flags.revision } : {}),
    force: !!flags.force,
  });
  const r = render(iop);
  for (const w of [...warnings, ...r.warnings]) process.stderr.write(`! ${formatWarning(w)}\n`);
  const namespace = String(iop.spec?.namespace || iop.spec?.values?.global?.istioNamespace || 'istio-system');
  const owner = ownerOf(r.objects, { name: iop.metadata?.name || 'unknown', namespace: iop.metadata?.namespace ?? '', rev: iop.spec?.revision || 'default' });
  return { iop, objects: r.objects, owner, namespace };
}

export function clientFrom(flags: Record<string, any>): KubeClient {
  return KubeClient.fromOptions({ ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}), ...(flags.context ? { context: flags.context } : {}) });
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
  const d = desiredFrom(flags);
  const client = clientFrom(flags);
  const progress = consoleProgress(process.stderr);
  try {
    // A provided CA secret that istiod could not use is refused here, before anything is written
    // (a dry run makes no writes; an unusable secret throws an InputError naming secret and key).
    const caCheck = await prepareCa(client, d.iop, new Date(), { dryRun: true });
    for (const w of caCheck.warnings) process.stderr.write(`! ${formatWarning(w)}\n`);
    const profile = d.iop.spec?.profile || 'default';
    const rev = d.owner.rev === 'default' ? '' : ` (revision ${d.owner.rev})`;
    if (!flags['dry-run'] && !(await confirm(`This will install the Istio ${profile} profile${rev} into the cluster at ${client.server}. Proceed?`, !!flags.yes))) {
      process.stderr.write('Cancelled.\n');
      return 1;
    }
    const r = await install(client, d.objects, {
      owner: d.owner,
      namespace: d.namespace,
      dryRun: !!flags['dry-run'],
      force: !!flags.force,
      timeoutMs: flags.timeout,
      progress,
      beforeApply: async () => {
        if (flags['dry-run'] || caCheck.outcome === 'none' || caCheck.outcome === 'validated') return;
        const ca = await prepareCa(client, d.iop, new Date());
        process.stdout.write(`${ca.message}\n`);
      },
    });
    const verb = flags['dry-run'] ? ' (dry run)' : '';
    if (r.namespaceCreated) process.stdout.write(`created Namespace ${d.namespace}${verb}\n`);
    for (const x of r.results) if (x.outcome !== 'unchanged') process.stdout.write(`${x.outcome} ${refString(x.ref)}${verb}\n`);
    for (const p of r.pruned) process.stdout.write(`pruned ${refString(p)}${verb}\n`);
    for (const n of r.sharedNotes) process.stderr.write(`note: ${n}\n`);
    const s = summarize(r);
    process.stdout.write(
      `${flags['dry-run'] ? 'Dry run: ' : ''}${s.created} created, ${s.configured} configured, ${s.replaced} replaced, ${s.unchanged} unchanged, ${s.pruned} pruned; ${countsLine(r)}\n`,
    );
    if (!flags['dry-run'] && flags.wait) await waitInstalled(client, d.objects, flags.timeout, progress);
    if (!flags['dry-run']) progress.info('✔ Installation complete');
    return 0;
  } finally {
    progress.stop();
    client.close();
  }
}
