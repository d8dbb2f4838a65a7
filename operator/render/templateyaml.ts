// Reads what the templates produce. js-yaml took a third of a render on this text (~30 KB per render), most of it
// on a handful of shapes: block mappings and sequences, one-line flow collections (`[get, list]`, `{name: x}`, and
// the JSON of the `json` helper), quoted and plain scalars, comments. readTemplateYaml reads exactly those shapes and
// gives up (undefined) on anything else, leaving the whole text to js-yaml: block scalars, multi-line scalars or
// flow collections, anchors, tags, merge keys, timestamps, tabs, control characters, duplicate keys, odd indentation.
// What it accepts it reads as js-yaml's default schema does (the resolution of plain scalars below follows js-yaml
// 4's int, float, null and bool types); test/unit/render/templateyaml.test.ts compares the two on every template
// output of the golden inputs and on mutations of them.
//
// It stays because it pays (issue #13 item 7, after every template was written in the layout style; measured
// 2026-12-04 on the shared 2-core machine, load average 8-16, this build against the same build whose reader
// returns undefined so that js-yaml reads everything; `npm run bench`, render in process, 18 interleaved runs):
// the default profile's warm render took 2.38 ms (min of 1,800) and 3.11 ms of CPU (median) with it, 3.10 ms and
// 3.87 ms without, +24 to 30%, where the budget allows 10% over 67c226a's 2.31 ms; a fresh process's first render
// took 95 ms against 131 ms, and a whole `istio-operator render` 191 ms of CPU against 218 ms (mean of 60).

/** Thrown (never escapes) when the text uses YAML we leave to js-yaml. */
const UNREAD = { unread: true };

// Characters we leave to js-yaml wherever they are: C0 controls but newline (tab and CR included), DEL and C1
// controls (js-yaml rejects most of them), surrogates, BOM and the non-characters it rejects.
// eslint-disable-next-line no-control-regex
const LEAVE_TO_JS_YAML = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\ud800-\udfff\ufeff\ufffe\uffff]/;
/** Nesting deeper than this is left to js-yaml (which stops at 100 levels with an error). */
const MAX_DEPTH = 64;

const SPACE = 32;
const DASH = 45;
const COLON = 58;
const HASH = 35;
const DQUOTE = 34;
const SQUOTE = 39;

interface Lines {
  lines: string[];
  /** The line being read. */
  i: number;
}

function unread(): never {
  throw UNREAD;
}

/** The documents of `text` as js-yaml's loadAll returns them, less empty ones; undefined when js-yaml has to read it. */
export function readTemplateYaml(text: string): unknown[] | undefined {
  if (LEAVE_TO_JS_YAML.test(text)) return undefined;
  const r: Lines = { lines: text.split('\n'), i: 0 };
  const docs: unknown[] = [];
  try {
    for (;;) {
      const indent = nextContent(r);
      if (indent === END) return docs;
      if (indent === SEPARATOR) {
        // A separator starts a document; what came before it (comments) was an empty one, which no caller keeps.
        r.i++;
        continue;
      }
      if (indent !== 0) unread();
      docs.push(block(r, -1, false, 1));
      const after = nextContent(r);
      if (after !== END && after !== SEPARATOR) unread();
    }
  } catch (e) {
    if (e === UNREAD) return undefined;
    throw e;
  }
}

const END = -1;
const SEPARATOR = -2;

/** Moves to the next line with content (not blank, not a comment): its indentation, END or SEPARATOR (`---`). */
function nextContent(r: Lines): number {
  const { lines } = r;
  for (; r.i < lines.length; r.i++) {
    const line = lines[r.i]!;
    let p = 0;
    while (line.charCodeAt(p) === SPACE) p++;
    if (p === line.length) continue;
    const c = line.charCodeAt(p);
    if (c === HASH) continue;
    if (p === 0 && (line.startsWith('---') || line.startsWith('...') || c === 37) /* % */) {
      if (line.startsWith('---') && line.trimEnd() === '---') return SEPARATOR;
      unread();
    }
    return p;
  }
  return END;
}

