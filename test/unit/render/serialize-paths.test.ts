import { isDeepStrictEqual } from 'node:util';
import test from 'ava';
import yaml from 'js-yaml';
import { shareConstant, toYaml, toYamlStream, yamlChunks } from '../../../operator/render/serialize.js';
import type { K8sObject } from '../../../operator/api/types.js';

// Each path of the emitter (plain or quoted scalar, key, list item, literal block, constant text reused) with the
// strings that could change a document's structure: whatever is written must read back as exactly what was given.

const TRICKY = [
  'a: b',
  'a:b',
  'a:',
  ':',
  '# x',
  'a #b',
  'a#b',
  '#',
  '  leading',
  'trailing  ',
  ' ',
  '',
  'line\nbreak',
  'two\n\nlines\n',
  '{{ .Values.x }}',
  '{{',
  '}}',
  'é',
  '日本語',
  '\ud83d\ude00',
  'a\u00a0b',
  '\u00a0',
  '1.30',
  '1.3',
  '1',
  '-1',
  '+1',
  '1e3',
  '0x1f',
  '0o17',
  '0b101',
  '.5',
  '.inf',
  '-.Inf',
  '.NaN',
  'true',
  'True',
  'false',
  'null',
  'Null',
  'NULL',
  '~',
  'yes',
  'no',
  'on',
  'off',
  'y',
  'n',
  '2001-12-14',
  '2001-12-14t21:59:43.10-05:00',
  '12:30:00',
  '<<',
  '=',
  '-',
  '- a',
  '--',
  '---',
  '--- x',
  '...',
  '?',
  '? a',
  '!tag',
  '&anchor',
  '*alias',
  '|',
  '>',
  '%YAML',
  '@at',
  '`tick',
  '"',
  "'",
  '\\',
  '[a]',
  '{a: b}',
  ',',
  'a, b',
  '\t',
  'a\tb',
  '\r\n',
  '\u0085',
  '\u2028',
  '\ufeff',
  '\u0000',
  '\u007f',
  '\ud800',
  'plain-text/ok',
  'apps/v1',
  '$(HOST_IP):8126',
  'a=b',
  '(x)',
  '100%',
  '~/x',
  'a ~',
  'a,b',
];

const roundTrips = (t: import('ava').ExecutionContext, v: unknown) => {
  const text = toYaml(v);
  let back: unknown;
  try {
    back = yaml.load(text);
  } catch (e) {
    t.fail(`${JSON.stringify(v)} gave unparsable YAML: ${(e as Error).message}\n${text}`);
    return;
  }
  t.true(isDeepStrictEqual(back, v), `${JSON.stringify(v)} did not round-trip:\n${text}`);
};

test('every tricky string reads back as itself: value, key, list item, nested, multi-line', (t) => {
  for (const s of TRICKY) {
    roundTrips(t, { v: s });
    roundTrips(t, { [s]: s });
    roundTrips(t, { l: [s, [s], { [s]: [s] }], m: { n: { [s]: s } } });
    roundTrips(t, { text: `first\n${s}\nlast\n` });
    roundTrips(t, { text: `${s}\n${s}` });
    roundTrips(t, [{ a: `${s}\n` }, `\n${s}\n\n`]);
  }
});

test('strings that would read as another type are quoted; harmless ones stay plain', (t) => {
  for (const s of ['1.30', 'true', 'null', '0x1f', '~', '', 'yes', '- a', 'a: b', ' x', 'x ', '{{ x }}', '#', '---']) {
    t.is(toYaml({ s }), `s: ${JSON.stringify(s)}\n`, s);
  }
  for (const s of ['istiod', 'apps/v1', 'a:b', 'a-b_c.d', '$(HOST_IP):8126', 'default:info', 'x=y', 'a%'])
    t.is(toYaml({ s }), `s: ${s}\n`, s);
  // Characters JSON leaves raw but YAML would not keep: escaped.
  t.is(toYaml({ s: 'a\u2028b\u0085' }), 's: "a\\u2028b\\u0085"\n');
});

