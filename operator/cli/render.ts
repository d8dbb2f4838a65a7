import fs from 'node:fs';
import { InputError, formatWarning, type FieldIssue } from '../api/errors.js';
import { resolveIstioOperator } from '../api/resolve.js';
import { render } from '../render/index.js';
import { LABEL_COMPONENT } from '../render/labels.js';
import { COMPONENTS } from '../render/context.js';
import { toYamlStream } from '../render/serialize.js';
import { withSyncWaves } from '../render/syncwave.js';

// `istio-operator render`: argument parsing and printing only. Everything is rendered before anything is
// written, so an error leaves stdout empty and the exit code 1.

export const summary = 'Render the manifests of an IstioOperator, offline, as multi-document YAML';

export const help = `Usage: istio-operator render [-f FILE]... [--set PATH=VALUE]... [--revision R] [--force] [--component NAME] [--sync-waves=false]

Renders what install would apply, in apply order, as multi-document YAML on stdout. Warnings go to stderr.

Flags:
  -f, --filename FILE   IstioOperator file; repeatable, later files win; "-" reads stdin
  -s, --set PATH=VALUE  override one field, as istioctl: values.global.proxy.resources.requests.cpu=100m,
                        components.ingressGateways.[name:istio-ingressgateway].k8s.replicaCount=3,
                        meshConfig.accessLogFile=/dev/stdout, profile=demo, hub=..., tag=...; repeatable
  -r, --revision R      control-plane revision (overrides spec.revision)
      --force           render even if validation fails (errors become warnings)
      --component NAME  only this component's objects: ${Object.keys(COMPONENTS).join(', ')}
      --sync-waves=false  omit the argocd.argoproj.io/sync-wave annotations (one wave per apply stage,
                        CRDs first) that Argo CD uses to apply in order; --no-sync-waves is the same
  -h, --help            this help
`;

export interface RenderArgs {
  files: string[];
  sets: string[];
  revision?: string;
  force: boolean;
  component?: string;
  /** Annotate objects with Argo CD sync waves (default on; the apply path never adds them). */
  syncWaves: boolean;
  help: boolean;
}

/** Parses the flags of `render`. Throws InputError naming the flag for anything it cannot use. */
export function parseRenderArgs(argv: string[]): RenderArgs {
  const out: RenderArgs = { files: [], sets: [], force: false, syncWaves: true, help: false };
  const issues: FieldIssue[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const takeValue = (): string | undefined => {
      if (eq > 0) return a.slice(eq + 1);
      const v = argv[i + 1];
      if (v === undefined || (v.startsWith('-') && v !== '-')) {
        issues.push({ path: flag, message: 'needs a value' });
        return undefined;
      }
      i++;
      return v;
    };
    switch (flag) {
      case '-f':
      case '--filename': {
        const v = takeValue();
        if (v !== undefined) out.files.push(v);
        break;
      }
      case '-s':
      case '--set': {
        const v = takeValue();
        if (v !== undefined) out.sets.push(v);
        break;
      }
      case '-r':
      case '--revision': {
        const v = takeValue();
        if (v !== undefined) out.revision = v;
        break;
      }
      case '--component': {
        const v = takeValue();
        if (v !== undefined) out.component = v;
        break;
      }
      case '--force':
        out.force = true;
        break;
      case '--sync-waves': {
        const v = eq > 0 ? a.slice(eq + 1) : 'true';
        if (/^(true|1|yes)$/i.test(v)) out.syncWaves = true;
        else if (/^(false|0|no)$/i.test(v)) out.syncWaves = false;
        else issues.push({ path: flag, message: `${JSON.stringify(v)} is not a boolean`, hint: '--sync-waves=true or --sync-waves=false' });
        break;
      }
      case '--no-sync-waves':
        out.syncWaves = false;
        break;
      case '-h':
      case '--help':
        out.help = true;
        break;
      default:
        issues.push({ path: a, message: a.startsWith('-') ? 'unknown flag' : 'unexpected argument', hint: 'flags: -f, --set, --revision, --force, --component, --sync-waves, --help' });
    }
  }
  if (issues.length) throw new InputError(issues);
  return out;
}

/** The component key for a --component value: the spec key (`pilot`) or the label value (`Pilot`), any case. */
export function componentLabel(name: string): string {
  const n = name.toLowerCase();
  for (const [key, label] of Object.entries(COMPONENTS)) if (key.toLowerCase() === n || label.toLowerCase() === n) return label;
  throw new InputError([{ path: '--component', message: `unknown component "${name}"`, hint: `one of: ${Object.keys(COMPONENTS).join(', ')}` }]);
}

function readInput(file: string): { name: string; text: string } {
  try {
    return file === '-' ? { name: '<stdin>', text: fs.readFileSync(0, 'utf8') } : { name: file, text: fs.readFileSync(file, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError([{ path: `-f ${file}`, message: `cannot read ${file === '-' ? 'stdin' : 'file'}: ${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message}` }]);
  }
}

export async function run(argv: string[]): Promise<number> {
  const args = parseRenderArgs(argv);
  if (args.help) {
    process.stdout.write(help);
    return 0;
  }
  const only = args.component === undefined ? undefined : componentLabel(args.component);
  const files = args.files.map(readInput);
  const resolved = resolveIstioOperator({ files, sets: args.sets, revision: args.revision, force: args.force });
  const result = render(resolved.iop);
  const objects = only ? result.objects.filter((o) => o.metadata.labels?.[LABEL_COMPONENT] === only) : result.objects;
  const text = toYamlStream(args.syncWaves ? withSyncWaves(objects) : objects);
  for (const w of [...resolved.warnings, ...result.warnings]) process.stderr.write(`warning: ${formatWarning(w)}\n`);
  // A reader that stops early (`render | head`) is not an error of ours.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  await new Promise<void>((resolve) => process.stdout.write(text, () => resolve()));
  return 0;
}
