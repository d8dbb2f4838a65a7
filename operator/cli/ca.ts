import readline from 'node:readline';
import { InputError, formatIssue, formatWarning } from '../api/errors.js';
import { resolveIstioOperator } from '../api/resolve.js';
import { KubeClient } from '../apply/client.js';
import { reconcileCa } from '../ca/cluster.js';
import { ROOT_SECRET } from '../ca/settings.js';
import { readCaStatus, targetFromCluster, type CaReport } from '../ca/status.js';
import { caTargetFrom, type CaTarget } from '../ca/types.js';
import type { CertInfo } from '../ca/validate.js';
import { FLAGS, parseArgs, readInputFiles, usageFor, type FlagSpec } from './args.js';

export const summary = 'Inspect and rotate the mesh CA';

// Printing only: what the CA looks like and what to do come from operator/ca/status.ts and cluster.ts.
// Nothing printed here can hold key material: the functions below return subjects, dates and serial numbers only.

const NAMESPACE: FlagSpec = { name: 'namespace', short: 'n', type: 'string', arg: 'NS', help: 'Istio namespace, when no -f is given (default istio-system)' };
const OUTPUT: FlagSpec = { name: 'output', short: 'o', type: 'string', arg: 'FORMAT', help: 'text or json', default: 'text' };
const CLUSTER: FlagSpec[] = [FLAGS.kubeconfig, FLAGS.context];
const STATUS_SPECS: FlagSpec[] = [FLAGS.filename, FLAGS.set, NAMESPACE, OUTPUT, ...CLUSTER];
const ROTATE_SPECS: FlagSpec[] = [
  { name: 'root', type: 'bool', help: 'Start a root rotation (trust both roots, then switch the intermediate, then drop the old root) instead of renewing the intermediate' },
  FLAGS.filename,
  FLAGS.set,
  NAMESPACE,
  FLAGS.dryRun,
  FLAGS.yes,
  ...CLUSTER,
];

function topUsage(): string {
  return [
    'Usage: istio-operator ca <status|rotate> [flags]',
    '',
    summary,
    '',
    'Commands:',
    '  status  Mode, certificate chain, expiry dates, rotation phase and warnings',
    '  rotate  Renew the intermediate now, or start a root rotation with --root (mode operator)',
    '',
    'Run `istio-operator ca <command> --help` for its flags.',
    '',
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '-h' || sub === '--help' || sub === 'help') {
    process.stdout.write(topUsage());
    return sub ? 0 : 1;
  }
  if (sub === 'status') return status(rest);
  if (sub === 'rotate') return rotate(rest);
  throw new InputError([{ path: `ca ${sub}`, message: 'unknown subcommand', hint: 'one of: status, rotate' }]);
}

function clientFrom(flags: Record<string, any>): KubeClient {
  return KubeClient.fromOptions({ ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}), ...(flags.context ? { context: flags.context } : {}) });
}

/** -f/--set → the CA target; warnings go to stderr. Undefined without -f. */
function targetFromFlags(flags: Record<string, any>): CaTarget | undefined {
  if (!flags.filename.length) {
    if (flags.set.length) throw new InputError([{ path: '--set', message: 'needs -f FILE', hint: 'the CA settings come from an IstioOperator file' }]);
    return undefined;
  }
  if (flags.namespace !== undefined) {
    throw new InputError([{ path: '--namespace', message: 'cannot be combined with -f', hint: 'the IstioOperator file says the namespace (spec.namespace)' }]);
  }
  const { install, warnings } = resolveIstioOperator({ files: readInputFiles(flags.filename), sets: flags.set });
  for (const w of warnings) process.stderr.write(`! ${formatWarning(w)}\n`);
  return caTargetFrom(install);
}

async function status(argv: string[]): Promise<number> {
  const { flags, help } = parseArgs(argv, STATUS_SPECS, 'ca status');
  if (help) {
    process.stdout.write(usageFor('ca status [-f FILE | --namespace NS] [flags]', 'Show the mesh CA: mode, chain, expiry dates, rotation phase and warnings', STATUS_SPECS));
    return 0;
  }
  if (flags.output !== 'text' && flags.output !== 'json') throw new InputError([{ path: '--output', message: `"${flags.output}" is not a format`, hint: 'text or json' }]);
  const target = targetFromFlags(flags);
  const namespace = target?.namespace ?? (flags.namespace || 'istio-system');
  const client = clientFrom(flags);
  try {
    const report = await readCaStatus(client, { namespace, ...(target ? { target } : {}) });
    if (flags.output === 'json') process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else process.stdout.write(describe(report));
    for (const w of report.warnings) process.stderr.write(`! ${formatWarning(w)}\n`);
    for (const i of report.issues) process.stderr.write(`error: ${formatIssue(i)}\n`);
    return report.issues.length ? 1 : 0;
  } finally {
    client.close();
  }
}