const isSeqEntry = (line: string, p: number) => line.charCodeAt(p) === DASH && (p + 1 === line.length || line.charCodeAt(p + 1) === SPACE);

/**
 * The node on the lines after a key or dash with nothing after it: a mapping or sequence indented more than
 * `parent`, a sequence at `parent` itself after a key (`compact`), or null.
 */
function block(r: Lines, parent: number, compact: boolean, depth: number): unknown {
  if (depth > MAX_DEPTH) unread();
  const indent = nextContent(r);
  if (indent < 0 || indent < parent) return null;
  const line = r.lines[r.i]!;
  if (indent === parent) return compact && isSeqEntry(line, indent) ? sequence(r, indent, depth) : null;
  if (isSeqEntry(line, indent)) return sequence(r, indent, depth);
  if (keyEnd(line, indent) < 0) unread(); // a scalar on lines of its own (multi-line)
  return mapping(r, indent, depth);
}

function sequence(r: Lines, indent: number, depth: number): unknown[] {
  const out: unknown[] = [];
  for (;;) {
    const line = r.lines[r.i]!;
    let p = indent + 1;
    while (line.charCodeAt(p) === SPACE) p++;
    if (p === line.length || line.charCodeAt(p) === HASH) {
      r.i++;
      const v = block(r, indent, false, depth + 1);
      // js-yaml 4 takes a dash that follows an empty entry as this sequence's next entry however little it is
      // indented (`  - # x` then `- y`: one sequence of [null, y]), where YAML ends the sequence: left to js-yaml.
      if (v === null) {
        const next = nextContent(r);
        if (next >= 0 && next < indent && isSeqEntry(r.lines[r.i]!, next)) unread();
      }
      out.push(v);
    } else if (isSeqEntry(line, p)) {
      unread(); // `- - x`
    } else if (keyEnd(line, p) >= 0) {
      // `- key: value`: a mapping whose keys line up with this first one.
      out.push(mapping(r, p, depth + 1));
    } else {
      out.push(inlineValue(line, p, depth + 1));
      r.i++;
    }
    const next = nextContent(r);
    if (next < indent) return out;
    if (next > indent) unread();
    if (!isSeqEntry(r.lines[r.i]!, indent)) return out; // the enclosing mapping's next key (a compact sequence)
  }
}

function mapping(r: Lines, indent: number, depth: number): Record<string, unknown> {
  if (depth > MAX_DEPTH) unread();
  const out: Record<string, unknown> = {};
  let keys = 0;
  for (;;) {
    // Every key at `indent`: the first one may sit after a dash (`- key: value`), the others line up under it.
    const line = r.lines[r.i]!;
    const end = keyEnd(line, indent);
    if (end < 0) unread();
    const k = keyOf(line, indent, end);
    let p = end + 1; // past the `:`
    while (line.charCodeAt(p) === SPACE) p++;
    let v: unknown;
    if (p === line.length || line.charCodeAt(p) === HASH) {
      r.i++;
      v = block(r, indent, true, depth + 1);
    } else {
      v = inlineValue(line, p, depth + 1);
      r.i++;
    }
    out[k] = v;
    keys++;
    const next = nextContent(r);
    if (next < indent) return complete(out, keys);
    if (next > indent || isSeqEntry(r.lines[r.i]!, indent)) unread();
  }
}

/**
 * A mapping of `keys` entries, checked: fewer own keys means a key came twice (an error in js-yaml) or was
 * `__proto__` (which js-yaml sets as an own key, where assigning sets the prototype): both left to js-yaml.
 */
function complete(o: Record<string, unknown>, keys: number): Record<string, unknown> {
  if (Object.keys(o).length !== keys) unread();
  return o;
}

/**
 * Where the key starting at `p` ends (the index of its `:`, which a space or the end of the line follows), or -1
 * when the line holds no key there.
 */
