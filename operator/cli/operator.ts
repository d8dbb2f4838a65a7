import yaml from 'js-yaml';
import { InputError } from '../api/errors.js';
import { mergeValues, operatorManifests, type Values } from '../controller/selfmanifests.js';
import { writeYamlStream } from './stdout.js';
import { FLAGS, parseArgs, readInputFiles, usageFor, type FlagSpec } from './args.js';

// `istio-operator operator`: run the controller, or print its own manifests. Parsing and printing only.

export const summary = 'Run the operator, or print its own manifests';

const RUN_FLAGS: FlagSpec[] = [
  FLAGS.kubeconfig,
  FLAGS.context,
  { name: 'namespaces', type: 'string', arg: 'NS[,NS]', help: 'Namespaces whose IstioOperators are watched (default: all)' },
  {
    name: 'trusted-namespaces',
    type: 'string',
    arg: 'NS[,NS]',
    help: "Namespaces whose IstioOperators are acted on: writing one is cluster-admin-equivalent (default: the operator's own namespace, from POD_NAMESPACE or --lease-namespace, and istio-system)",
  },
  { name: 'concurrency', type: 'string', arg: 'N', default: '2', help: 'IstioOperators reconciled in parallel' },
  {
    name: 'metrics-addr',
    type: 'string',
    arg: 'ADDR',
    help: 'Prometheus /metrics address ("0" disables; default :8080 in a pod, 127.0.0.1:0 elsewhere: a free loopback port, logged)',
  },
  {
    name: 'health-addr',
    type: 'string',
    arg: 'ADDR',
    help: '/healthz and /readyz address ("0" disables; default :8081 in a pod, 127.0.0.1:0 elsewhere)',
  },
  { name: 'leader-elect', type: 'bool', help: 'Run only while holding a coordination.k8s.io Lease (for more than one replica)' },
  { name: 'lease-name', type: 'string', arg: 'NAME', default: 'istio-operator-lock', help: 'Name of the leader-election Lease' },
  { name: 'lease-namespace', type: 'string', arg: 'NS', default: 'istio-operator', help: 'Namespace of the leader-election Lease' },
  {
    name: 'lease-duration',
    type: 'duration',
    arg: 'DURATION',
    default: '15s',
    help: 'How long a lease holds without renewal before a standby takes over',
  },
  {
    name: 'resync',
    type: 'duration',
    arg: 'DURATION',
    default: '10m',
    help: 'Re-check every IstioOperator this often even without events',
  },
  { name: 'log-level', type: 'string', arg: 'LEVEL', default: 'info', help: 'debug, info, warn or error' },
];

// The same settings as the Helm chart's values (manifests/operator/values.yaml): -f takes a values file, the
// other flags are shorthands that win over it, as `helm --set` wins over `-f`.
const MANIFEST_FLAGS: FlagSpec[] = [
  {
    name: 'namespace',
    type: 'string',
    arg: 'NS',
    default: 'istio-operator',
    help: 'Namespace of the operator (Helm: the release namespace)',
  },
  {
    name: 'name',
    type: 'string',
    arg: 'NAME',
    default: 'istio-operator',
    help: 'Name of this operator instance (Helm: the release name); cluster-scoped objects are named NAME.NAMESPACE',
  },
  {
    name: 'values',
    short: 'f',
    type: 'list',
    arg: 'FILE',
    help: 'Values file, as for the Helm chart charts/istio-operator (repeatable, later files win)',
  },
  {
    name: 'image',
    type: 'string',
    arg: 'IMAGE',
    help: 'Operator image, REPO:TAG or REPO@DIGEST (default: the published image of this version)',
  },
  { name: 'replicas', type: 'string', arg: 'N', help: 'Replicas, one leads (default 2)' },
  { name: 'concurrency', type: 'string', arg: 'N', help: 'IstioOperators reconciled in parallel (default 2)' },
  { name: 'namespaces', type: 'string', arg: 'NS[,NS]', help: 'Namespaces whose IstioOperators are watched (default: all)' },
  {
    name: 'trusted-namespaces',
    type: 'string',
    arg: 'NS[,NS]',
    help: 'Namespaces whose IstioOperators are acted on (default: NAMESPACE and istio-system)',
  },
  { name: 'crd', type: 'bool', default: true, help: 'Include the IstioOperator CRD (--crd=false to omit)' },
];

