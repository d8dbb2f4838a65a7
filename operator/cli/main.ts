import { InputError, formatIssue } from '../api/errors.js';

// The CLI is argument parsing and printing only; every decision lives in the layers below.
// One file per command in this folder, each exporting `run(argv): Promise<number>` and `summary`.
export const commands: Record<string, string> = {
  render: 'Render the manifests of an IstioOperator, offline, as multi-document YAML',
  profile: 'List, dump and diff the built-in profiles',
  migrate: 'Print a modernised IstioOperator for a legacy one',
  install: 'Apply an IstioOperator to a cluster (server-side apply, only what differs)',
  diff: 'Show what install would change in the cluster',
  uninstall: 'Remove an installed revision (or everything, with --purge)',
  tag: 'Manage revision tags',
  upgrade: 'Plan and follow a canary control-plane upgrade',
  operator: 'Run the operator, or print its own manifests',
  ca: 'Inspect and rotate the mesh CA',
  'remote-secret': 'Connect clusters: create or rotate the secret a primary reads to reach a remote cluster',
  precheck: 'Check a cluster before an install: Kubernetes version, permissions, existing control planes, Gateway API',
  status: 'List every Istio install: owner, revision, release, health, tags, proxies per revision',
  version: 'Print the client version and build information',
  completion: 'Print a shell completion script: completion bash|zsh|fish',
};

export function usage(): string {
  const w = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'istio-operator: install and operate Istio from IstioOperator resources',
    '',
    'Usage: istio-operator <command> [flags]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([c, d]) => `  ${c.padEnd(w)}  ${d}`),
    '',
    'Run `istio-operator <command> --help` for the flags of a command.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage() + '\n');
    return cmd ? 0 : 1;
  }
  if (!(cmd in commands)) {
    process.stderr.write(`error: unknown command "${cmd}" (valid: ${Object.keys(commands).join(', ')})\n`);
    return 1;
  }
  try {
    const mod = (await import(`./${cmd}.js`)) as { run(argv: string[]): Promise<number> };
    return await mod.run(rest);
  } catch (e) {
    if (e instanceof InputError) {
      for (const i of e.issues) process.stderr.write(`error: ${formatIssue(i)}\n`);
      return 1;
    }
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(`cli/${cmd}.js`)) {
      process.stderr.write(`error: command "${cmd}" is not available in this build\n`);
      return 1;
    }
    process.stderr.write(`error: ${(e as Error).message}\n`);
    return 2;
  }
}