function keyEnd(line: string, p: number): number {
  const c = line.charCodeAt(p);
  if (c === DQUOTE || c === SQUOTE) {
    const q = quotedEnd(line, p);
    if (q < 0) return -1;
    return line.charCodeAt(q) === COLON && (q + 1 === line.length || line.charCodeAt(q + 1) === SPACE) ? q : -1;
  }
  if (c === 91 /* [ */ || c === 123 /* { */) return -1;
  for (let q = line.indexOf(':', p); q >= 0; q = line.indexOf(':', q + 1)) {
    if (q + 1 === line.length || line.charCodeAt(q + 1) === SPACE) {
      // A comment before it means there is no key (`a # b: c`).
      for (let h = p + 1; h < q; h++) if (line.charCodeAt(h) === HASH && line.charCodeAt(h - 1) === SPACE) return -1;
      return q;
    }
  }
  return -1;
}

function keyOf(line: string, p: number, end: number): string {
  const c = line.charCodeAt(p);
  if (c === DQUOTE) return doubleQuoted(line.slice(p, end));
  if (c === SQUOTE) return singleQuoted(line.slice(p, end));
  const raw = line.slice(p, end);
  if (raw.length > 1000 || raw.charCodeAt(raw.length - 1) === SPACE || !plainStart(line, p, false)) unread();
  // js-yaml turns a key into a string after resolving it: `true:` is "true", `0x10:` is "16".
  return String(plainValue(raw));
}

/** A scalar or flow collection that ends this line (a comment may follow). */
function inlineValue(line: string, p: number, depth: number): unknown {
  const c = line.charCodeAt(p);
  let v: unknown;
  let q: number;
  if (c === DQUOTE || c === SQUOTE) {
    q = quotedEnd(line, p);
    if (q < 0) unread();
    v = c === DQUOTE ? doubleQuoted(line.slice(p, q)) : singleQuoted(line.slice(p, q));
  } else if (c === 91 /* [ */ || c === 123 /* { */) {
    const f = { line, p };
    v = flow(f, depth);
    q = f.p;
  } else {
    if (!plainStart(line, p, false)) unread();
    const hash = line.indexOf(' #', p);
    let end = hash < 0 ? line.length : hash;
    while (line.charCodeAt(end - 1) === SPACE) end--;
    const raw = line.slice(p, end);
    // `: ` inside or a `:` at the end would make it a key.
    if (raw.includes(': ') || raw.charCodeAt(raw.length - 1) === COLON) unread();
    return plainValue(raw);
  }
  restOfLine(line, q);
  return v;
}

/** After a value: nothing, or spaces and a comment. */
function restOfLine(line: string, q: number): void {
  let p = q;
  while (line.charCodeAt(p) === SPACE) p++;
  if (p === line.length) return;
  if (p > q && line.charCodeAt(p) === HASH) return;
  unread();
}

/** Index just past the closing quote of the quoted scalar at `p`, or -1 when it does not close on this line. */
function quotedEnd(line: string, p: number): number {
  if (line.charCodeAt(p) === DQUOTE) {
    // The next `"` that an even number of backslashes precedes.
    for (let q = line.indexOf('"', p + 1); q >= 0; q = line.indexOf('"', q + 1)) {
      let b = q - 1;
      while (line.charCodeAt(b) === 92 /* \ */) b--;
      if ((q - 1 - b) % 2 === 0) return q + 1;
    }
    return -1;
  }
  // `''` inside single quotes is a quote.
  for (let q = line.indexOf("'", p + 1); q >= 0; q = line.indexOf("'", q + 1)) {
    if (line.charCodeAt(q + 1) !== SQUOTE) return q + 1;
    q++;
  }
  return -1;
}

/**
 * A double-quoted scalar, with its quotes. JSON's escapes mean the same in YAML, and JSON.parse refuses YAML's
 * others (`\x41`, `\e`, `\N`, `\ ` …), which are then left to js-yaml.
 */
function doubleQuoted(token: string): string {
  // Without a backslash there is nothing to decode (raw control characters were left to js-yaml already).
  if (!token.includes('\\')) return token.slice(1, -1);
  try {
    return JSON.parse(token) as string;
  } catch {
    return unread();
  }
}

const singleQuoted = (token: string): string => token.slice(1, -1).replaceAll("''", "'");

