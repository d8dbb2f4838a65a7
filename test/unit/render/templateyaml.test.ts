import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { resolveIstioOperator, type ResolveInput } from '../../../operator/api/resolve.js';
import { templateOutputHook } from '../../../operator/render/engine.js';
import { readTemplateYaml } from '../../../operator/render/templateyaml.js';
import { render } from '../../../operator/render/index.js';
import { packageRoot } from '../../../operator/paths.js';
import { goldenInputsDir } from '../../helpers/fixtures.js';

// readTemplateYaml reads the templates' output instead of js-yaml, for speed. Whatever it accepts it must read exactly
// as js-yaml does (same values, same key order, same types); anything else it must leave to js-yaml (undefined).

/** Equal as js-yaml's results are compared: same types, numbers by Object.is, same own keys in the same order. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a === 'number') return Object.is(a, b);
  if (a === null || b === null || typeof a !== 'object') return a === b;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => same(x, (b as unknown[])[i]));
  const ka = Reflect.ownKeys(a);
  const kb = Reflect.ownKeys(b as object);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same((a as any)[k], (b as any)[k]));
}

/** js-yaml's documents, without the empty ones (a template's comment-only output), which renderTemplate drops too. */
const reference = (text: string) => yaml.loadAll(text).filter((d) => d !== null);

type Verdict = 'same' | 'left to js-yaml' | string;
function compare(text: string): Verdict {
  const fast = readTemplateYaml(text);
  if (fast === undefined) return 'left to js-yaml';
  let ref: unknown[];
  try {
    ref = reference(text);
  } catch (e) {
    return `accepted what js-yaml rejects (${(e as Error).message.split('\n')[0]})`;
  }
  return same(fast, ref) ? 'same' : `read differently: ${JSON.stringify(fast)} vs ${JSON.stringify(ref)}`;
}

