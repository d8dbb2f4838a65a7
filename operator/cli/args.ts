import fs from 'node:fs';
import { InputError } from '../api/errors.js';
import { parseDuration as parseDurationField } from '../api/duration.js';

// A small flag parser shared by every command, with istioctl/kubectl spellings:
//   -f a.yaml -f b.yaml | --filename=a.yaml   --set k=v -s k=v   --revision R | -r R
//   --dry-run | --dry-run=false   --wait=false   --timeout 5m   -y   positional args   `--` ends flags.
// Unknown flags are errors that list the valid ones: a typo must never be silently read as a positional.

export type FlagType = 'string' | 'bool' | 'list' | 'duration';

export interface FlagSpec {
  /** Long name without dashes, e.g. `filename`. The parsed value is stored under this name. */
  name: string;
  short?: string;
  type: FlagType;
  help: string;
  /** Bool default is false, list default is [], others undefined unless given. */
  default?: string | boolean | number;
  /** Placeholder shown in help, e.g. FILE. */
  arg?: string;
}

export type FlagValue = string | boolean | number | string[] | undefined;

/**
 * Parsed flags by name. Each value has the type its FlagSpec declares (list: string[], bool: boolean, duration: ms,
 * string: string), which commands rely on when they read them.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the type per flag follows its FlagSpec; typing each command's flags from its specs is still to do (52 reads)
export type Flags = Record<string, any>;

export interface ParsedArgs {
  flags: Flags;
  positional: string[];
  /** True when -h/--help was given (commands print their usage and return 0). */
  help: boolean;
}

// The flags most commands share; a command picks the ones it accepts.
export const FLAGS = {
  filename: {
    name: 'filename',
    short: 'f',
    type: 'list',
    arg: 'FILE',
    help: 'IstioOperator file to merge over the profile (repeatable, in order; "-" reads stdin)',
  },
  set: {
    name: 'set',
    short: 's',
    type: 'list',
    arg: 'PATH=VALUE',
    help: 'Override one field, e.g. values.global.proxy.resources.requests.cpu=100m (repeatable)',
  },
  revision: { name: 'revision', short: 'r', type: 'string', arg: 'REV', help: 'Control plane revision (a DNS-1123 label)' },
  release: {
    name: 'release',
    type: 'string',
    arg: 'VERSION',
    help: "Istio release whose manifests to render (1.29, 1.30, 1.31 or a patch such as 1.30.3): needed when the tag is a digest or a custom build; default: the tag's release",
  },
  force: { name: 'force', type: 'bool', help: 'Proceed even if spec.values has validation errors (they become warnings)' },
  kubeconfig: { name: 'kubeconfig', type: 'string', arg: 'PATH', help: 'Path to the kubeconfig file' },
  context: { name: 'context', type: 'string', arg: 'NAME', help: 'Kubeconfig context to use' },
  dryRun: { name: 'dry-run', type: 'bool', help: 'Show what would change; write nothing' },
  wait: { name: 'wait', type: 'bool', default: true, help: 'Wait for the installed resources to become ready (--wait=false to skip)' },
  timeout: { name: 'timeout', type: 'duration', default: '5m', arg: 'DURATION', help: 'How long to wait, e.g. 90s, 5m, 1h' },
  yes: { name: 'yes', short: 'y', type: 'bool', help: 'Do not ask for confirmation' },
  takeOver: {
    name: 'take-over',
    type: 'bool',
    help: 'Act on an install the operator manages through an IstioOperator (it will put its own spec back)',
  },
} satisfies Record<string, FlagSpec>;

function flagLabel(s: FlagSpec): string {
  return `${s.short ? `-${s.short}, ` : ''}--${s.name}${s.type === 'bool' ? '' : ` ${s.arg ?? 'VALUE'}`}`;
}