function certLines(c: CertInfo, indent: string): string[] {
  return [`${indent}subject:  ${c.subject}`, `${indent}issuer:   ${c.issuer}`, `${indent}valid:    ${c.notBefore} → ${c.notAfter}`, `${indent}serial:   ${c.serialNumber}`];
}

function describe(r: CaReport): string {
  const modeNote: Record<string, string> = {
    istiod: "istiod's self-signed CA",
    operator: `generated by istio-operator (root in secret ${r.namespace}/${ROOT_SECRET}, never mounted)`,
    provided: 'plug-in CA from your secret',
    external: `external signer${r.address ? ` at ${r.address}` : ''} (istiod's CA server off)`,
  };
  const out = [`Mode:       ${r.mode} — ${modeNote[r.mode]}${r.modeFrom === 'cluster' ? ' [from the secrets in the namespace; pass -f for the IstioOperator]' : ''}`, `Namespace:  ${r.namespace}`];
  if (r.secretName) out.push(`Secret:     ${r.namespace}/${r.secretName}`);
  if (r.intermediate && r.mode !== 'istiod') out.push('Intermediate (ca-cert.pem):', ...certLines(r.intermediate, '  '));
  if (r.roots.length) {
    out.push(`Trusted roots (${r.mode === 'istiod' ? 'ca-cert.pem' : 'root-cert.pem'}): ${r.roots.length}`);
    r.roots.forEach((c, i) => out.push(`  [${i}]`, ...certLines(c, '    ')));
  }
  if (r.rotation) out.push(`Rotation:   root rotation in phase ${r.rotation.phase} since ${r.rotation.since}`);
  else if (r.mode === 'operator') out.push('Rotation:   none in progress');
  if (r.due) out.push(`Due now:    ${r.due.kind} (${r.due.reason}); the next install or operator reconcile does it`);
  else if (r.nextCheck) out.push(`Next step:  ${r.nextCheck}`);
  return out.join('\n') + '\n';
}

async function rotate(argv: string[]): Promise<number> {
  const { flags, help } = parseArgs(argv, ROTATE_SPECS, 'ca rotate');
  if (help) {
    process.stdout.write(usageFor('ca rotate [--root] [-f FILE | --namespace NS] [flags]', 'Renew the intermediate CA now, or start a root rotation (mode operator only)', ROTATE_SPECS));
    return 0;
  }
  const client = clientFrom(flags);
  try {
    let target = targetFromFlags(flags);
    if (!target) {
      const ns = flags.namespace || 'istio-system';
      target = await targetFromCluster(client, ns);
      if (!target) {
        throw new InputError([{
          path: `secret ${ns}/${ROOT_SECRET}`,
          message: 'not found: there is no CA generated by istio-operator in this namespace',
          hint: 'pass -f with an IstioOperator whose spec.components.ca.mode is operator, or --namespace for another namespace',
        }]);
      }
    }
    const what = flags.root
      ? `start a root rotation in namespace ${target.namespace} (a new root; both roots trusted during the overlap)`
      : `issue a new intermediate CA into secret ${target.namespace}/${target.secretName} (istiod reloads it)`;
    if (!flags['dry-run']) {
      if (!flags.yes && !process.stdin.isTTY) {
        process.stderr.write(`error: ca rotate would ${what}; pass -y to confirm when not on a terminal\n`);
        return 1;
      }
      if (!flags.yes) {
        if (!(await confirm(`This will ${what}. Proceed?`))) {
          process.stderr.write('Cancelled.\n');
          return 1;
        }
      }
    }
    const r = await reconcileCa(client, target, new Date(), { rotate: flags.root ? 'root' : 'intermediate', dryRun: !!flags['dry-run'] });
    for (const w of r.warnings) process.stderr.write(`! ${formatWarning(w)}\n`);
    process.stdout.write(`${r.message}\n`);
    const suffix = flags['dry-run'] ? ' (dry run)' : '';
    for (const s of r.written) process.stdout.write(`wrote secret ${s}${suffix}\n`);
    for (const d of r.restarted) process.stdout.write(`restarted deployment ${d}${suffix}\n`);
    if (r.status.intermediate) process.stdout.write(`intermediate: ${r.status.intermediate.subject}, expires on ${r.status.intermediate.notAfter}\n`);
    process.stdout.write(`trusted roots: ${r.status.roots.length}${r.status.rotation ? ` (root rotation in phase ${r.status.rotation.phase})` : ''}\n`);
    if (r.status.rotation) process.stdout.write(`the rotation moves to its next phase at the first install or operator reconcile after ${r.status.nextCheck}\n`);
    return 0;
  } finally {
    client.close();
  }
}

async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await new Promise<string>((r) => rl.question(`${question} (y/N) `, r));
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}
