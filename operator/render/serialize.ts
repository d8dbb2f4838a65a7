import { cacheDisabled } from '../buildcache.js';
import type { K8sObject } from '../api/types.js';

// The only place rendered objects become text. A small emitter of our own instead of js-yaml's dump: the render
// is mostly text out (the CRD schemas alone are ~70 KB, the injector's templates ~115 KB), and this is several
// times faster while staying simple enough to check by reading. Rules that keep every string a string, byte for byte:
//   - a string is written plain only if it is made of harmless characters and cannot read as anything else
//     (number, bool, null, timestamp, or an indicator); otherwise it is double-quoted with JSON escapes plus
//     escapes for the characters YAML treats as line breaks or forbids;
//   - a multi-line string is a literal block (`|`, `|-`, `|+`) only when a block reproduces it exactly;
//     otherwise double-quoted.
// Keys are sorted (as kubectl prints them), so the text depends on the objects alone.
//
// It runs on every render (~230 KB of text), so it is written for speed: one pass over each string with
// character tables instead of a chain of regular expressions, the text as pieces joined once rather than lines
// built and joined per map. The rules are the ones the first, regex-based version had (its output is unchanged,
// byte for byte); test/unit/render/serialize*.test.ts checks that every string reads back as itself.

// Plain-safe characters (ASCII only): the first character, and the rest. Anything else means quoting.
// First: A-Z a-z 0-9 _ . / $ + = ( ) -     Rest: the same, and @ , : % ~ space.
const FIRST = new Uint8Array(128);
const REST = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./$+=()-')
  FIRST[c.charCodeAt(0)] = REST[c.charCodeAt(0)] = 1;
for (const c of '@,:%~ ') REST[c.charCodeAt(0)] = 1;

// Plain scalars YAML 1.1 or 1.2 would read as something other than a string.
const NOT_A_STRING =
  /^(?:[-+]?(?:\.?[0-9].*|\.inf|\.Inf|\.INF|\.nan|\.NaN|\.NAN)|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~|=|<<)$/;
// First characters with which a string can match NOT_A_STRING: only those pay for the regex.
const MAYBE_NOT_A_STRING = new Uint8Array(128);
for (const c of '-+.0123456789yYnNtTfFoO~=<') MAYBE_NOT_A_STRING[c.charCodeAt(0)] = 1;

// Characters a literal block cannot carry: what a document may not carry raw (C0/C1 controls except newline, NEL,
// line/paragraph separators, BOM, surrogates), and tab and carriage return, which a block would not keep as they are.
// eslint-disable-next-line no-control-regex
const NOT_IN_BLOCK = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ud800-\udfff]/;
// Characters JSON.stringify leaves raw that YAML would not keep as they are.
const QUOTE_MORE = /[\u007f-\u009f\u2028\u2029\ufeff\ud800-\udfff]/g;

const C_SPACE = 32;
const C_COLON = 58;
const C_DASH = 45;
const C_NL = 10;

function plainOk(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  const c0 = s.charCodeAt(0);
  if (c0 >= 128 || FIRST[c0] === 0) return false;
  let prev = c0;
  for (let i = 1; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || REST[c] === 0) return false;
    // `: ` would start a mapping value. (`#` is never plain, so ` #` cannot start a comment.)
    if (c === C_SPACE && prev === C_COLON) return false;
    prev = c;
  }
  // Trailing space would be lost; a trailing `:` reads as a key.
  if (prev === C_SPACE || prev === C_COLON) return false;
  // `-` and `- …` are sequence entries, `---` a document marker.
  if (c0 === C_DASH && (n === 1 || s.charCodeAt(1) === C_SPACE || (n >= 3 && s.charCodeAt(1) === C_DASH && s.charCodeAt(2) === C_DASH)))
    return false;
  return MAYBE_NOT_A_STRING[c0] === 0 || !NOT_A_STRING.test(s);
}