// Characters a plain scalar may not start with (js-yaml's readPlainScalar), and `?`, `:` we do not read.
const NOT_PLAIN_START = new Set(' ,[]{}#&*!|>\'"%@`?:'.split('').map((c) => c.charCodeAt(0)));
const isFlowIndicator = (c: number) => c === 44 /* , */ || c === 91 || c === 93 || c === 123 || c === 125;

function plainStart(line: string, p: number, inFlow: boolean): boolean {
  const c = line.charCodeAt(p);
  if (Number.isNaN(c) || NOT_PLAIN_START.has(c)) return false;
  if (c === DASH) {
    const n = line.charCodeAt(p + 1);
    if (Number.isNaN(n) || n === SPACE || (inFlow && isFlowIndicator(n))) return false;
  }
  return true;
}

/** A flow collection that opens at f.p and closes on the same line; f.p ends just past it. */
function flow(f: { line: string; p: number }, depth: number): unknown {
  if (depth > MAX_DEPTH) unread();
  const { line } = f;
  const isSeq = line.charCodeAt(f.p) === 91;
  const close = isSeq ? 93 : 125;
  const seq: unknown[] = [];
  const map: Record<string, unknown> = {};
  let keys = 0;
  f.p++;
  skipSpaces(f);
  if (line.charCodeAt(f.p) === close) {
    f.p++;
    return isSeq ? seq : map;
  }
  for (;;) {
    if (isSeq) {
      seq.push(flowNode(f, depth + 1));
      skipSpaces(f);
    } else {
      // Keys: quoted, or plain ending right at `: ` (`{a:1}` would be the key "a:1" with no value).
      const c = line.charCodeAt(f.p);
      let k: string;
      if (c === DQUOTE || c === SQUOTE) {
        const q = quotedEnd(line, f.p);
        if (q < 0) unread();
        k = c === DQUOTE ? doubleQuoted(line.slice(f.p, q)) : singleQuoted(line.slice(f.p, q));
        f.p = q;
      } else {
        if (!plainStart(line, f.p, true)) unread();
        const start = f.p;
        const raw = flowPlain(f);
        if (f.p - start !== raw.length || line.charCodeAt(f.p + 1) !== SPACE) unread();
        k = String(plainValue(raw));
      }
      if (line.charCodeAt(f.p) !== COLON) unread();
      f.p++;
      skipSpaces(f);
      const n = line.charCodeAt(f.p);
      if (n === 44 || n === 125) unread(); // `{a: }`: a null value, left to js-yaml
      map[k] = flowNode(f, depth + 1);
      keys++;
      skipSpaces(f);
    }
    const c = line.charCodeAt(f.p);
    if (c === close) {
      f.p++;
      return isSeq ? seq : complete(map, keys);
    }
    if (c !== 44) unread(); // `[a: b]`, a second line, anything else
    f.p++;
    skipSpaces(f);
    if (line.charCodeAt(f.p) === close) unread(); // a trailing comma
  }
}

function skipSpaces(f: { line: string; p: number }): void {
  while (f.line.charCodeAt(f.p) === SPACE) f.p++;
}

function flowNode(f: { line: string; p: number }, depth: number): unknown {
  const { line } = f;
  const c = line.charCodeAt(f.p);
  if (c === 91 || c === 123) return flow(f, depth);
  if (c === DQUOTE || c === SQUOTE) {
    const q = quotedEnd(line, f.p);
    if (q < 0) unread();
    const token = line.slice(f.p, q);
    f.p = q;
    return c === DQUOTE ? doubleQuoted(token) : singleQuoted(token);
  }
  if (!plainStart(line, f.p, true)) unread();
  return plainValue(flowPlain(f));
}

/**
 * A plain scalar inside a flow collection, from f.p up to a flow indicator, a `:` that a space or indicator follows,
 * or a comment; trailing spaces dropped (f.p stops at the first of them). Running off the line is left to js-yaml.
 */
