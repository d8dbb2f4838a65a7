import { InputError } from '../api/errors.js';
import { operatorManifests } from '../controller/selfmanifests.js';
import { toYamlStream } from '../render/serialize.js';
import { FLAGS, parseArgs, usageFor, type FlagSpec } from './args.js';

// `istio-operator operator`: run the controller, or print its own manifests. Parsing and printing only.

export const summary = 'Run the operator, or print its own manifests';

const RUN_FLAGS: FlagSpec[] = [
  FLAGS.kubeconfig,
  FLAGS.context,
  { name: 'namespaces', type: 'string', arg: 'NS[,NS]', help: 'Namespaces whose IstioOperators are reconciled (default: all)' },
  { name: 'concurrency', type: 'string', arg: 'N', default: '2', help: 'IstioOperators reconciled in parallel' },
  { name: 'metrics-addr', type: 'string', arg: 'ADDR', default: ':8080', help: 'Prometheus /metrics address ("0" disables)' },
  { name: 'health-addr', type: 'string', arg: 'ADDR', default: ':8081', help: '/healthz and /readyz address ("0" disables)' },
  { name: 'leader-elect', type: 'bool', help: 'Run only while holding a coordination.k8s.io Lease (for more than one replica)' },
  { name: 'lease-name', type: 'string', arg: 'NAME', default: 'istio-operator-lock', help: 'Name of the leader-election Lease' },
  { name: 'lease-namespace', type: 'string', arg: 'NS', default: 'istio-operator', help: 'Namespace of the leader-election Lease' },
  { name: 'lease-duration', type: 'duration', arg: 'DURATION', default: '15s', help: 'How long a lease holds without renewal before a standby takes over' },
  { name: 'resync', type: 'duration', arg: 'DURATION', default: '10m', help: 'Re-check every IstioOperator this often even without events' },
  { name: 'log-level', type: 'string', arg: 'LEVEL', default: 'info', help: 'debug, info, warn or error' },
];

const MANIFEST_FLAGS: FlagSpec[] = [
  { name: 'namespace', type: 'string', arg: 'NS', default: 'istio-operator', help: 'Namespace of the operator' },
  { name: 'image', type: 'string', arg: 'IMAGE', help: 'Operator image' },
  { name: 'replicas', type: 'string', arg: 'N', default: '2', help: 'Replicas (one leads)' },
  { name: 'concurrency', type: 'string', arg: 'N', default: '2', help: 'IstioOperators reconciled in parallel' },
  { name: 'namespaces', type: 'string', arg: 'NS[,NS]', help: 'Namespaces whose IstioOperators are reconciled (default: all)' },
  { name: 'crd', type: 'bool', default: true, help: 'Include the IstioOperator CRD (--crd=false to omit)' },
];

function int(v: string, flag: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InputError([{ path: `--${flag}`, message: `"${v}" is not a valid number`, hint: `an integer >= ${min}` }]);
  return n;
}
const list = (v: unknown) => (typeof v === 'string' && v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'manifests') {
    const a = parseArgs(argv.slice(1), MANIFEST_FLAGS, 'operator manifests');
    if (a.help) {
      process.stdout.write(usageFor('operator manifests [flags]', 'Print the manifests that install the operator: the IstioOperator CRD, namespace, ServiceAccount, least-privilege RBAC, Lease Role, Deployment and metrics Service. Apply with `istio-operator operator manifests | kubectl apply -f -`.', MANIFEST_FLAGS));
      return 0;
    }
    const objects = operatorManifests({
      namespace: a.flags.namespace,
      ...(a.flags.image ? { image: a.flags.image } : {}),
      replicas: int(a.flags.replicas, 'replicas', 1),
      concurrency: int(a.flags.concurrency, 'concurrency', 1),
      watchNamespaces: list(a.flags.namespaces),
      includeCRD: a.flags.crd,
    });
    process.stdout.write(toYamlStream(objects));
    return 0;
  }
  const a = parseArgs(argv, RUN_FLAGS, 'operator');
  if (a.help || a.positional.length) {
    const text = usageFor('operator [flags] | operator manifests [flags]', 'Run the controller that reconciles IstioOperator resources: render, apply what differs, prune, report status. Stops cleanly on SIGTERM (finishes the in-flight apply, releases the lease).', RUN_FLAGS);
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
  const addr = (v: string) => (v === '0' || v === '' ? undefined : v);
  const level = a.flags['log-level'];
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new InputError([{ path: '--log-level', message: `unknown level "${level}"`, hint: 'one of: debug, info, warn, error' }]);
  const log = jsonLogger({ level });
  const mgr = new Manager({
    kubeconfig: a.flags.kubeconfig,
    context: a.flags.context,
    namespaces: list(a.flags.namespaces),
    concurrency: int(a.flags.concurrency, 'concurrency', 1),
    metricsAddr: addr(a.flags['metrics-addr']),
    healthAddr: addr(a.flags['health-addr']),
    leaderElect: a.flags['leader-elect'],
    leaseName: a.flags['lease-name'],
    leaseNamespace: a.flags['lease-namespace'],
    leaseDurationMs: a.flags['lease-duration'],
    resyncMs: a.flags.resync,
    log,
  });
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
