import { InputError, formatWarning } from '../api/errors.js';
import { resolveIstioOperator } from '../api/resolve.js';
import { render } from '../render/index.js';

import { COMPONENTS } from '../render/context.js';
import { writeYamlStream } from './stdout.js';
import { withSyncWaves } from '../render/syncwave.js';
import { FLAGS, parseArgs, readInputFiles, usageFor, type FlagSpec } from './args.js';
import { LABEL_COMPONENT } from '../api/labels.js';

// `istio-operator render`: argument parsing and printing only. Everything is rendered before anything is
// written, so an error leaves stdout empty and the exit code 1.

export const summary = 'Render the manifests of an IstioOperator, offline, as multi-document YAML';

const specs: FlagSpec[] = [
  FLAGS.filename,
  {
    ...FLAGS.set,
    help:
      'Override one field, as istioctl: values.global.proxy.resources.requests.cpu=100m, ' +
      'components.ingressGateways.[name:istio-ingressgateway].k8s.replicaCount=3, meshConfig.accessLogFile=/dev/stdout, ' +
      'profile=demo, hub=..., tag=... (repeatable, in order)',
  },
  FLAGS.revision,
  FLAGS.release,
  FLAGS.force,
  { name: 'component', type: 'string', arg: 'NAME', help: `Only this component's objects: ${Object.keys(COMPONENTS).join(', ')}` },
  {
    name: 'sync-waves',
    type: 'bool',
    default: true,
    help: 'Annotate objects with argocd.argoproj.io/sync-wave, one wave per apply stage (CRDs first), so Argo CD applies in order; --sync-waves=false omits them',
  },
  { name: 'no-sync-waves', type: 'bool', help: 'Same as --sync-waves=false' },
];

export const help = usageFor(
  'render [-f FILE]... [--set PATH=VALUE]... [--revision R] [--force] [--component NAME] [--sync-waves=false]',
  'Renders what install would apply, in apply order, as multi-document YAML on stdout. Warnings go to stderr.',
  specs,
);

/** The `operator.istio.io/component` label for a --component value: the spec key (`pilot`) or the label (`Pilot`), any case. */
export function componentLabel(name: string): string {
  const n = name.toLowerCase();
  for (const [key, label] of Object.entries(COMPONENTS)) if (key.toLowerCase() === n || label.toLowerCase() === n) return label;
  throw new InputError([
    { path: '--component', message: `unknown component "${name}"`, hint: `one of: ${Object.keys(COMPONENTS).join(', ')}` },
  ]);
}

export async function run(argv: string[]): Promise<number> {
  const { flags, positional, help: wantHelp } = parseArgs(argv, specs, 'render');
  if (wantHelp) {
    process.stdout.write(help);
    return 0;
  }
  if (positional.length) {
    throw new InputError([
      { path: positional[0], message: 'unexpected argument', hint: 'input files go with -f FILE (or -f - for stdin)' },
    ]);
  }
  const only = flags.component === undefined ? undefined : componentLabel(flags.component);
  const files = readInputFiles(flags.filename);
  const resolved = resolveIstioOperator({
    files,
    sets: flags.set,
    ...(flags.revision !== undefined ? { revision: flags.revision } : {}),
    ...(flags.release ? { release: flags.release } : {}),
    force: flags.force,
  });
  const result = render(resolved.install);
  const objects = only ? result.objects.filter((o) => o.metadata.labels?.[LABEL_COMPONENT] === only) : result.objects;
  const syncWaves = flags['sync-waves'] && !flags['no-sync-waves'];
  for (const w of [...resolved.warnings, ...result.warnings]) process.stderr.write(`warning: ${formatWarning(w)}\n`);
  await writeYamlStream(syncWaves ? withSyncWaves(objects) : objects);
  return 0;
}

/** What `completion` offers after this command (completion.ts). */
export const completion = { flags: specs };