function flowPlain(f: { line: string; p: number }): string {
  const { line } = f;
  const start = f.p;
  let q = start;
  for (; q < line.length; q++) {
    const c = line.charCodeAt(q);
    if (isFlowIndicator(c)) break;
    if (c === COLON) {
      const n = line.charCodeAt(q + 1);
      if (n === SPACE || isFlowIndicator(n) || Number.isNaN(n)) break;
    }
    if (c === HASH && line.charCodeAt(q - 1) === SPACE) unread();
  }
  if (q === line.length) unread();
  let end = q;
  while (line.charCodeAt(end - 1) === SPACE) end--;
  f.p = end;
  return line.slice(start, end);
}

// js-yaml 4's implicit types for a plain scalar, in its order: null, bool, int, float, then timestamp and merge
// (those two are left to js-yaml: a template never means them).
const YAML_FLOAT =
  /^(?:[-+]?(?:[0-9]+)(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const YAML_FLOAT_SPECIAL = /^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const MAYBE_TIMESTAMP = /^[0-9][0-9][0-9][0-9]-/;

function plainValue(s: string): unknown {
  switch (s) {
    case '~':
    case 'null':
    case 'Null':
    case 'NULL':
      return null;
    case 'true':
    case 'True':
    case 'TRUE':
      return true;
    case 'false':
    case 'False':
    case 'FALSE':
      return false;
    case '<<':
      return unread();
  }
  const c = s.charCodeAt(0);
  // Only these can start a number (or a timestamp, or `<<`).
  if (!((c >= 48 && c <= 57) || c === DASH || c === 43 /* + */ || c === 46 /* . */)) return s;
  if (isYamlInteger(s)) return yamlInteger(s);
  if (YAML_FLOAT.test(s) && (Number.isFinite(parseFloat(s)) || YAML_FLOAT_SPECIAL.test(s))) return yamlFloat(s);
  if (MAYBE_TIMESTAMP.test(s)) unread();
  return s;
}

const isDec = (c: number) => c >= 48 && c <= 57;

/** js-yaml's resolveYamlInteger. */
function isYamlInteger(s: string): boolean {
  const max = s.length;
  let i = 0;
  let digits = false;
  if (!max) return false;
  let ch = s[i];
  if (ch === '-' || ch === '+') ch = s[++i];
  if (ch === '0') {
    if (i + 1 === max) return true;
    ch = s[++i];
    const radix = ch === 'b' ? 2 : ch === 'x' ? 16 : ch === 'o' ? 8 : 0;
    if (radix) {
      for (i++; i < max; i++) {
        const d = s.charCodeAt(i);
        const ok =
          radix === 2 ? d === 48 || d === 49 : radix === 8 ? d >= 48 && d <= 55 : isDec(d) || (d >= 65 && d <= 70) || (d >= 97 && d <= 102);
        if (!ok) return false;
        digits = true;
      }
      return digits && Number.isFinite(yamlInteger(s));
    }
  }
  for (; i < max; i++) {
    if (!isDec(s.charCodeAt(i))) return false;
    digits = true;
  }
  return digits && Number.isFinite(yamlInteger(s));
}

/** js-yaml's parseYamlInteger (note: `-0` is 0, a leading 0 is still decimal). */
function yamlInteger(data: string): number {
  let value = data;
  let sign = 1;
  let ch = value[0];
  if (ch === '-' || ch === '+') {
    if (ch === '-') sign = -1;
    value = value.slice(1);
    ch = value[0];
  }
  if (value === '0') return 0;
  if (ch === '0') {
    if (value[1] === 'b') return sign * parseInt(value.slice(2), 2);
    if (value[1] === 'x') return sign * parseInt(value.slice(2), 16);
    if (value[1] === 'o') return sign * parseInt(value.slice(2), 8);
  }
  return sign * parseInt(value, 10);
}

/** js-yaml's constructYamlFloat. */
function yamlFloat(data: string): number {
  let value = data.toLowerCase();
  const sign = value[0] === '-' ? -1 : 1;
  if ('+-'.includes(value[0]!)) value = value.slice(1);
  if (value === '.inf') return sign === 1 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  if (value === '.nan') return NaN;
  return sign * parseFloat(value);
}
