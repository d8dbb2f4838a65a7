import { InputError } from '../api/errors.js';
import { commands } from './main.js';
import { parseArgs, usageFor, type FlagSpec } from './args.js';

// `istio-operator completion bash|zsh|fish`: a completion script generated from the commands' own flag tables
// (each command module exports `completion`), so it can never list a flag a command does not take.
//   bash: source <(istio-operator completion bash)     zsh: source <(istio-operator completion zsh)
//   fish: istio-operator completion fish | source

export const summary = 'Print a shell completion script: completion bash|zsh|fish';

const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

interface CommandCompletion {
  name: string;
  summary: string;
  subcommands: string[];
  flags: FlagSpec[];
}

/** Flags whose value is a file: the shells complete file names there. */
const FILE_FLAGS = new Set(['filename', 'kubeconfig', 'values']);
const VALUES: Record<string, string[]> = { output: ['text', 'json', 'yaml'], 'log-level': ['debug', 'info', 'warn', 'error'] };

export async function completionTable(): Promise<CommandCompletion[]> {
  const out: CommandCompletion[] = [];
  for (const [name, text] of Object.entries(commands)) {
    if (name === 'completion') {
      out.push({ name, summary: text, subcommands: [...SHELLS], flags: [] });
      continue;
    }
    const mod = (await import(`./${name}.js`)) as { completion?: { subcommands?: string[]; flags: FlagSpec[] } };
    const seen = new Set<string>();
    const flags = (mod.completion?.flags ?? []).filter((f) => !seen.has(f.name) && seen.add(f.name));
    out.push({ name, summary: text, subcommands: mod.completion?.subcommands ?? [], flags });
  }
  return out;
}

const flagWords = (c: CommandCompletion) => [...c.flags.flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]), '--help'];
const takesValue = (all: CommandCompletion[]) => [
  ...new Set(
    all.flatMap((c) => c.flags.filter((f) => f.type !== 'bool').flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])])),
  ),
];
const fileFlags = (all: CommandCompletion[]) => [
  ...new Set(
    all.flatMap((c) => c.flags.filter((f) => FILE_FLAGS.has(f.name)).flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])])),
  ),
];
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function bashScript(all: CommandCompletion[]): string {
  const cases = all.map((c) => `    ${c.name}) opts=${q(flagWords(c).join(' '))}; subs=${q(c.subcommands.join(' '))} ;;`).join('\n');
  const valueCases = Object.entries(VALUES)
    .map(([f, v]) => `    --${f}${f === 'output' ? '|-o' : ''}) COMPREPLY=( $(compgen -W ${q(v.join(' '))} -- "$cur") ); return ;;`)
    .join('\n');
  return `# bash completion for istio-operator. Load it with: source <(istio-operator completion bash)
_istio_operator() {
  local cur prev cmd opts subs i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  COMPREPLY=()
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( $(compgen -W ${q(all.map((c) => c.name).join(' '))} -- "$cur") )
    return
  fi
  cmd="\${COMP_WORDS[1]}"
  case "$prev" in
    ${fileFlags(all).join('|')}) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
${valueCases}
    --context) COMPREPLY=( $(compgen -W "$(kubectl config get-contexts -o name 2>/dev/null)" -- "$cur") ); return ;;
  esac
  case "$cmd" in
${cases}
    *) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
    return
  fi
  # The subcommand is the first word after the command that is not a flag or a flag's value.
  if [[ -n "$subs" ]]; then
    local have=""
    for (( i=2; i<COMP_CWORD; i++ )); do
      case "\${COMP_WORDS[i]}" in
        -*) ;;
        *) [[ ${q(` ${takesValue(all).join(' ')} `)} == *" \${COMP_WORDS[i-1]} "* ]] || have=1 ;;
      esac
    done
    if [[ -z "$have" ]]; then
      COMPREPLY=( $(compgen -W "$subs" -- "$cur") )
      return
    fi
  fi
  COMPREPLY=( $(compgen -f -- "$cur") )
}
complete -o default -F _istio_operator istio-operator
`;
}