test('literal blocks: chomping, indentation indicator, empty lines, and when a block cannot be used', (t) => {
  t.is(toYaml({ s: 'a\nb' }), 's: |-\n  a\n  b\n');
  t.is(toYaml({ s: 'a\nb\n' }), 's: |\n  a\n  b\n');
  t.is(toYaml({ s: 'a\nb\n\n\n' }), 's: |+\n  a\n  b\n\n\n');
  t.is(toYaml({ s: 'a\n\n  b\n' }), 's: |\n  a\n\n    b\n');
  t.is(toYaml({ s: '\n\na\n' }), 's: |\n\n\n  a\n');
  t.is(toYaml({ s: '  a\nb\n' }), 's: |2\n    a\n  b\n');
  t.is(toYaml({ s: '\n  a\n' }), 's: |2\n\n    a\n');
  t.is(toYaml({ l: [{ k: 'a\nb\n' }, 'c\nd'] }), 'l:\n- k: |\n    a\n    b\n- |-\n  c\n  d\n');
  // A line of only white space (ASCII or not) would come back empty; tabs and CR would not come back as they were.
  for (const s of ['a\n \nb', 'a\n\u00a0\nb', 'a\n\u3000', ' \na', 'a\n\tb', 'a\r\nb', '\n', '\n\n', 'a\n\u0085']) {
    t.true(toYaml({ s }).startsWith('s: "'), JSON.stringify(s));
    roundTrips(t, { s });
  }
  // Large text, as the injector's templates are.
  const big =
    Array.from({ length: 3000 }, (_, i) => (i % 7 === 0 ? '' : `${' '.repeat(i % 5)}line {{ .Values.x }} #${i}: y`)).join('\n') + '\n';
  roundTrips(t, { data: { config: big } });
});

test('layout: first key of a list item on the dash line, nested lists, empty collections, absent values', (t) => {
  t.is(toYaml({ l: [[1, [2]], [], {}, { b: 1, a: [] }] }), 'l:\n-\n  - 1\n  -\n    - 2\n- []\n- {}\n- a: []\n  b: 1\n');
  t.is(toYaml({ a: undefined, f: () => 1, m: { x: undefined } }), 'm: {}\n');
  // eslint-disable-next-line no-sparse-arrays
  t.is(toYaml({ l: [1, , undefined, () => 1] }), 'l:\n- 1\n- null\n- null\n- null\n');
  t.is(toYaml({ b: 1, a: 2, B: 3, _: 4 }), 'B: 3\n_: 4\na: 2\nb: 1\n');
  t.is(toYaml({ nan: NaN, i: -Infinity, j: Infinity, z: 0, b: 10n }), 'b: 10\ni: -.inf\nj: .inf\nnan: .nan\nz: 0\n');
  t.is(toYaml([]), '[]\n');
  t.is(toYaml({}), '{}\n');
  t.is(toYaml('x'), 'x\n');
});

test('a shared constant is frozen, written as any other value, and its text reused only where it is the same', (t) => {
  const spec = shareConstant({
    names: { kind: 'Gateway', plural: 'gateways' },
    versions: [{ name: 'v1', served: true, schema: { d: 'a\nb\n' } }],
  });
  t.true(Object.isFrozen(spec) && Object.isFrozen(spec.versions[0]!.schema));
  t.throws(
    () => {
      (spec.names as Record<string, string>).kind = 'x';
    },
    { instanceOf: TypeError },
  );
  const plain = JSON.parse(JSON.stringify(spec)) as object;
  const doc = (s: object) => ({ apiVersion: 'v1', kind: 'CustomResourceDefinition', metadata: { name: 'g' }, spec: s });
  const expected = toYaml(doc(plain));
  t.is(toYaml(doc(spec)), expected);
  t.is(toYaml(doc(spec)), expected, 'second time, from the text written the first time');
  t.is(toYamlStream([doc(spec), doc(spec)]), `${expected}---\n${expected}`);
  // Deeper than a top-level key, and in a list: written in full, indented for where it is.
  t.is(toYaml({ items: [doc(spec)] }), toYaml({ items: [doc(plain)] }));
  t.is(toYaml({ a: { spec } }), toYaml({ a: { spec: plain } }));
  const prior = process.env.ISTIO_OPERATOR_NO_CACHE;
  process.env.ISTIO_OPERATOR_NO_CACHE = '1';
  try {
    t.is(toYaml(doc(spec)), expected);
  } finally {
    if (prior === undefined) delete process.env.ISTIO_OPERATOR_NO_CACHE;
    else process.env.ISTIO_OPERATOR_NO_CACHE = prior;
  }
});

test('yamlChunks: the same text as toYamlStream, with a constant as a chunk of its own, written once per process', (t) => {
  const versions = shareConstant([{ name: 'v1', served: true, schema: { d: 'x\ny\n' } }]);
  const doc = (name: string) => ({ apiVersion: 'v1', kind: 'CustomResourceDefinition', metadata: { name }, spec: { versions } });
  const objects = [doc('a'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }, doc('b')] as K8sObject[];
  const first = yamlChunks(objects);
  t.is(first.join(''), toYamlStream(objects));
  t.true(first.every((c) => c.length > 0));
  // The constant's text is not copied into the documents around it: the same chunk both times, and next time.
  const constant = first.filter((c) => c.startsWith(':\n  - name: v1'));
  t.is(constant.length, 2);
  t.is(yamlChunks(objects).filter((c) => constant.includes(c)).length, 2);
  t.is(yamlChunks([]).length, 0);
});
