import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Issue #18 item 5: shell completion for bash, zsh and fish, generated from the commands' own flag tables, run in
// the real shells: the completion function is asked for candidates as the shell would ask it.

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/istio-operator.js');
const script = (shell: string) => execFileSync(process.execPath, [BIN, 'completion', shell], { encoding: 'utf8' });
const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

function bashComplete(words: string[]): string[] {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'compl-')), 'c.bash');
  fs.writeFileSync(file, script('bash'));
  const arr = words.map((w) => `'${w}'`).join(' ');
  const out = execFileSync(
    'bash',
    [
      '-c',
      `source ${file}; complete -p istio-operator >&2; COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _istio_operator; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean);
}

test('bash: `complete -p istio-operator` is registered; subcommands, per-command flags, subcommands of subcommands and flag values complete', (t) => {
  const reg = spawnSync('bash', ['-c', `source <(${process.execPath} ${BIN} completion bash); complete -p istio-operator`], {
    encoding: 'utf8',
  });
  t.is(reg.status, 0, reg.stderr);
  t.regex(reg.stdout, /complete -o default -F _istio_operator istio-operator/);
  t.deepEqual(bashComplete(['istio-operator', '']).sort(), [
    'ca',
    'completion',
    'diff',
    'install',
    'migrate',
    'operator',
    'precheck',
    'profile',
    'remote-secret',
    'render',
    'status',
    'tag',
    'uninstall',
    'upgrade',
    'version',
  ]);
  t.deepEqual(bashComplete(['istio-operator', 'pre']), ['precheck']);
  t.deepEqual(bashComplete(['istio-operator', 'precheck', '--k']), ['--kubernetes-version', '--kubeconfig']);
  t.deepEqual(bashComplete(['istio-operator', 'status', '-o', '']), ['text', 'json', 'yaml']);
  t.deepEqual(bashComplete(['istio-operator', 'tag', '']), ['set', 'list', 'remove']);
  t.deepEqual(
    bashComplete(['istio-operator', 'tag', '--revision', 'x', '']),
    ['set', 'list', 'remove'],
    'a flag value is not the subcommand',
  );
  t.deepEqual(bashComplete(['istio-operator', 'completion', '']), ['bash', 'zsh', 'fish']);
  t.false(bashComplete(['istio-operator', 'version', '--']).includes('--kubeconfig'), 'only the flags version takes');
});

test('zsh: the script defines _istio_operator and registers it with compdef; zsh parses it', (t) => {
  const s = script('zsh');
  t.regex(s, /^#compdef istio-operator/);
  t.regex(s, /compdef _istio_operator istio-operator/);
  t.regex(s, /precheck\) opts=\('--filename' '-f'.*'--kubernetes-version'/);
  t.regex(s, /'status:List every Istio install/);
  if (!has('zsh')) return t.log('zsh is not installed here: the script was checked as text only');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'compl-')), '_istio-operator');
  fs.writeFileSync(file, s);
  const r = spawnSync('zsh', ['-c', `autoload -U compinit && compinit -u -D; source ${file}; print -r -- $_comps[istio-operator]`], {
    encoding: 'utf8',
  });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), '_istio_operator');
});

test('fish: subcommands and flags complete in fish', (t) => {
  const s = script('fish');
  t.regex(s, /complete -c istio-operator -n __fish_use_subcommand -a precheck/);
  t.regex(s, /-n '__fish_seen_subcommand_from status' -l output -s o -x -a 'text json yaml'/);
  if (!has('fish')) return t.log('fish is not installed here: the script was checked as text only');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'compl-')), 'c.fish');
  fs.writeFileSync(file, s);
  const ask = (line: string) =>
    spawnSync('fish', ['-c', `source ${file}; complete -C '${line}'`], { encoding: 'utf8' })
      .stdout.split('\n')
      .map((l) => l.split('\t')[0])
      .filter(Boolean);
  t.true(ask('istio-operator pre').includes('precheck'));
  t.deepEqual(ask('istio-operator status --output ').sort(), ['json', 'text', 'yaml']);
  t.true(ask('istio-operator precheck --kube').includes('--kubernetes-version'));
  t.true(ask('istio-operator tag ').includes('remove'));
});

test('completion: a missing or unknown shell is an input error', (t) => {
  const r = spawnSync(process.execPath, [BIN, 'completion', 'tcsh'], { encoding: 'utf8' });
  t.is(r.status, 1);
  t.regex(r.stderr, /unknown shell "tcsh" \(bash, zsh or fish\)/);
  t.is(r.stdout, '');
});
