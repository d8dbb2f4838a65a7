import { InputError } from '../api/errors.js';
import { planFromView, readClusterView, upgradeStatus } from '../revision/inspect.js';
import { OUTPUT_FLAG, outputFormat, parseArgs, printStructured, usageFor, type FlagSpec } from './args.js';
import { CLUSTER_FLAGS, clientFrom } from './install.js';

export const summary = 'Plan and follow a canary control-plane upgrade: upgrade plan --to VERSION | upgrade status';

const SPECS: FlagSpec[] = [
  { name: 'to', type: 'string', arg: 'VERSION', help: 'Istio version to upgrade to, e.g. 1.30.0 (upgrade plan)' },
  {
    name: 'revision',
    short: 'r',
    type: 'string',
    arg: 'REV',
    help: 'Name of the new revision (default: the version with dots as dashes, e.g. 1-30-0)',
  },
  { name: 'istio-namespace', type: 'string', arg: 'NS', help: 'Only the revisions whose istiod runs in this namespace (default: all)' },
  { ...OUTPUT_FLAG, help: 'text, json or yaml (upgrade status, upgrade plan)' },
  ...CLUSTER_FLAGS,
];

export async function run(argv: string[]): Promise<number> {
  const { flags, positional, help } = parseArgs(argv, SPECS, 'upgrade');
  if (help) {
    process.stdout.write(usageFor('upgrade plan --to VERSION [--revision REV] | upgrade status', summary, SPECS));
    return 0;
  }
  const [sub, ...extra] = positional;
  if (sub !== 'plan' && sub !== 'status')
    throw new InputError([
      { path: 'upgrade', message: sub ? `unknown subcommand "${sub}"` : 'missing subcommand', hint: 'plan or status' },
    ]);
  if (extra.length) throw new InputError([{ path: `upgrade ${sub}`, message: `unexpected argument "${extra[0]}"` }]);
  if (sub === 'plan' && !flags.to)
    throw new InputError([{ path: '--to', message: 'upgrade plan needs the target version', hint: '--to 1.30.0' }]);
  const format = outputFormat(flags.output);
  const client = clientFrom(flags);
  try {
    const view = await readClusterView(client, flags['istio-namespace']);
    if (sub === 'status') {
      const s = upgradeStatus(view);
      if (await printStructured(format, s)) return 0;
      const rows = [
        ['REVISION', 'VERSION', 'TAGS', 'NAMESPACES', 'PODS'],
        ...s.revisions.map((r) => [r.revision, r.version || '?', r.tags.join(',') || '-', r.namespaces.join(',') || '-', String(r.pods)]),
      ];
      const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) process.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ') + '\n');
      process.stdout.write('\n');
      if (s.toRestart.length) {
        process.stdout.write(
          `Left to move: ${s.toRestart.length} pod(s) run another revision than their namespace selects (restart them):\n`,
        );
        for (const p of s.toRestart) process.stdout.write(`  ${p.pod}: runs ${p.runs}, namespace selects ${p.selected}\n`);
      } else process.stdout.write('Left to move: nothing (every pod runs the revision its namespace selects)\n');
      process.stdout.write(s.removable.length ? `Not in use (can be removed): ${s.removable.join(', ')}\n` : 'Every revision is in use.\n');
      return 0;
    }
    const plan = planFromView(view, flags.to, flags.revision);
    if (await printStructured(format, { ...plan, kubernetesVersion: view.kubernetesVersion })) return plan.ok ? 0 : 1;
    process.stdout.write(
      `Upgrade plan: Istio ${plan.target} as revision ${plan.newRevision} (Kubernetes ${view.kubernetesVersion})\n\nPrechecks:\n`,
    );
    for (const c of plan.prechecks) process.stdout.write(`  [${c.ok ? 'ok' : 'FAIL'}] ${c.name}: ${c.message}\n`);
    if (!plan.ok) {
      process.stderr.write(
        `error: upgrade to ${plan.target} refused: ${plan.prechecks
          .filter((c) => !c.ok)
          .map((c) => c.message)
          .join('; ')}\n`,
      );
      return 1;
    }
    if (plan.changes.length) {
      process.stdout.write(`\nWhat Istio ${plan.release} installs differently from the running revision(s):\n`);
      for (const c of plan.changes) process.stdout.write(`  - ${c}\n`);
    }
    if (plan.objects?.length) {
      process.stdout.write(`\nObjects of revision ${plan.newRevision} (Istio ${plan.release}'s manifests, ${plan.objects.length}):\n`);
      for (const o of plan.objects) process.stdout.write(`  ${o}\n`);
    }
    process.stdout.write('\nSteps:\n');
    plan.steps.forEach((s, i) => {
      process.stdout.write(`\n${i + 1}. ${s.title}\n   ${s.detail}\n`);
      if (s.manifest) process.stdout.write(`\n${s.manifest.replace(/^/gm, '     ').trimEnd()}\n`);
      if (s.command) process.stdout.write(`\n${s.command.replace(/^/gm, '     $ ')}\n`);
    });
    return 0;
  } finally {
    client.close();
  }
}

/** What `completion` offers after this command (completion.ts). */
export const completion = { subcommands: ['plan', 'status'], flags: SPECS };