/** Parse `argv` against `specs`. Values of list flags are arrays, durations are milliseconds. */
export function parseArgs(argv: string[], specs: FlagSpec[], command = ''): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags: Flags = {};
  for (const s of specs) {
    if (s.type === 'list') flags[s.name] = [];
    else if (s.type === 'bool') flags[s.name] = s.default ?? false;
    else if (s.type === 'duration' && s.default !== undefined) flags[s.name] = parseDuration(String(s.default), `--${s.name}`);
    else if (s.default !== undefined) flags[s.name] = s.default;
  }
  const positional: string[] = [];
  let help = false;

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a === '-h' || a === '--help') {
      help = true;
      continue;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    let spec: FlagSpec | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq >= 0 ? a.slice(eq + 1) : undefined;
      spec = byLong.get(name);
    } else {
      // -f value, -f=value, or -fvalue
      name = a.slice(1, 2);
      const rest = a.slice(2);
      inline = rest === '' ? undefined : rest.startsWith('=') ? rest.slice(1) : rest;
      spec = byShort.get(name);
    }
    if (!spec) {
      const valid = specs.map(flagLabel).concat('-h, --help');
      throw new InputError([
        {
          path: a.split('=')[0],
          message: command ? `unknown flag for "${command}"` : 'unknown flag',
          hint: `valid flags: ${valid.join('; ')}`,
        },
      ]);
    }
    const flag = `--${spec.name}`;
    if (spec.type === 'bool') {
      if (inline === undefined) flags[spec.name] = true;
      else if (/^(true|1|yes)$/i.test(inline)) flags[spec.name] = true;
      else if (/^(false|0|no)$/i.test(inline)) flags[spec.name] = false;
      else
        throw new InputError([
          { path: flag, message: `${JSON.stringify(inline)} is not a boolean`, hint: `${flag}, ${flag}=true or ${flag}=false` },
        ]);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new InputError([{ path: flag, message: `needs a value`, hint: flagLabel(spec) }]);
      value = argv[++i];
    }
    if (spec.type === 'list') flags[spec.name].push(value);
    else if (spec.type === 'duration') flags[spec.name] = parseDuration(value, flag);
    else flags[spec.name] = value;
  }
  return { flags, positional, help };
}

/** Flags take the project's durations; a bare number means seconds, as kubectl's --timeout does. */
export function parseDuration(text: string, flag = 'duration'): number {
  return parseDurationField(text, flag, { bareSeconds: true });
}

/** Read the files of -f (a "-" reads stdin once). Errors name the flag and the file. */
export function readInputFiles(names: string[]): Array<{ name: string; text: string }> {
  return names.map((name) => {
    try {
      return { name, text: fs.readFileSync(name === '-' ? 0 : name, 'utf8') };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new InputError([
        { path: `-f ${name}`, message: code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? (e as Error).message})` },
      ]);
    }
  });
}

/** Help text for a command: usage line, summary and aligned flags. */
export function usageFor(usage: string, summary: string, specs: FlagSpec[]): string {
  const rows = specs.map((s) => [
    flagLabel(s),
    s.help + (s.default !== undefined && s.type !== 'bool' ? ` (default ${s.default})` : s.default === true ? ' (default true)' : ''),
  ]);
  rows.push(['-h, --help', 'Show this help']);
  const w = Math.max(...rows.map((r) => r[0].length));
  return [`Usage: istio-operator ${usage}`, '', summary, '', 'Flags:', ...rows.map(([l, h]) => `  ${l.padEnd(w)}  ${h}`), ''].join('\n');
}

/** `-o/--output` of every read command: text (the default, for people), json or yaml (for scripts). */
export const OUTPUT_FLAG: FlagSpec = {
  name: 'output',
  short: 'o',
  type: 'string',
  arg: 'FORMAT',
  help: 'text, json or yaml',
  default: 'text',
};
export type OutputFormat = 'text' | 'json' | 'yaml';

export function outputFormat(v: unknown): OutputFormat {
  if (v === 'text' || v === 'json' || v === 'yaml') return v;
  throw new InputError([{ path: '--output', message: `unknown format ${JSON.stringify(v)}`, hint: 'text, json or yaml' }]);
}

/** Prints `data` as JSON or YAML; returns false for text, which the command prints itself. */
export async function printStructured(format: OutputFormat, data: unknown): Promise<boolean> {
  if (format === 'json') process.stdout.write(JSON.stringify(data, null, 2) + '\n');
  else if (format === 'yaml') {
    const yaml = (await import('js-yaml')).default;
    process.stdout.write(yaml.dump(data, { noRefs: true, lineWidth: -1 }));
  } else return false;
  return true;
}

/** Aligned columns, the last one unpadded. */
export function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}
