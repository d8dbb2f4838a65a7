#!/usr/bin/env node
// Generates crds/meshconfig/<line>.json: the fields of istio.mesh.v1alpha1.MeshConfig and of every message
// it reaches, with their JSON types, as each Istio release defines them. Read from the istio.io/api Go module of
// that release (the module cache; `go mod download istio.io/api@<version>` fetches it):
//   node scripts/meshconfig-table.mjs            # all releases below
// Our own data, derived from the .proto files: validate.ts checks meshConfig (and defaultConfig, the proxy
// settings) against it, so a field a release does not have, or a value of the wrong type, is named before apply.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// The istio.io/api version each release line's istiod is built with (go.mod of the release; for 1.29 and 1.31 the
// pinned pre-release commit is not served, so the release's own tag of the API module).
const RELEASES = { '1.29': 'v1.29.6', '1.30': 'v1.30.3-0.20260710004328-2e43f07b30b6', '1.31': 'v1.31.0' };
const DIRS = ['mesh/v1alpha1', 'networking/v1alpha3', 'networking/v1beta1', 'type/v1beta1'];
const ROOT = 'istio.mesh.v1alpha1.MeshConfig';

const WELL_KNOWN = {
  'google.protobuf.Duration': 'duration',
  'google.protobuf.Struct': 'object',
  'google.protobuf.Value': 'any',
  'google.protobuf.ListValue': 'list:any',
  'google.protobuf.Any': 'object',
  'google.protobuf.Empty': 'object',
  'google.protobuf.Timestamp': 'string',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'string',
  'google.protobuf.Int32Value': 'int',
  'google.protobuf.UInt32Value': 'uint',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.DoubleValue': 'number',
  'google.protobuf.FloatValue': 'number',
};
const SCALARS = { string: 'string', bytes: 'string', bool: 'bool', int32: 'int', sint32: 'int', sfixed32: 'int', uint32: 'uint', fixed32: 'uint', int64: 'int64', sint64: 'int64', sfixed64: 'int64', uint64: 'uint64', fixed64: 'uint64', double: 'number', float: 'number' };

const camel = (s) => s.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

/** A small .proto reader: packages, nested messages and enums, fields (repeated, map, oneof members). */
function parseProto(text, symbols) {
  text = text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
  const pkg = /package\s+([\w.]+)\s*;/.exec(text)?.[1] ?? '';
  const tokens = text.match(/map\s*<[^>]+>|[A-Za-z_][\w.]*|\d+|"(?:[^"\\]|\\.)*"|[{}[\]=;<>(),]/g) ?? [];
  let i = 0;
  const skipTo = (tok) => {
    while (i < tokens.length && tokens[i] !== tok) i++;
    i++;
  };
  const skipBlock = () => {
    let depth = 0;
    do {
      if (tokens[i] === '{') depth++;
      else if (tokens[i] === '}') depth--;
      i++;
    } while (depth > 0 && i < tokens.length);
  };
  const parseBody = (full, kind) => {
    const entry = kind === 'message' ? { kind, fields: {}, scope: full } : { kind, values: [] };
    symbols.set(full, entry);
    i++; // {
    while (i < tokens.length && tokens[i] !== '}') {
      const t = tokens[i];
      if (t === 'message' || t === 'enum') {
        const name = tokens[i + 1];
        i += 2;
        parseBody(`${full}.${name}`, t);
        continue;
      }
      if (t === 'option' || t === 'reserved' || t === 'extensions') {
        skipTo(';');
        continue;
      }
      if (t === 'oneof') {
        i += 2; // oneof name
        i++; // {
        while (tokens[i] !== '}') {
          if (tokens[i] === 'option') {
            skipTo(';');
            continue;
          }
          readField(entry);
        }
        i++;
        continue;
      }
      if (t === ';') {
        i++;
        continue;
      }
      if (kind === 'enum') {
        if (tokens[i + 1] === '=') entry.values.push(t);
        skipTo(';');
        continue;
      }
      readField(entry);
    }
    i++; // }
  };
  const readField = (entry) => {
    let repeated = false;
    if (tokens[i] === 'repeated' || tokens[i] === 'optional') {
      repeated = tokens[i] === 'repeated';
      i++;
    }
    const type = tokens[i++];
    const name = tokens[i++];
    skipTo(';');
    // `[(google.api.field_behavior) = REQUIRED, json_name = "x"]` is consumed by skipTo; a json_name is rare in these files.
    entry.fields[name] = { type: type.replace(/\s+/g, ''), repeated };
  };
  while (i < tokens.length) {
    const t = tokens[i];
    if (t === 'message' || t === 'enum') {
      const name = tokens[i + 1];
      i += 2;
      parseBody(`${pkg}.${name}`, t);
    } else if (t === 'service') {
      i += 2;
      skipBlock();
    } else i++;
  }
  return pkg;
}

function resolve(type, scope, symbols) {
  if (type.startsWith('.')) return symbols.has(type.slice(1)) ? type.slice(1) : undefined;
  const parts = scope.split('.');
  for (let n = parts.length; n >= 0; n--) {
    const cand = [...parts.slice(0, n), type].join('.');
    if (symbols.has(cand)) return cand;
  }
  return undefined;
}

function typeOf(f, scope, symbols, queue) {
  const t = f.type;
  let out;
  const m = /^map<([^,]+),(.+)>$/.exec(t);
  if (m) return `map:${typeOf({ type: m[2] }, scope, symbols, queue)}`;
  if (SCALARS[t]) out = SCALARS[t];
  else if (WELL_KNOWN[t]) out = WELL_KNOWN[t];
  else {
    const full = resolve(t, scope, symbols);
    if (!full) out = 'any'; // outside the parsed files (k8s LabelSelector, ...): not checked
    else if (symbols.get(full).kind === 'enum') out = `enum:${full}`;
    else {
      queue.push(full);
      out = `msg:${full}`;
    }
  }
  return f.repeated ? `list:${out}` : out;
}

function table(apiDir) {
  const symbols = new Map();
  for (const d of DIRS) {
    const dir = path.join(apiDir, d);
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.proto'))) parseProto(fs.readFileSync(path.join(dir, f), 'utf8'), symbols);
  }
  if (!symbols.has(ROOT)) throw new Error(`${ROOT} not found under ${apiDir}`);
  const messages = {};
  const enums = {};
  const queue = [ROOT];
  while (queue.length) {
    const name = queue.shift();
    if (messages[name]) continue;
    const msg = symbols.get(name);
    const fields = {};
    for (const [fname, f] of Object.entries(msg.fields)) {
      const ty = typeOf(f, msg.scope, symbols, queue);
      fields[camel(fname)] = ty;
      for (const e of ty.match(/enum:[\w.]+/g) ?? []) enums[e.slice(5)] = symbols.get(e.slice(5)).values;
    }
    messages[name] = fields;
  }
  return { root: ROOT, messages, enums };
}

const modcache = execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
const outDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'crds', 'meshconfig');
fs.mkdirSync(outDir, { recursive: true });
for (const [line, version] of Object.entries(RELEASES)) {
  const dir = path.join(modcache, `istio.io/api@${version}`);
  if (!fs.existsSync(dir)) execFileSync('go', ['mod', 'download', `istio.io/api@${version}`], { stdio: 'inherit', cwd: '/' });
  const t = { release: line, source: `istio.io/api@${version}`, ...table(dir) };
  fs.writeFileSync(path.join(outDir, `${line}.json`), JSON.stringify(t) + '\n');
  console.log(`${line}: ${Object.keys(t.messages).length} messages, ${Object.keys(t.messages[ROOT]).length} MeshConfig fields (${t.source})`);
}