/** Every template's output for the built-in profiles and the golden inputs. */
function templateOutputs(): Array<{ template: string; text: string }> {
  const out: Array<{ template: string; text: string }> = [];
  const inputs: ResolveInput[] = fs
    .readdirSync(path.join(packageRoot, 'profiles'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => ({ sets: [`profile=${f.slice(0, -5)}`] }));
  const golden = goldenInputsDir();
  if (fs.existsSync(golden)) {
    for (const f of fs.readdirSync(golden).sort())
      inputs.push({ files: [{ name: f, text: fs.readFileSync(path.join(golden, f), 'utf8') }] });
  }
  templateOutputHook.onText = (template, text) => out.push({ template, text });
  try {
    for (const input of inputs) {
      try {
        render(resolveIstioOperator(input).install);
      } catch {
        // Inputs the API rejects render nothing.
      }
    }
  } finally {
    templateOutputHook.onText = undefined;
  }
  return out;
}

const outputs = templateOutputs();

test('every template output of the profiles and golden inputs is read here, exactly as js-yaml reads it', (t) => {
  t.true(outputs.length > 100);
  for (const { template, text } of outputs) t.is(compare(text), 'same', template);
});

test('mutated template outputs: accepted only when read exactly as js-yaml does (seeded fuzz)', (t) => {
  const TOKENS = [
    ' ',
    '  ',
    ':',
    ': ',
    '#',
    ' #',
    '-',
    '- ',
    '"',
    "'",
    '\\',
    '[',
    ']',
    '{',
    '}',
    ',',
    '\n',
    '\n  ',
    '\n- ',
    '---',
    '...',
    '&a',
    '*a',
    '!t',
    '|',
    '>',
    '?',
    '%',
    '@',
    '`',
    '~',
    'null',
    'True',
    'yes',
    '0x1F',
    '-0',
    '+1',
    '012',
    '1e3',
    '.5',
    '.inf',
    '-.Inf',
    '.NaN',
    '1_0',
    '2001-12-14',
    '<<',
    '__proto__',
    'toString',
    'é',
    '\u2028',
    '\\u0041',
    '\\x41',
    '\\/',
    "''",
    'a: b',
    '{a: 1}',
    '[a, b]',
    '{"a":1}',
    '["x"]',
    '0o17',
    '0b1',
    '1.',
    'x:y',
    'http://x',
  ];
  let seed = 20251122;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const texts = [...new Set(outputs.map((o) => o.text))];
  let accepted = 0;
  for (let i = 0; i < 20000; i++) {
    let text = texts[Math.floor(rnd() * texts.length)]!;
    for (let m = 1 + Math.floor(rnd() * 3); m > 0; m--) {
      const pos = Math.floor(rnd() * (text.length + 1));
      const r = rnd();
      if (r < 0.55) text = text.slice(0, pos) + TOKENS[Math.floor(rnd() * TOKENS.length)] + text.slice(pos);
      else if (r < 0.8) text = text.slice(0, pos) + text.slice(pos + 1 + Math.floor(rnd() * 3));
      else if (r < 0.9) {
        // An entry or value emptied (a sequence entry's dash or a key left alone, with or without a comment):
        // the shape of js-yaml's quirks, which random characters reach only once in ~100,000 texts.
        const lines = text.split('\n');
        const at = Math.floor(rnd() * lines.length);
        const tail = rnd() < 0.5 ? '' : ' # c';
        const dash = /^(\s*-) /.exec(lines[at]!);
        const key = /^(\s*[^\s#:]+:)( .*)?$/.exec(lines[at]!);
        if (dash) lines[at] = dash[1] + tail;
        else if (key) lines[at] = key[1] + tail;
        text = lines.join('\n');
      } else {
        const lines = text.split('\n');
        const at = Math.floor(rnd() * lines.length);
        lines[at] = rnd() < 0.5 ? ` ${lines[at]}` : lines[at]!.replace(/^ /, '');
        text = lines.join('\n');
      }
    }
    const v = compare(text);
    if (v === 'same') accepted++;
    else if (v !== 'left to js-yaml') {
      t.fail(`${v}\n${JSON.stringify(text)}`);
      return;
    }
  }
  // The fuzz means something only if much of it is read here.
  t.true(accepted > 5000, `${accepted} accepted`);
});

test('scalars resolve as js-yaml 4 resolves them', (t) => {
  const scalars = [
    'a',
    'x:y',
    'http://h:1/p',
    '-x',
    '--f=a:b',
    'a#b',
    'a,b',
    'a]',
    'é',
    '1',
    '-1',
    '+1',
    '0',
    '-0',
    '+0',
    '00',
    '012',
    '0x1f',
    '0x1F',
    '0o7',
    '0o8',
    '0b1',
    '0b2',
    '0x',
    '1.5',
    '1.',
    '.5',
    '-.5',
    '1e3',
    '1E+3',
    '1e',
    '1e400',
    '.inf',
    '-.inf',
    '+.Inf',
    '.NaN',
    '.nan',
    'nan',
    '1_0',
    '~',
    'null',
    'Null',
    'nULL',
    'true',
    'TRUE',
    'tRue',
    'False',
    'yes',
    'on',
    '123456789012345678901234',
    '9007199254740993',
    '1.2.3',
    '"q"',
    '"a\\"b"',
    '"\\u00e9\\/"',
    "'it''s'",
    '""',
    "''",
  ];
  for (const s of scalars) {
    for (const text of [`v: ${s}\n`, `- ${s}\n`, `v: [${s}, x]\n`, `v: {k: ${s}}\n`, `${s}: v\n`]) {
      const v = compare(text);
      t.true(v === 'same' || v === 'left to js-yaml', `${JSON.stringify(text)}: ${v}`);
    }
    t.is(compare(`v: ${s}\n`), 'same', s);
  }
});

test('shapes the templates use are read here; others are left to js-yaml', (t) => {
  const readHere = [
    'apiVersion: v1\nkind: A\nmetadata:\n  name: "a"\n  labels:\n    app: x\n',
    '# comment\nkind: A\n---\n# another\nkind: B\nlist:\n- a\n- name: b\n  value: 1\n-\n  - nested\n',
    'kind: A\nrules:\n- apiGroups: [""]\n  verbs: [get, list]\n  resources: ["*"]\n',
    'kind: A\nports:\n- {containerPort: 8080, protocol: TCP, name: http}\nsel: {"app":"x","n":[1,{"a":null}]}\n',
    'kind: A\nk:   v   # trailing comment\nempty:\nnested:\n  # inside\n  a: 1\n',
    'kind: A\nx:\n-\n  a: 1\n- # note\n  b: 2\n',
    'toString: 1\nconstructor: {valueOf: 2}\n',
  ];
  for (const text of readHere) t.is(compare(text), 'same', JSON.stringify(text));
  const leftToJsYaml = [
    'a: |\n  block\n',
    'a: >\n  folded\n',
    'a: &x 1\nb: *x\n',
    'a: !!str 1\n',
    'a: 2001-12-14\n',
    '<<: {a: 1}\n',
    'a: 1\na: 2\n',
    'a:\tb\n',
    'a: b\r\n',
    'a: [1,\n  2]\n',
    'a: "multi\n  line"\n',
    'a: plain\n  continued\n',
    '? complex\n: key\n',
    '%YAML 1.2\n---\na: 1\n',
    'a: 1\n...\n',
    '--- a: 1\n',
    'a: "\\x41"\n',
    'a: "\u0085"\n',
    '__proto__: 1\n',
    'a: {__proto__: 1}\n',
    'a: {b: 1, b: 2}\n',
    'a: {b: }\n',
    'a: [x, ]\n',
    'a: {b:1}\n',
    '  a: 1\n',
    'just a scalar\n',
    // js-yaml 4 reads the less indented dash after an empty entry as the inner sequence's next entry.
    'a:\n  - b:\n    - # c\n  - d: 1\n',
    'a:\n  - x\n  -\n- y\n',
  ];
  for (const text of leftToJsYaml) t.is(readTemplateYaml(text), undefined, JSON.stringify(text));
});

test('invalid YAML is left to js-yaml, whose error renderTemplate reports with the template name', (t) => {
  t.is(readTemplateYaml('a: b: c\n'), undefined);
  t.throws(() => yaml.loadAll('a: b: c\n'), { any: true });
});
