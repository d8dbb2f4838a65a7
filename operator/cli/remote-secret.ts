import { InputError, type FieldIssue } from '../api/errors.js';
import { DEFAULT_ISTIO_NAMESPACE } from '../api/names.js';
import {
  connect,
  createRemoteSecret,
  rotateRemoteSecret,
  type RemoteSecretOptions,
  type RemoteSecretResult,
  type Target,
} from '../multicluster/cluster.js';
import {
  clusterNameIssue,
  defaultServiceAccount,
  formatSecret,
  objectNameIssue,
  SECRET_TYPES,
  type SecretType,
} from '../multicluster/remotesecret.js';
import { FLAGS, parseArgs, usageFor, type FlagSpec } from './args.js';

export const summary = 'Connect clusters: create or rotate the secret a primary reads to reach a remote cluster';

// Parsing and printing only: multicluster/cluster.ts decides and writes, multicluster/remotesecret.ts builds.
// Names and flags are istioctl create-remote-secret's, plus -y and the primary's kubeconfig/context to apply with.

const SPECS: FlagSpec[] = [
  {
    name: 'name',
    type: 'string',
    arg: 'CLUSTER',
    help: "The remote cluster's name, as its istiod and the mesh know it (values.global.multiCluster.clusterName); default: the remote's kube-system namespace UID, as istioctl",
  },
  { ...FLAGS.kubeconfig, help: 'Kubeconfig of the REMOTE cluster (the one the secret gives access to)' },
  { ...FLAGS.context, help: 'Context of the REMOTE cluster' },
  {
    name: 'type',
    type: 'string',
    arg: 'TYPE',
    default: 'remote',
    help: "remote (a remote cluster, for a primary: istio-remote-secret-<name>) or config (an external control plane's config cluster: istio-kubeconfig)",
  },
  {
    name: 'namespace',
    short: 'n',
    type: 'string',
    arg: 'NS',
    default: DEFAULT_ISTIO_NAMESPACE,
    help: 'Istio namespace: of the account on the remote and of the secret on the primary',
  },
  {
    name: 'service-account',
    type: 'string',
    arg: 'NAME',
    help: 'Account the kubeconfig authenticates as (default istio-reader-service-account; istiod for --type config)',
  },
  {
    name: 'create-service-account',
    type: 'bool',
    default: true,
    help: 'Create the reader account and its rights on the remote when missing (--create-service-account=false refuses instead)',
  },
  { name: 'secret-name', type: 'string', arg: 'NAME', help: 'Token Secret of the account to use (default: its newest, or one created)' },
  {
    name: 'server',
    type: 'string',
    arg: 'URL',
    help: "API server address written into the kubeconfig (default: the remote kubeconfig's); what the primary's istiod can reach",
  },
  {
    name: 'tls-server-name',
    type: 'string',
    arg: 'NAME',
    help: 'Server name checked against the API server certificate when --server is a proxy or an IP',
  },
  {
    name: 'output',
    short: 'o',
    type: 'string',
    arg: 'FORMAT',
    default: 'yaml',
    help: 'yaml or json: format of the printed Secret (without -y)',
  },
  {
    ...FLAGS.yes,
    help: 'Apply the secret to the primary (server-side apply) instead of printing it; needs --primary-kubeconfig or --primary-context',
  },
  { name: 'primary-kubeconfig', type: 'string', arg: 'PATH', help: 'Kubeconfig of the PRIMARY cluster, whose istiod reads the secret' },
  { name: 'primary-context', type: 'string', arg: 'NAME', help: 'Context of the PRIMARY cluster' },
];

const USAGE = 'remote-secret create|rotate --name CLUSTER [--kubeconfig K] [--context C] [-y --primary-context P] [flags]';

function help(): string {
  return (
    usageFor(USAGE, summary, SPECS) +
    [
      'Commands:',
      "  create  The remote's account and a long-lived token for it (created when missing, reused otherwise), and the",
      '          istio/multiCluster=true Secret holding a kubeconfig for the remote: printed, or applied to the primary with -y',
      "  rotate  A new token, the primary's secret updated to it, then the old token deleted (needs -y and the primary)",
      '',
      'Examples:',
      '  istio-operator remote-secret create --context c2 --name cluster2 | kubectl --context c1 apply -f -',
      '  istio-operator remote-secret create --context c2 --name cluster2 -y --primary-context c1',
      '  istio-operator remote-secret rotate --context c2 --name cluster2 -y --primary-context c1',
      '',
    ].join('\n')
  );
}