function quoted(s: string): string {
  return JSON.stringify(s).replace(QUOTE_MORE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// The text being written. Concatenated as it goes, and flattened once at the end: V8 builds this as a rope in
// O(1) per piece and copies it once, several times faster than pushing the ~30k pieces to an array and joining.
let out = '';

/** True for a character String.prototype.trim removes (what made a line "blank" in the first version). */
const isSpace = (c: number): boolean => c === C_SPACE || (c >= 9 && c <= 13) || (c > 127 && String.fromCharCode(c).trim() === '');

/**
 * Writes a multi-line string as a literal block (`|`, `|-`, `|+`) into the text, or returns false (writing nothing)
 * when a block could not carry it exactly. Its pieces go straight into the document's text: these strings are half
 * of it (the injector's templates alone are ~105 KB), so the block is not first assembled as a string of its own.
 */
function literalBlock(s: string, indent: string): boolean {
  if (NOT_IN_BLOCK.test(s)) return false;
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === C_NL) end--;
  if (end === 0) return false;
  const trailing = s.length - end;
  const body = end === s.length ? s : s.slice(0, end);
  // One pass over the lines (indexOf, not a regex): a line of only white space would be read back as empty, so
  // such a string is quoted; and note whether any line is empty. A line is looked at only if it ends with white
  // space (most lines start with some: indented templates).
  let hasEmpty = false;
  let firstText = -1;
  for (let start = 0; start <= end;) {
    let nl = body.indexOf('\n', start);
    if (nl < 0) nl = end;
    if (nl === start) hasEmpty = true;
    else {
      if (firstText < 0) firstText = start;
      if (isSpace(body.charCodeAt(nl - 1))) {
        let j = start;
        while (j < nl && isSpace(body.charCodeAt(j))) j++;
        if (j === nl) return false;
      }
    }
    start = nl + 1;
  }
  // Leading spaces on the first non-empty line need an explicit indentation indicator (the reader would
  // otherwise take them as the block's indentation).
  out += body.charCodeAt(firstText) === C_SPACE ? '|2' : '|';
  out += trailing === 0 ? '-\n' : trailing === 1 ? '\n' : '+\n';
  const pad = indent + '  ';
  const newline = '\n' + pad;
  // Every non-empty line indented, empty lines left empty (the body does not end with a newline): with empty lines,
  // by runs between them, since replaceAll on each is about twice as fast as one regular expression over the whole.
  if (!hasEmpty) out += pad + body.replaceAll('\n', newline);
  else {
    const runs = body.split('\n\n');
    for (let i = 0; i < runs.length; i++) {
      if (i) out += '\n\n';
      const run = runs[i]!;
      // A run starts with the newlines of further empty lines, if any; it does not end with one.
      let lead = 0;
      while (run.charCodeAt(lead) === C_NL) lead++;
      if (lead === run.length) out += run;
      else {
        if (lead) out += run.slice(0, lead);
        out += pad + (lead ? run.slice(lead) : run).replaceAll('\n', newline);
      }
    }
  }
  if (trailing > 1) out += '\n'.repeat(trailing - 1);
  return true;
}

/** Writes a scalar into the text. */
function emitScalar(v: unknown, indent: string): void {
  if (typeof v === 'string') {
    if (v.indexOf('\n') < 0) out += plainOk(v) ? v : quoted(v);
    else if (!literalBlock(v, indent)) out += quoted(v);
    return;
  }
  if (v === null || v === undefined) out += 'null';
  else if (typeof v === 'boolean') out += v ? 'true' : 'false';
  else if (typeof v === 'number') out += Number.isFinite(v) ? String(v) : Number.isNaN(v) ? '.nan' : v > 0 ? '.inf' : '-.inf';
  else if (typeof v === 'bigint') out += v.toString();
  else emitScalar(String(v), indent);
}

const key = (k: string): string => (plainOk(k) ? k : quoted(k));

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (v: unknown) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';

/** The keys of `o` that are written, sorted; empty when the map is written as `{}`. */
function writtenKeys(o: Record<string, unknown>): string[] {
  let keys = Object.keys(o);
  for (let i = 0; i < keys.length; i++) {
    if (!present(o[keys[i]!])) {
      keys = keys.filter((k) => present(o[k]));
      break;
    }
  }
  // Most maps arrive sorted, or nearly: an insertion sort in place (the order of Array.prototype.sort without a
  // comparator: UTF-16 code units) allocates nothing, where sort() copies every array it is given.
  if (keys.length > 64) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    if (keys[j]! < k) continue;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

/** The entries of a map (with `keys` from writtenKeys, non-empty); the first line starts with `first` instead of `indent`. */
function emitMap(o: Record<string, unknown>, keys: string[], indent: string, first: string): void {
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    out += i === 0 ? first : indent;
    out += key(k);
    emitValue(o[k], indent);
  }
}

function emitList(a: unknown[], indent: string): void {
  const dash = indent + '- ';
  const inner = indent + '  ';
  // Indexed (not for…of over entries): holes read as undefined, as the first version's for…of did.
  for (let i = 0; i < a.length; i++) {
    const item = a[i];
    const v = present(item) ? item : null;
    if (isMap(v)) {
      const keys = writtenKeys(v);
      // First key on the dash line, the rest aligned under it.
      if (keys.length) emitMap(v, keys, inner, dash);
      else out += dash + '{}\n';
    } else if (Array.isArray(v)) {
      if (v.length) {
        out += indent + '-\n';
        emitList(v, inner);
      } else out += dash + '[]\n';
    } else {
      out += dash;
      emitScalar(v, indent);
      out += '\n';
    }
  }
}

/** What follows a key: `: value` or a nested block. */
function emitValue(v: unknown, indent: string): void {
  if (isMap(v)) {
    const keys = writtenKeys(v);
    if (keys.length) {
      out += ':\n';
      emitMap(v, keys, indent + '  ', indent + '  ');
    } else out += ': {}\n';
  } else if (Array.isArray(v)) {
    // Lists under a key at the key's own indentation, as kubectl writes them.
    if (v.length) {
      out += ':\n';
      emitList(v, indent);
    } else out += ': []\n';
  } else {
    out += ': ';
    emitScalar(v, indent);
    out += '\n';
  }
}

// Values that are the same in every render (the CRD schemas: about a third of the text) are deep-frozen and
// shared by the objects of every render (see shareConstant); their text depends on nothing else, so it is written
// once per process and reused. Only values in the first two levels of a document are looked up (a CRD's
// spec.versions), one WeakMap lookup each, not one per node. ISTIO_OPERATOR_NO_CACHE=1 turns the reuse off.
/** value -> its text as the value of a key at `indent` (': …' or ':\n…'); empty until first written. */
const constantText = new WeakMap<object, { indent: string; text: string }>();
const LOOKUP_LEVELS = 2;

function deepFreeze(v: unknown): void {
  if (typeof v !== 'object' || v === null) return;
  Object.freeze(v);
  for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
}

/**
 * Deep-freezes `v` (a map or list of plain data) so that it can be shared by the objects of every render (changing
 * it throws, so no render can change what another one returns), and lets the serializer write its text once.
 */
export function shareConstant<T extends object>(v: T): T {
  deepFreeze(v);
  if (!constantText.has(v)) constantText.set(v, { indent: '', text: '' });
  return v;
}

/** emitMap, looking up constants among the values of this level and the `levels - 1` below. */
function emitMapReusing(o: Record<string, unknown>, keys: string[], indent: string, levels: number): void {
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = o[k];
    out += indent + key(k);
    const c = typeof v === 'object' && v !== null ? constantText.get(v) : undefined;
    if (c !== undefined) {
      if (c.text === '') {
        c.indent = indent;
        c.text = collect(() => emitValue(v, indent));
      }
      if (c.indent === indent) {
        // Into the chunks as it is, when they are being collected: no copy of it is made at all.
        if (chunks) {
          chunks.push(flat(out), c.text);
          out = '';
        } else out += c.text;
        continue;
      }
    }
    if (levels > 1 && isMap(v)) {
      const sub = writtenKeys(v);
      if (sub.length) {
        out += ':\n';
        emitMapReusing(v, sub, indent + '  ', levels - 1);
        continue;
      }
    }
    emitValue(v, indent);
  }
}

