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
// The API version per release line (why each: lib/proto.mjs) and the .proto reader crd-schemas.mjs uses too.
import { RELEASES, parseProto, resolve, jsonName } from './lib/proto.mjs';

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
const SCALARS = {
  string: 'string',
  bytes: 'string',
  bool: 'bool',
  int32: 'int',
  sint32: 'int',
  sfixed32: 'int',
  uint32: 'uint',
  fixed32: 'uint',
  int64: 'int64',
  sint64: 'int64',
  sfixed64: 'int64',
  uint64: 'uint64',
  fixed64: 'uint64',
  double: 'number',
  float: 'number',
};

function typeOf(f, scope, symbols, queue) {
  const t = f.type;
  let out;
  const m = /^map<([^,]+),(.+)>$/.exec(t);
  if (m) return `map:${typeOf({ type: m[2] }, scope, symbols, queue)}`;
  if (SCALARS[t]) out = SCALARS[t];
  else if (WELL_KNOWN[t]) out = WELL_KNOWN[t];
  else {
    const full = resolve(t, scope, symbols);
    if (!full)
      out = 'any'; // outside the parsed files (k8s LabelSelector, ...): not checked
    else if (symbols.get(full).kind === 'enum') out = `enum:${full}`;
    else {
      queue.push(full);
      out = `msg:${full}`;
    }
  }
  return f.label === 'repeated' ? `list:${out}` : out;
}

function table(apiDir) {
  const symbols = new Map();
  for (const d of DIRS) {
    const dir = path.join(apiDir, d);
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.proto')))
      parseProto(fs.readFileSync(path.join(dir, f), 'utf8'), f, symbols);
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
    for (const f of msg.fields) {
      const ty = typeOf(f, msg.scope, symbols, queue);
      fields[jsonName(f)] = ty;
      for (const e of ty.match(/enum:[\w.]+/g) ?? []) enums[e.slice(5)] = symbols.get(e.slice(5)).values.map((v) => v.name);
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
  console.log(
    `${line}: ${Object.keys(t.messages).length} messages, ${Object.keys(t.messages[ROOT]).length} MeshConfig fields (${t.source})`,
  );
}