export async function run(argv: string[]): Promise<number> {
  const { flags, positional, help: wantHelp } = parseArgs(argv, SPECS, 'remote-secret');
  if (wantHelp) {
    process.stdout.write(help());
    return 0;
  }
  const [sub, ...extra] = positional;
  if (sub !== 'create' && sub !== 'rotate') {
    throw new InputError([
      { path: 'remote-secret', message: sub ? `unknown subcommand "${sub}"` : 'missing subcommand', hint: 'create or rotate' },
    ]);
  }
  if (extra.length)
    throw new InputError([
      { path: `remote-secret ${sub}`, message: `unexpected argument "${extra[0]}"`, hint: 'flags only, e.g. --name cluster2' },
    ]);

  // Every input problem at once, before any cluster is asked anything.
  const issues: FieldIssue[] = [];
  const type = flags.type as SecretType;
  if (!SECRET_TYPES.includes(type))
    issues.push({ path: '--type', message: `unknown type "${flags.type}"`, hint: SECRET_TYPES.join(' or ') });
  if (flags.output !== 'yaml' && flags.output !== 'json')
    issues.push({ path: '--output', message: `unknown format "${flags.output}"`, hint: 'yaml or json' });
  if (flags.name !== undefined) pushIf(issues, clusterNameIssue(flags.name));
  pushIf(issues, objectNameIssue(flags.namespace, '--namespace'));
  if (flags['service-account'] !== undefined) pushIf(issues, objectNameIssue(flags['service-account'], '--service-account', 253));
  if (flags['secret-name'] !== undefined) pushIf(issues, objectNameIssue(flags['secret-name'], '--secret-name', 253));
  if (flags.server !== undefined && !/^https?:\/\/[^/\s]+/.test(flags.server))
    issues.push({ path: '--server', message: `"${flags.server}" is not an API server URL`, hint: 'https://HOST:PORT' });
  const primaryGiven = flags['primary-kubeconfig'] !== undefined || flags['primary-context'] !== undefined;
  if (flags.yes && !primaryGiven)
    issues.push({
      path: '-y',
      message: 'applying needs the primary cluster',
      hint: 'add --primary-context or --primary-kubeconfig (the cluster whose istiod reads the secret)',
    });
  if (sub === 'rotate' && !flags.yes)
    issues.push({
      path: 'remote-secret rotate',
      message: 'rotate replaces the secret on the primary, then deletes the old token: it needs -y and the primary',
      hint: '-y --primary-context P',
    });
  if (issues.length) throw new InputError(issues);

  const remote = connect('remote', flags, { kubeconfig: '--kubeconfig', context: '--context' });
  const primary: Target | undefined = primaryGiven
    ? connect(
        'primary',
        { kubeconfig: flags['primary-kubeconfig'], context: flags['primary-context'] },
        { kubeconfig: '--primary-kubeconfig', context: '--primary-context' },
      )
    : undefined;
  try {
    const cluster = flags.name ?? (await clusterUid(remote));
    const opts: RemoteSecretOptions = {
      cluster,
      type,
      namespace: flags.namespace,
      serviceAccount: flags['service-account'] ?? defaultServiceAccount(type),
      createServiceAccount: !!flags['create-service-account'],
      ...(flags['secret-name'] !== undefined ? { tokenSecret: flags['secret-name'] } : {}),
      ...(flags.server !== undefined ? { server: flags.server } : {}),
      ...(flags['tls-server-name'] !== undefined ? { tlsServerName: flags['tls-server-name'] } : {}),
    };
    const r =
      sub === 'rotate' ? await rotateRemoteSecret(opts, remote, primary!) : await createRemoteSecret(opts, remote, primary, !!flags.yes);
    report(r, !!flags.yes, flags.output);
    return 0;
  } finally {
    remote.client.close();
    primary?.client.close();
  }
}

function pushIf(issues: FieldIssue[], i: FieldIssue | undefined): void {
  if (i) issues.push(i);
}

/** istioctl's default name: the UID of the remote's kube-system namespace, unique per cluster. */
async function clusterUid(remote: Target): Promise<string> {
  const ns = await remote.client
    .request<{ metadata: { uid: string } }>('GET', '/api/v1/namespaces/kube-system', { allow404: true })
    .catch(() => undefined);
  if (!ns?.metadata?.uid)
    throw new InputError([
      {
        path: '--name',
        message: "no --name, and the remote's kube-system namespace UID (the default name) could not be read",
        hint: 'name the cluster: --name cluster2',
      },
    ]);
  return ns.metadata.uid;
}

/** Without -y the Secret is the output (stdout: pipe it to kubectl); with -y what was done, one line per object. */
function report(r: RemoteSecretResult, applied: boolean, format: 'yaml' | 'json'): void {
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  const lines = r.steps.map((s) => `${s.verb} ${s.what} (${s.on})\n`).join('');
  if (applied) {
    process.stdout.write(lines);
    return;
  }
  process.stderr.write(lines);
  process.stdout.write(formatSecret(r.secret, format));
}

/** What `completion` offers after this command (completion.ts). */
export const completion = { subcommands: ['create', 'rotate'], flags: SPECS };