function int(v: string, flag: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new InputError([{ path: `--${flag}`, message: `"${v}" is not a valid number`, hint: `an integer >= ${min}` }]);
  return n;
}
const list = (v: unknown) =>
  typeof v === 'string' && v
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A comma list of namespace names; each must be a DNS-1123 label. */
function namespaces(v: unknown, flag: string): string[] {
  const l = list(v);
  const bad = l.filter((n) => n.length > 63 || !DNS_LABEL.test(n));
  if (bad.length)
    throw new InputError([
      {
        path: `--${flag}`,
        message: `${bad.map((b) => JSON.stringify(b)).join(', ')} is not a namespace name`,
        hint: 'comma-separated DNS-1123 labels: lower-case letters, digits and "-", at most 63 characters',
      },
    ]);
  return l;
}

/** Helm values files, merged in order as Helm merges them. */
function valuesFiles(files: string[]): Values | undefined {
  if (!files.length) return undefined;
  let v: Values = {};
  for (const f of readInputFiles(files)) {
    let doc: unknown;
    try {
      doc = yaml.load(f.text);
    } catch (e) {
      throw new InputError([{ path: `-f ${f.name}`, message: `is not valid YAML: ${(e as Error).message.split('\n')[0]}` }]);
    }
    if (doc === undefined || doc === null) continue;
    if (typeof doc !== 'object' || Array.isArray(doc))
      throw new InputError([
        { path: `-f ${f.name}`, message: 'is not a map of values', hint: "a YAML mapping, like the chart's values.yaml" },
      ]);
    v = mergeValues(v, doc as Values);
  }
  return v;
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'manifests') {
    const a = parseArgs(argv.slice(1), MANIFEST_FLAGS, 'operator manifests');
    if (a.help) {
      process.stdout.write(
        usageFor(
          'operator manifests [flags]',
          'Print the manifests that install the operator: the IstioOperator CRD, namespace, ServiceAccount, least-privilege RBAC, Lease Role, Deployment, metrics Service and the admission policy for trusted namespaces; the same objects as the Helm chart charts/istio-operator for the same values. Apply with `istio-operator operator manifests | kubectl apply --server-side -f -`.',
          MANIFEST_FLAGS,
        ),
      );
      return 0;
    }
    if (a.positional.length)
      throw new InputError([
        { path: a.positional[0]!, message: 'unexpected argument to "operator manifests"', hint: 'flags only; see --help' },
      ]);
    const ns = namespaces(a.flags.namespace, 'namespace');
    if (ns.length !== 1)
      throw new InputError([
        { path: '--namespace', message: ns.length ? 'names more than one namespace' : 'is empty', hint: 'one namespace name' },
      ]);
    const namespace = ns[0]!;
    const name = String(a.flags.name);
    // As Helm limits release names: the Deployment, ServiceAccount and `<name>.<namespace>` derive from it.
    if (name.length > 53 || !DNS_LABEL.test(name))
      throw new InputError([
        {
          path: '--name',
          message: `${JSON.stringify(name)} is not a valid instance name`,
          hint: 'a DNS-1123 label of at most 53 characters: lower-case letters, digits and "-"',
        },
      ]);
    const values = valuesFiles(a.flags.values);
    const objects = operatorManifests({
      namespace,
      name,
      ...(values ? { values } : {}),
      ...(a.flags.image ? { image: a.flags.image } : {}),
      ...(a.flags.replicas !== undefined ? { replicas: int(a.flags.replicas, 'replicas', 1) } : {}),
      ...(a.flags.concurrency !== undefined ? { concurrency: int(a.flags.concurrency, 'concurrency', 1) } : {}),
      watchNamespaces: namespaces(a.flags.namespaces, 'namespaces'),
      trustedNamespaces: namespaces(a.flags['trusted-namespaces'], 'trusted-namespaces'),
      includeCRD: a.flags.crd,
    });
    await writeYamlStream(objects);
    return 0;
  }
  const a = parseArgs(argv, RUN_FLAGS, 'operator');
  if (a.help || a.positional.length) {
    const text = usageFor(
      'operator [flags] | operator manifests [flags]',
      'Run the controller that reconciles IstioOperator resources: render, apply what differs, prune, report status. Stops cleanly on SIGTERM (finishes the in-flight apply, releases the lease).',
      RUN_FLAGS,
    );
    if (a.positional.length) {
      process.stderr.write(`error: unknown argument "${a.positional[0]}" (valid: manifests)\n\n${text}`);
      return 1;
    }
    process.stdout.write(text);
    return 0;
  }
  // Loaded here so `operator manifests` does not pull the controller's dependencies.
  const { Manager } = await import('../controller/manager.js');
  const { jsonLogger } = await import('../controller/log.js');
  const { parseAddr } = await import('../controller/metrics.js');
  // In a pod the chart's Service and probes expect :8080/:8081. Run on a workstation, fixed ports collide with
  // whatever else listens there (8080 is everyone's default), so the default is a free loopback port, logged.
  const inPod = !!process.env.KUBERNETES_SERVICE_HOST;
  const addr = (v: string | undefined, podDefault: string, flag: string) => {
    const a = v ?? (inPod ? podDefault : '127.0.0.1:0');
    if (a === '0' || a === '') return undefined;
    try {
      parseAddr(a, flag);
    } catch (e) {
      throw new InputError([
        {
          path: flag,
          message: `"${a}" is not a listen address`,
          hint: '[HOST]:PORT with a port from 0 to 65535, e.g. :8080, 127.0.0.1:0 (a free port) or 0 (disabled)',
        },
      ]);
    }
    return a;
  };
  const level = a.flags['log-level'];
  if (!['debug', 'info', 'warn', 'error'].includes(level))
    throw new InputError([{ path: '--log-level', message: `unknown level "${level}"`, hint: 'one of: debug, info, warn, error' }]);
  const log = jsonLogger({ level });
  // Trust is the operator's own namespace by default: from the downward API in a pod, else where its lease lives.
  const ownNamespace = process.env.POD_NAMESPACE || a.flags['lease-namespace'];
  const trusted = namespaces(a.flags['trusted-namespaces'], 'trusted-namespaces');
  const trustedNamespaces = trusted.length ? trusted : [...new Set([ownNamespace, 'istio-system'])];
  const opts: ConstructorParameters<typeof Manager>[0] = {
    kubeconfig: a.flags.kubeconfig,
    context: a.flags.context,
    namespaces: namespaces(a.flags.namespaces, 'namespaces'),
    trustedNamespaces,
    concurrency: int(a.flags.concurrency, 'concurrency', 1),
    metricsAddr: addr(a.flags['metrics-addr'], ':8080', '--metrics-addr'),
    healthAddr: addr(a.flags['health-addr'], ':8081', '--health-addr'),
    leaderElect: a.flags['leader-elect'],
    leaseName: a.flags['lease-name'],
    leaseNamespace: a.flags['lease-namespace'],
    leaseDurationMs: a.flags['lease-duration'],
    resyncMs: a.flags.resync,
    log,
  };
  const mgr = new Manager(opts);
  let signals = 0;
  const onSignal = (sig: string) => {
    // A second signal means "now": the in-flight apply is abandoned (SSA is idempotent, the next leader redoes it).
    if (++signals > 1) process.exit(1);
    log('info', 'signal received, finishing in-flight work', { signal: sig });
    void mgr.stop(sig);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  await mgr.start();
  const why = await mgr.stopped;
  // Lost leadership is not a clean exit: the pod restarts and campaigns again, as client-go controllers do.
  return why === 'lost leadership' ? 1 : 0;
}

/** What `completion` offers after this command (completion.ts). */
export const completion = { subcommands: ['manifests'], flags: [...RUN_FLAGS, ...MANIFEST_FLAGS] };
