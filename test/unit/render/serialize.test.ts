import { isDeepStrictEqual } from 'node:util';
import test from 'ava';
import yaml from 'js-yaml';
import { toYaml, toYamlStream } from '../../../operator/render/serialize.js';

// Our emitter must give back exactly what it was given, for every string: that is the injection guarantee.

const PIECES = [
  'a',
  'Z',
  '0',
  '9',
  ' ',
  ':',
  ': ',
  '#',
  ' #',
  '-',
  '- ',
  '---',
  '...',
  '\n',
  '\n\n',
  '\t',
  '"',
  "'",
  '\\',
  '{',
  '}',
  '[',
  ']',
  ',',
  '&',
  '*',
  '!',
  '|',
  '>',
  '%',
  '@',
  '`',
  '?',
  '~',
  '.',
  '+',
  '=',
  '<<',
  'y',
  'no',
  'On',
  'true',
  'null',
  '0x1F',
  '1e3',
  '.inf',
  '2001-12-14',
  '1:20',
  '\u0085',
  '\u2028',
  '\ufeff',
  '\u0000',
  '\r',
  'é',
  '日本',
  '\ud83d\ude00',
  ' \n',
  ' x',
  'x ',
  '\n ',
  '  \n  x',
  '{{ .Values }}',
];

test('every string round-trips exactly, as a value, a key and inside lists (seeded fuzz)', (t) => {
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  for (let i = 0; i < 20000; i++) {
    let s = '';
    for (let j = 1 + Math.floor(rnd() * 6); j > 0; j--) s += PIECES[Math.floor(rnd() * PIECES.length)];
    const obj = { k: s, [s]: 1, l: [s, { a: s, b: [s] }], m: { x: s } };
    const text = toYaml(obj);
    let back: unknown;
    try {
      back = yaml.load(text);
    } catch (e) {
      t.fail(`${JSON.stringify(s)} gave unparsable YAML: ${(e as Error).message}`);
      return;
    }
    if (!isDeepStrictEqual(back, obj)) {
      t.fail(`${JSON.stringify(s)} did not round-trip:\n${text}`);
      return;
    }
  }
  t.pass();
});

test('scalars keep their types; strings that look like other types are quoted', (t) => {
  const obj = { n: 1, f: 1.5, neg: -3, b: true, nul: null, s1: '1', s2: 'true', s3: 'null', s4: '', s5: '1.30', s6: 'yes', e: [], m: {} };
  t.deepEqual(yaml.load(toYaml(obj)), obj);
  t.regex(toYaml({ s: '1.30' }), /s: "1.30"/);
  t.is(toYaml({ s: 'plain-text/ok' }), 's: plain-text/ok\n');
});

test('layout: sorted keys, lists at the key indentation, literal blocks for multi-line text; YAML 1.1 booleans quoted', (t) => {
  const text = toYaml({ z: 1, a: { list: [{ name: 'x', args: ['--a', '--b=c:d'] }, 'y'] }, text: 'line one\n  indented\nlast\n' });
  t.is(
    text,
    [
      'a:',
      '  list:',
      '  - args:',
      '    - --a',
      '    - --b=c:d',
      '    name: x',
      '  - "y"',
      'text: |',
      '  line one',
      '    indented',
      '  last',
      'z: 1',
      '',
    ].join('\n'),
  );
});

test('undefined fields are left out; a stream separates documents', (t) => {
  const s = toYamlStream([
    { apiVersion: 'v1', kind: 'A', metadata: { name: 'a', namespace: undefined } },
    { apiVersion: 'v1', kind: 'B', metadata: { name: 'b' } },
  ]);
  t.is(s, 'apiVersion: v1\nkind: A\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: B\nmetadata:\n  name: b\n');
  t.deepEqual(
    yaml.loadAll(s).map((d: any) => d.kind),
    ['A', 'B'],
  );
});
