// Read by scripts/crd-schemas.mjs and scripts/meshconfig-table.mjs: the istio.io/api version each release line's
// istiod is built with, and one .proto reader for both.

// The istio.io/api version each release line's istiod is built with: the version pinned in the go.mod of the
// release's source (../shared/istio-src/istio-<tag>.tar.gz), or, where the Go module proxy does not serve that
// pseudo-version (checked 2026-12: 403 "not available"), the API's own tag of that release:
//   1.29.6       pins v1.29.6-0.20260710004629-1092f7f89789 (not served) → v1.29.6, the API tag of the same patch
//   1.30.3       pins v1.30.3-0.20260710004328-2e43f07b30b6 (served)     → that version
//   1.31.0-rc.0  pins v1.31.0-beta.0.0.20260814124108-6d586ec3b95d (not served) → v1.31.0, the API's 1.31 tag
// (test/istio/build.sh builds istiod 1.29.6 against v1.30.8 only because 1.29's pins do not compile with its other
// replaced modules; the schema of a 1.29 CRD is 1.29's API, so v1.29.6 here.) Same choice as meshconfig-table.mjs.
export const RELEASES = {
  1.29: 'v1.29.6',
  '1.30': 'v1.30.3-0.20260710004328-2e43f07b30b6',
  1.31: 'v1.31.0',
};

// A .proto reader: packages, nested messages and enums, fields (repeated, map, oneof members, options) with the
// comment lines directly above each declaration (where the markers are).

export function tokenize(text) {
  const tokens = [];
  const lines = text.split('\n');
  const commentOnly = lines.map((l) => /^\s*\/\//.test(l));
  const re =
    /\/\/[^\n]*|\/\*[\s\S]*?\*\/|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[A-Za-z_][\w.]*|-?\d[\w.]*|\.[A-Za-z_][\w.]*|[{}[\]=;<>(),:]|\n|\S/g;
  let line = 0;
  for (const m of text.matchAll(re)) {
    const t = m[0];
    if (t === '\n') {
      line++;
      continue;
    }
    if (t.startsWith('//')) continue;
    if (t.startsWith('/*')) {
      line += (t.match(/\n/g) ?? []).length;
      continue;
    }
    tokens.push({ t, line });
  }
  /** The `//` lines directly above `line` (no blank line between), without the slashes. */
  const leading = (at) => {
    const out = [];
    for (let l = at - 1; l >= 0 && commentOnly[l]; l--) out.unshift(lines[l].replace(/^\s*\/\/ ?/, ''));
    return out;
  };
  return { tokens, leading };
}

export function parseProto(text, file, symbols) {
  const { tokens, leading } = tokenize(text);
  let i = 0;
  let pkg = '';
  const peek = (o = 0) => tokens[i + o]?.t;
  const skipTo = (tok) => {
    while (i < tokens.length && tokens[i].t !== tok) i++;
    i++;
  };
  const skipBlock = () => {
    let depth = 0;
    do {
      if (tokens[i].t === '{') depth++;
      else if (tokens[i].t === '}') depth--;
      i++;
    } while (depth > 0 && i < tokens.length);
  };
  /** `[a = b, (c.d) = e]` after a field: the options we use. */
  const readOptions = () => {
    const opts = {};
    if (peek() !== '[') return opts;
    i++;
    while (peek() !== ']') {
      let name = '';
      while (peek() !== '=') name += tokens[i++].t;
      i++;
      let value = '';
      let depth = 0;
      while (depth > 0 || (peek() !== ',' && peek() !== ']')) {
        const t = tokens[i++].t;
        if (t === '{' || t === '[') depth++;
        if (t === '}' || t === ']') depth--;
        value += t;
      }
      opts[name] = value.replace(/^"(.*)"$/, '$1');
      if (peek() === ',') i++;
    }
    i++;
    return opts;
  };
  const readField = (msg, oneof) => {
    const start = tokens[i];
    let label = '';
    if (peek() === 'repeated' || peek() === 'optional') label = tokens[i++].t;
    let type = tokens[i++].t;
    if (type === 'map') {
      // map < K , V >
      i++;
      const k = tokens[i++].t;
      i++;
      const v = tokens[i++].t;
      i++;
      type = `map<${k},${v}>`;
    }
    const name = tokens[i++].t;
    i++; // =
    const number = Number(tokens[i++].t);
    const options = readOptions();
    skipTo(';');
    msg.fields.push({ name, type, label, number, options, oneof, comments: leading(start.line) });
  };
  const parseBody = (full, kind, startLine) => {
    const entry =
      kind === 'message'
        ? { kind, name: full, fields: [], oneofs: [], scope: full, file, comments: leading(startLine) }
        : { kind, name: full, values: [], file, comments: leading(startLine) };
    symbols.set(full, entry);
    i++; // {
    while (i < tokens.length && peek() !== '}') {
      const t = peek();
      if (t === 'message' || t === 'enum') {
        const line = tokens[i].line;
        const name = peek(1);
        i += 2;
        parseBody(`${full}.${name}`, t, line);
        continue;
      }
      if (t === 'option' || t === 'reserved' || t === 'extensions') {
        skipTo(';');
        continue;
      }
      if (t === ';') {
        i++;
        continue;
      }
      if (kind === 'enum') {
        const name = t;
        i += 2; // name =
        i++; // number
        const options = readOptions();
        skipTo(';');
        entry.values.push({ name, options });
        continue;
      }
      if (t === 'oneof') {
        const name = peek(1);
        i += 3; // oneof name {
        const members = [];
        entry.oneofs.push({ name, members });
        while (peek() !== '}') {
          if (peek() === 'option') {
            skipTo(';');
            continue;
          }
          readField(entry, name);
          members.push(entry.fields[entry.fields.length - 1].name);
        }
        i++;
        continue;
      }
      readField(entry);
    }
    i++; // }
  };
  while (i < tokens.length) {
    const t = peek();
    if (t === 'package') {
      pkg = peek(1);
      skipTo(';');
    } else if (t === 'message' || t === 'enum') {
      const line = tokens[i].line;
      const name = peek(1);
      i += 2;
      parseBody(pkg ? `${pkg}.${name}` : name, t, line);
    } else if (t === 'service') {
      i += 2;
      skipBlock();
    } else i++;
  }
  return pkg;
}

export function resolve(type, scope, symbols) {
  if (type.startsWith('.')) return symbols.has(type.slice(1)) ? type.slice(1) : undefined;
  const parts = scope.split('.');
  for (let n = parts.length; n >= 0; n--) {
    const cand = [...parts.slice(0, n), type].join('.');
    if (symbols.has(cand)) return cand;
  }
  return undefined;
}

/** protoc's JSON name: underscores dropped, the letter after each one upper-cased. */
export const jsonName = (f) => f.options.json_name ?? f.name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