export function zshScript(all: CommandCompletion[]): string {
  const desc = (s: string) => s.replace(/[:'\n]/g, ' ');
  const cmds = all.map((c) => `    ${q(`${c.name}:${desc(c.summary)}`)}`).join('\n');
  const cases = all
    .map((c) => `    ${c.name}) opts=(${flagWords(c).map(q).join(' ')}); subs=(${c.subcommands.map(q).join(' ')}) ;;`)
    .join('\n');
  const valueCases = Object.entries(VALUES)
    .map(([f, v]) => `    --${f}${f === 'output' ? '|-o' : ''}) compadd -- ${v.join(' ')}; return ;;`)
    .join('\n');
  return `#compdef istio-operator
# zsh completion for istio-operator. Load it with: source <(istio-operator completion zsh)
# (or save it as _istio-operator in a folder of $fpath).
_istio_operator() {
  local -a cmds opts subs
  cmds=(
${cmds}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' cmds
    return
  fi
  case \${words[CURRENT-1]} in
    ${fileFlags(all).join('|')}) _files; return ;;
${valueCases}
  esac
  case \${words[2]} in
${cases}
    *) return 1 ;;
  esac
  if [[ \${words[CURRENT]} == -* ]]; then
    compadd -- $opts
  elif (( CURRENT == 3 && \${#subs} )); then
    compadd -- $subs
  else
    _files
  fi
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _istio_operator "$@"
else
  compdef _istio_operator istio-operator
fi
`;
}

export function fishScript(all: CommandCompletion[]): string {
  const desc = (s: string) => q(s.replace(/\n/g, ' '));
  const lines = [
    '# fish completion for istio-operator. Load it with: istio-operator completion fish | source',
    'complete -c istio-operator -f',
    ...all.map((c) => `complete -c istio-operator -n __fish_use_subcommand -a ${c.name} -d ${desc(c.summary)}`),
  ];
  for (const c of all) {
    const when = `'__fish_seen_subcommand_from ${c.name}'`;
    if (c.subcommands.length) lines.push(`complete -c istio-operator -n ${when} -a ${q(c.subcommands.join(' '))}`);
    for (const f of c.flags) {
      const value =
        f.type === 'bool' ? '' : FILE_FLAGS.has(f.name) ? ' -r -F' : VALUES[f.name] ? ` -x -a ${q(VALUES[f.name]!.join(' '))}` : ' -x';
      lines.push(
        `complete -c istio-operator -n ${when} -l ${f.name}${f.short ? ` -s ${f.short}` : ''}${value} -d ${desc(f.help.split(/[.;(]/)[0]!.trim())}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const { positional, help } = parseArgs(argv, [], 'completion');
  if (help) {
    process.stdout.write(
      usageFor(
        'completion bash|zsh|fish',
        `${summary}.\n\n  bash:  source <(istio-operator completion bash)     (or save it in /etc/bash_completion.d/)\n  zsh:   source <(istio-operator completion zsh)      (or save it as _istio-operator in $fpath)\n  fish:  istio-operator completion fish | source      (or save it in ~/.config/fish/completions/)`,
        [],
      ),
    );
    return 0;
  }
  const [shell, ...extra] = positional;
  if (!shell || !SHELLS.includes(shell as Shell))
    throw new InputError([
      { path: 'completion', message: shell ? `unknown shell "${shell}"` : 'missing the shell', hint: 'bash, zsh or fish' },
    ]);
  if (extra.length) throw new InputError([{ path: extra[0]!, message: 'unexpected argument', hint: 'completion bash|zsh|fish' }]);
  const all = await completionTable();
  process.stdout.write(shell === 'bash' ? bashScript(all) : shell === 'zsh' ? zshScript(all) : fishScript(all));
  return 0;
}
