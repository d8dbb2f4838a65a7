import { InputError } from '../api/errors.js';
import { render } from '../render/index.js';
import { precheck, type Severity } from '../install/survey.js';
import { FLAGS, OUTPUT_FLAG, outputFormat, parseArgs, printStructured, usageFor, type FlagSpec } from './args.js';
import { CLUSTER_FLAGS, clientFrom, resolvedFrom } from './install.js';

// `istio-operator precheck -f iop.yaml`: what would stop the install, checked against the cluster, writing
// nothing. Exit 0 when nothing blocks (warnings allowed), 3 on a blocker (1 stays "bad input", 2 "failed").

export const summary = 'Check a cluster before an install: Kubernetes version, access, permissions, existing control planes, Gateway API';

const SPECS: FlagSpec[] = [
  FLAGS.filename,
  FLAGS.set,
  FLAGS.revision,
  FLAGS.release,
  FLAGS.force,
  {
    name: 'kubernetes-version',
    type: 'string',
    arg: 'VERSION',
    help: "Check against this Kubernetes version instead of the cluster's, e.g. 1.33 (planning a cluster upgrade)",
  },
  OUTPUT_FLAG,
  ...CLUSTER_FLAGS,
];

/** A blocker's exit code: distinct from 1 (bad input) so scripts can tell "fix the file" from "fix the cluster". */
export const BLOCKED_EXIT = 3;

const MARK: Record<Severity, string> = { ok: '✔', info: 'ℹ', warning: '!', blocker: '✘' };

export async function run(argv: string[]): Promise<number> {
  const { flags, positional, help } = parseArgs(argv, SPECS, 'precheck');
  if (help) {
    process.stdout.write(
      usageFor(
        'precheck [-f FILE]... [--set PATH=VALUE]... [--kubernetes-version V] [-o text|json|yaml]',
        `${summary}. Writes nothing. Exit code 0: nothing blocks the install; ${BLOCKED_EXIT}: a blocker (each is listed with its reason and what to do); 1: the input is invalid.`,
        SPECS,
      ),
    );
    return 0;
  }
  if (positional.length)
    throw new InputError([{ path: positional[0]!, message: 'unexpected argument', hint: 'input files go with -f FILE' }]);
  const format = outputFormat(flags.output);
  const kv = flags['kubernetes-version'];
  if (kv !== undefined && !/^v?\d+\.\d+(\.\d+)?([-+].*)?$/.test(kv))
    throw new InputError([
      { path: '--kubernetes-version', message: `"${kv}" is not a Kubernetes version`, hint: 'MAJOR.MINOR[.PATCH], e.g. 1.33 or v1.33.2' },
    ]);
  const install = resolvedFrom(flags);
  const objects = render(install).objects;
  const client = clientFrom(flags);
  try {
    const report = await precheck(client, install, objects, kv ? { kubernetesVersion: kv } : {});
    if (
      !(await printStructured(format, { release: install.release.line, version: install.version, revision: install.owner.rev, ...report }))
    ) {
      process.stdout.write(`Precheck for Istio ${install.version} (revision ${install.owner.rev}) on ${client.server}:\n`);
      for (const c of report.checks) {
        process.stdout.write(`${MARK[c.severity]} ${c.name}: ${c.message}\n`);
        for (const d of c.details ?? []) process.stdout.write(`    ${d}\n`);
        if (c.hint && c.severity !== 'ok') process.stdout.write(`    → ${c.hint}\n`);
      }
      const blockers = report.checks.filter((c) => c.severity === 'blocker').length;
      process.stdout.write(
        blockers ? `\n${blockers} blocker(s): the install would fail or break what is there.\n` : '\nNo blockers: ready to install.\n',
      );
    }
    return report.blocked ? BLOCKED_EXIT : 0;
  } finally {
    client.close();
  }
}

/** What `completion` offers after this command (completion.ts). */
export const completion = { flags: SPECS };