function emitDocument(o: unknown, reuse: boolean): void {
  if (isMap(o)) {
    const keys = writtenKeys(o);
    if (!keys.length) out += '{}\n';
    else if (reuse) emitMapReusing(o, keys, '', LOOKUP_LEVELS);
    else emitMap(o, keys, '', '');
  } else if (Array.isArray(o)) {
    if (o.length) emitList(o, '');
    else out += '[]\n';
  } else {
    emitScalar(o, '');
    out += '\n';
  }
}

/** `s` flat: the rope is copied here, once, not by whoever reads it first. Reading a character makes V8 flatten it. */
function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

/** The chunks being collected by yamlChunks, or null when the text goes into one string. */
let chunks: string[] | null = null;

/** What `write` writes, as one string. */
function collect(write: () => void): string {
  const outer = out;
  const outerChunks = chunks;
  out = '';
  chunks = null;
  try {
    write();
    return flat(out);
  } finally {
    out = outer;
    chunks = outerChunks;
  }
}

/** One YAML document (no separator), ending with a newline. */
export function toYaml(o: unknown): string {
  const reuse = !cacheDisabled();
  return collect(() => emitDocument(o, reuse));
}

/**
 * Multi-document YAML, one object per document, in the given order, as chunks to be written one after the other
 * (writev). Writers use this rather than toYamlStream: a constant's text (the CRD schemas, 532 of the default
 * render's 702 KiB) is a chunk of its own, never copied, and the rest is flattened document by document rather than
 * as one 702 KiB string. Measured with `node dist/test/bench/run.js render`, default profile: serialize 0.80 ms as
 * chunks vs 1.30 ms as one string (median of 100, after warm-up).
 */
export function yamlChunks(objects: K8sObject[]): string[] {
  const reuse = !cacheDisabled();
  const outer = out;
  const outerChunks = chunks;
  const collected: string[] = [];
  out = '';
  chunks = collected;
  try {
    for (let i = 0; i < objects.length; i++) {
      if (i) out += '---\n';
      emitDocument(objects[i], reuse);
      collected.push(flat(out));
      out = '';
    }
    return collected.filter((c) => c.length > 0);
  } finally {
    out = outer;
    chunks = outerChunks;
  }
}

/** Multi-document YAML, one object per document, in the given order, as one string (yamlChunks joined). */
export function toYamlStream(objects: K8sObject[]): string {
  return yamlChunks(objects).join('');
}
