import type { K8sObject } from './engine.js';

// The only place rendered objects become text. A small emitter of our own instead of js-yaml's dump: the render
// is mostly text out (the CRD schemas alone are ~60 KB), and this is several times faster while staying simple
// enough to check by reading. Rules that keep every string a string, byte for byte:
//   - a string is written plain only if it is made of harmless characters and cannot read as anything else
//     (number, bool, null, timestamp, or an indicator); otherwise it is double-quoted with JSON escapes plus
//     escapes for the characters YAML treats as line breaks or forbids;
//   - a multi-line string is a literal block (`|`, `|-`, `|+`) only when a block reproduces it exactly;
//     otherwise double-quoted.
// Keys are sorted (as kubectl prints them), so the text depends on the objects alone.

const PLAIN_SAFE = /^[A-Za-z0-9_./$+=()-][A-Za-z0-9_./@$+=(),:%~ -]*$/;
// Plain scalars YAML 1.1 or 1.2 would read as something other than a string.
const NOT_A_STRING = /^(?:[-+]?(?:\.?[0-9].*|\.inf|\.Inf|\.INF|\.nan|\.NaN|\.NAN)|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~|=|<<)$/;
// Characters a document may not carry raw (C0/C1 controls except tab, NEL, line/paragraph separators, BOM, surrogates).
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ud800-\udfff]/;

function plainOk(s: string): boolean {
  return (
    s.length > 0 &&
    PLAIN_SAFE.test(s) &&
    !NOT_A_STRING.test(s) &&
    !s.endsWith(' ') &&
    !s.endsWith(':') &&
    !s.includes(': ') &&
    !s.includes(' #') &&
    !(s[0] === '-' && (s.length === 1 || s[1] === ' ')) &&
    !s.startsWith('---')
  );
}

function quoted(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029\ufeff\ud800-\udfff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A literal block for a multi-line string, or undefined when a block could not carry it exactly. */
function literalBlock(s: string, indent: string): string | undefined {
  if (NEEDS_ESCAPE.test(s) || s.includes('\r') || s.includes('\t')) return undefined;
  let trailing = 0;
  while (trailing < s.length && s.charCodeAt(s.length - 1 - trailing) === 10) trailing++;
  const body = s.slice(0, s.length - trailing);
  if (body === '') return undefined;
  const lines = body.split('\n');
  // A line of only spaces would be read back as empty.
  if (lines.some((l) => l.length > 0 && l.trim() === '')) return undefined;
  const chomp = trailing === 0 ? '-' : trailing === 1 ? '' : '+';
  // Leading spaces on the first non-empty line need an explicit indentation indicator (the reader would
  // otherwise take them as the block's indentation).
  const ind = (lines.find((l) => l.length > 0) ?? '').startsWith(' ') ? '2' : '';
  const pad = indent + '  ';
  const extra = trailing > 1 ? '\n'.repeat(trailing - 1) : '';
  return `|${ind}${chomp}\n${lines.map((l) => (l ? pad + l : '')).join('\n')}${extra}`;
}

function scalar(v: unknown, indent: string): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? '.nan' : v > 0 ? '.inf' : '-.inf';
  if (typeof v === 'bigint') return v.toString();
  const s = String(v);
  if (s.includes('\n')) return literalBlock(s, indent) ?? quoted(s);
  return plainOk(s) ? s : quoted(s);
}

function key(k: string): string {
  return plainOk(k) && !k.includes('\n') ? k : quoted(k);
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (v: unknown) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';

function emitMap(o: Record<string, unknown>, indent: string, out: string[]): void {
  const keys = Object.keys(o).filter((k) => present(o[k])).sort();
  for (const k of keys) emitEntry(`${indent}${key(k)}:`, o[k], indent, out);
}

function emitList(a: unknown[], indent: string, out: string[]): void {
  for (const item of a) {
    const v = present(item) ? item : null;
    if (isMap(v) && Object.keys(v).some((k) => present(v[k]))) {
      // First key on the dash line, the rest aligned under it.
      const sub: string[] = [];
      emitMap(v, indent + '  ', sub);
      out.push(`${indent}- ${sub[0].slice(indent.length + 2)}`, ...sub.slice(1));
    } else if (Array.isArray(v) && v.length) {
      out.push(`${indent}-`);
      emitList(v, indent + '  ', out);
    } else out.push(`${indent}- ${isMap(v) ? '{}' : Array.isArray(v) ? '[]' : scalar(v, indent)}`);
  }
}

function emitEntry(head: string, v: unknown, indent: string, out: string[]): void {
  if (isMap(v)) {
    if (!Object.keys(v).some((k) => present(v[k]))) out.push(`${head} {}`);
    else {
      out.push(head);
      emitMap(v, indent + '  ', out);
    }
  } else if (Array.isArray(v)) {
    if (!v.length) out.push(`${head} []`);
    else {
      out.push(head);
      // Lists under a key at the key's own indentation, as kubectl writes them.
      emitList(v, indent, out);
    }
  } else out.push(`${head} ${scalar(v, indent)}`);
}

/** One YAML document (no separator), ending with a newline. */
export function toYaml(o: unknown): string {
  const out: string[] = [];
  if (isMap(o)) {
    if (!Object.keys(o).some((k) => present(o[k]))) return '{}\n';
    emitMap(o, '', out);
  } else if (Array.isArray(o)) {
    if (!o.length) return '[]\n';
    emitList(o, '', out);
  } else return scalar(o, '') + '\n';
  return out.join('\n') + '\n';
}

/** Multi-document YAML, one object per document, in the given order. */
export function toYamlStream(objects: K8sObject[]): string {
  return objects.map(toYaml).join('---\n');
}
