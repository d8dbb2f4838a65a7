#!/usr/bin/env node
// Generates crds/istio/<line>/<plural>.<group>.yaml: the CustomResourceDefinitions of Istio's config kinds
// (VirtualService, DestinationRule, ...) for each release line we support, with OpenAPI schemas derived here from
// the .proto files of the istio.io/api Go module that the release's istiod is built with (the module cache;
// `go mod download istio.io/api@<version>` fetches it, as scripts/meshconfig-table.mjs does):
//   node scripts/crd-schemas.mjs             # every line below
//   node scripts/crd-schemas.mjs 1.30        # one line
//   node scripts/crd-schemas.mjs --check     # exit 1 when a generated file differs from what is committed
//
// What comes from the API and why: Istio's CRDs are generated from these protos (proto types → OpenAPI types,
// comment markers → validations), and the API server validates user objects with those schemas. The types,
// enums, formats, required fields, oneofs, bounds and CEL rules (with their messages) are facts of the API that a
// CRD must state to validate as Istio's CRDs do, so we read them from the same protos:
//   - `+cue-gen:<Kind>:...` markers: group, versions (the first listed is stored), scope, names, categories,
//     short names, printer columns, status subresource, `spec` required;
//   - field types: scalars, enums, maps, repeated fields, wrappers (nullable), Duration (a string with a CEL duration
//     check), Timestamp, Struct (free-form), oneofs (`oneOf`, `allOf` for several), `(google.api.field_behavior) =
//     REQUIRED`;
//   - `+kubebuilder:validation:*`, `+protoc-gen-crd:*` and `+kubebuilder:altName` markers of fields and messages;
//   - CEL rules are parsed and written back in canonical form, with the API's helper functions expanded
//     (`oneof(a, b)`, `default(x, d)`, `x.index(d, f...)`), as the API server would print them.
// What is ours: this code, and the descriptions (a few words per CRD and column; the proto comments are not
// copied). Labels are ours too: render adds the legacy ones for the lines that still had them (base.ts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { RELEASES, parseProto, resolve, jsonName } from './lib/proto.mjs';
import { canonicalCel } from './lib/cel.mjs';

export { canonicalCel, RELEASES };

// The protos that define CRD kinds (those with `+cue-gen:<Kind>:groupName` markers), and those they import.
const KIND_DIRS = ['networking/v1alpha3', 'networking/v1beta1', 'security/v1beta1', 'telemetry/v1alpha1', 'extensions/v1alpha1'];
const DEP_DIRS = ['type/v1beta1', 'meta/v1alpha1', 'analysis/v1alpha1'];
/** The status of every Istio config object: istiod writes conditions and analysis messages. */
const STATUS = 'istio.meta.v1alpha1.IstioStatus';

// Our own words: one line per kind on `spec`, and on the printer columns. Nothing else in the schemas is described.
const SPEC_DESCRIPTIONS = {
  AuthorizationPolicy:
    'Access control for workloads: which requests are allowed, denied or sent to an external authorizer (istio.io/docs/reference/config/security/authorization-policy/).',
  DestinationRule:
    'Policies for traffic to a service after routing: load balancing, connection pool, outlier detection, TLS, subsets (istio.io/docs/reference/config/networking/destination-rule/).',
  EnvoyFilter: 'Patches to the Envoy configuration istiod generates (istio.io/docs/reference/config/networking/envoy-filter/).',
  Gateway:
    'A load balancer at the edge of the mesh: the ports, protocols and TLS it serves (istio.io/docs/reference/config/networking/gateway/).',
  PeerAuthentication: 'Mutual TLS mode for traffic into workloads (istio.io/docs/reference/config/security/peer_authentication/).',
  ProxyConfig: 'Proxy settings for workloads (istio.io/docs/reference/config/networking/proxy-config/).',
  RequestAuthentication: 'Which JWTs a workload accepts (istio.io/docs/reference/config/security/request_authentication/).',
  ServiceEntry:
    'Adds a service to the mesh registry: hosts, ports, endpoints, resolution (istio.io/docs/reference/config/networking/service-entry/).',
  Sidecar: 'Scope and ingress/egress listeners of the sidecar proxies of workloads (istio.io/docs/reference/config/networking/sidecar/).',
  Telemetry: 'Metrics, access logging and tracing for workloads (istio.io/docs/reference/config/telemetry/).',
  TrafficExtension: 'Extends the proxy with WebAssembly or Lua filters (istio.io/docs/reference/config/proxy_extensions/).',
  VirtualService: 'Traffic routing rules for a set of hosts (istio.io/docs/reference/config/networking/virtual-service/).',
  WasmPlugin: 'Extends the proxy with WebAssembly filters (istio.io/docs/reference/config/proxy_extensions/wasm-plugin/).',
  WorkloadEntry:
    'A workload outside Kubernetes (a VM, a bare-metal host) as a mesh endpoint (istio.io/docs/reference/config/networking/workload-entry/).',
  WorkloadGroup:
    'The template of WorkloadEntries that workloads outside Kubernetes register with (istio.io/docs/reference/config/networking/workload-group/).',
};
const STATUS_DESCRIPTION = 'Written by istiod: conditions and validation messages.';
const COLUMN_DESCRIPTIONS = {
  Action: 'What the policy does: ALLOW, DENY, AUDIT or CUSTOM.',
  Address: 'Address of the workload.',
  Age: 'Time since the object was created.',
  Gateways: 'Gateways and sidecars (mesh) that apply the routes.',
  Host: 'Service the rule applies to.',
  Hosts: 'Hosts of the object.',
  Location: 'Whether the service is inside or outside the mesh.',
  Mode: 'Mutual TLS mode.',
  Resolution: 'How the addresses of the hosts are resolved.',
};

const DURATION_RULE = { message: 'must be a valid duration greater than 1ms', rule: "duration(self) >= duration('1ms')" };

// ---------------------------------------------------------------------------------------------------------------
// Markers: `+name:args` lines of a comment; a quoted argument may go on over the next lines.

function markersOf(comments) {
  const out = [];
  for (let k = 0; k < comments.length; k++) {
    const line = comments[k].trim();
    if (!line.startsWith('+')) continue;
    let text = line.slice(1);
    // Printer column descriptions run over several lines: join until the quotes balance.
    while ((text.match(/"/g) ?? []).length % 2 === 1 && k + 1 < comments.length && /printerColumn/.test(text))
      text += ' ' + comments[++k].trim();
    out.push(text);
  }
  return out;
}

/** `message="...",rule="..."`: the rule is everything up to the line's last quote (rules quote strings inside). */
function xValidation(args, where) {
  const m = /^message="(.*?)",rule="(.*)"$/.exec(args.trim());
  if (!m) throw new Error(`${where}: cannot read XValidation marker ${args}`);
  return { message: m[1], rule: canonicalCel(m[2], where) };
}

/** `+kubebuilder:validation:<Name>=<value>` and the list/map value variants, as schema keywords. */
function applyValidation(schema, name, value, where) {
  const num = () => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Error(`${where}: ${name} needs a number, got ${value}`);
    return n;
  };
  switch (name) {
    case 'Minimum':
      schema.minimum = num();
      break;
    case 'Maximum':
      schema.maximum = num();
      break;
    case 'MinLength':
      schema.minLength = num();
      break;
    case 'MaxLength':
      schema.maxLength = num();
      break;
    case 'MinItems':
      schema.minItems = num();
      break;
    case 'MaxItems':
      schema.maxItems = num();
      break;
    case 'MinProperties':
      schema.minProperties = num();
      break;
    case 'MaxProperties':
      schema.maxProperties = num();
      break;
    case 'Pattern':
      schema.pattern = value.replace(/^"(.*)"$|^`(.*)`$/, '$1$2');
      break;
    case 'Format':
      schema.format = value;
      break;
    case 'Type':
      schema.type = value;
      break;
    case 'Enum':
      schema.enum = value.split(';');
      break;
    case 'XValidation':
      (schema['x-kubernetes-validations'] ??= []).push(xValidation(value, where));
      break;
    case 'XIntOrString':
      for (const k of Object.keys(schema)) delete schema[k];
      Object.assign(schema, { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true });
      break;
    case 'Required':
    case 'Optional':
      break;
    default:
      throw new Error(`${where}: unknown validation marker ${name}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Schemas.

const SCALARS = {
  string: () => ({ type: 'string' }),
  bytes: () => ({ type: 'string', format: 'byte' }),
  bool: () => ({ type: 'boolean' }),
  int32: () => ({ type: 'integer', format: 'int32' }),
  sint32: () => ({ type: 'integer', format: 'int32' }),
  sfixed32: () => ({ type: 'integer', format: 'int32' }),
  uint32: () => ({ type: 'integer', minimum: 0, maximum: 4294967295 }),
  fixed32: () => ({ type: 'integer', minimum: 0, maximum: 4294967295 }),
  int64: () => ({ type: 'integer', format: 'int64' }),
  sint64: () => ({ type: 'integer', format: 'int64' }),
  sfixed64: () => ({ type: 'integer', format: 'int64' }),
  uint64: () => ({ type: 'integer', minimum: 0 }),
  fixed64: () => ({ type: 'integer', minimum: 0 }),
  double: () => ({ type: 'number', format: 'double' }),
  float: () => ({ type: 'number', format: 'float' }),
};
const WELL_KNOWN = {
  'google.protobuf.Duration': () => ({ type: 'string', 'x-kubernetes-validations': [{ ...DURATION_RULE }] }),
  'google.protobuf.Timestamp': () => ({ type: 'string', format: 'date-time' }),
  'google.protobuf.Struct': () => ({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true }),
  'google.protobuf.Value': () => ({ 'x-kubernetes-preserve-unknown-fields': true }),
  'google.protobuf.ListValue': () => ({ type: 'array', items: { 'x-kubernetes-preserve-unknown-fields': true } }),
  'google.protobuf.Any': () => ({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true }),
  'google.protobuf.Empty': () => ({ type: 'object' }),
  'google.protobuf.BoolValue': () => ({ type: 'boolean', nullable: true }),
  'google.protobuf.StringValue': () => ({ type: 'string', nullable: true }),
  'google.protobuf.BytesValue': () => ({ type: 'string', format: 'byte', nullable: true }),
  'google.protobuf.Int32Value': () => ({ type: 'integer', format: 'int32', nullable: true }),
  'google.protobuf.UInt32Value': () => ({ type: 'integer', minimum: 0, maximum: 4294967295, nullable: true }),
  'google.protobuf.Int64Value': () => ({ type: 'integer', format: 'int64', nullable: true }),
  'google.protobuf.UInt64Value': () => ({ type: 'integer', minimum: 0, nullable: true }),
  'google.protobuf.DoubleValue': () => ({ type: 'number', format: 'double', nullable: true }),
  'google.protobuf.FloatValue': () => ({ type: 'number', format: 'float', nullable: true }),
};

class SchemaBuilder {
  constructor(symbols) {
    this.symbols = symbols;
  }

  /** The schema of a field's value type (no repetition), with the message's own validations. */
  typeSchema(type, scope, where, stack) {
    if (SCALARS[type]) return SCALARS[type]();
    const full = type.startsWith('google.protobuf.') ? type : resolve(type, scope, this.symbols);
    if (full && WELL_KNOWN[full]) return WELL_KNOWN[full]();
    if (!full) throw new Error(`${where}: unknown type ${type}`);
    const sym = this.symbols.get(full);
    if (sym.kind === 'enum') return { type: 'string', enum: sym.values.map((v) => v.name) };
    return this.message(full, stack);
  }

  message(full, stack = []) {
    if (stack.includes(full)) throw new Error(`recursive message ${[...stack, full].join(' → ')}`);
    const msg = this.symbols.get(full);
    const schema = { type: 'object', properties: {} };
    const required = [];
    for (const f of msg.fields) {
      const where = `${full}.${f.name}`;
      const name = jsonName(f);
      const markers = markersOf(f.comments);
      const fs = this.field(f, msg.scope, where, markers, [...stack, full]);
      schema.properties[name] = fs;
      for (const mk of markers) {
        const alt = /^kubebuilder:altName=(\w+)$/.exec(mk);
        if (alt) schema.properties[alt[1]] = structuredClone(fs);
      }
      if (f.options['(google.api.field_behavior)'] === 'REQUIRED' || markers.includes('kubebuilder:validation:Required'))
        required.push(name);
    }
    if (required.length) schema.required = required;
    const oneofs = msg.oneofs.map((o) => {
      const names = o.members.map((n) => jsonName(msg.fields.find((f) => f.name === n)));
      return [{ not: { anyOf: names.map((n) => ({ required: [n] })) } }, ...names.map((n) => ({ required: [n] }))];
    });
    if (oneofs.length === 1) schema.oneOf = oneofs[0];
    else if (oneofs.length > 1) schema.allOf = oneofs.map((o) => ({ oneOf: o }));
    for (const mk of markersOf(msg.comments)) {
      const v = /^kubebuilder:validation:(\w+)(?:[=:](.*))?$/.exec(mk);
      if (v) applyValidation(schema, v[1], v[2] ?? '', full);
    }
    if (!Object.keys(schema.properties).length) delete schema.properties;
    return schema;
  }

  field(f, scope, where, markers, stack) {
    const map = /^map<([^,]+),(.+)>$/.exec(f.type);
    let schema;
    let value; // the schema list/map value validations apply to
    if (map) {
      value = this.typeSchema(map[2], scope, where, stack);
      schema = { type: 'object', additionalProperties: value };
    } else if (f.label === 'repeated') {
      value = this.typeSchema(f.type, scope, where, stack);
      schema = { type: 'array', items: value };
    } else {
      schema = this.typeSchema(f.type, scope, where, stack);
    }
    for (const mk of markers) {
      let m;
      if ((m = /^kubebuilder:validation:(\w+)(?:[=:](.*))?$/.exec(mk))) applyValidation(schema, m[1], m[2] ?? '', where);
      else if ((m = /^protoc-gen-crd:validation:(\w+)(?::(.*))?$/.exec(mk))) {
        if (m[1] === 'XIntOrString') applyValidation(schema, 'XIntOrString', '', where);
        else if (m[1] === 'IgnoreSubValidation') {
          const drop = new Set(JSON.parse(m[2]));
          const rules = schema['x-kubernetes-validations']?.filter((r) => !drop.has(r.message));
          if (rules?.length) schema['x-kubernetes-validations'] = rules;
          else delete schema['x-kubernetes-validations'];
        } else throw new Error(`${where}: unknown marker +${mk}`);
      } else if ((m = /^protoc-gen-crd:(list|map)-value-validation:(\w+)(?:[=:](.*))?$/.exec(mk))) {
        if (!value) throw new Error(`${where}: +${mk} on a field that is no ${m[1]}`);
        applyValidation(value, m[2], m[3] ?? '', where);
      } else if (mk === 'protoc-gen-crd:duration-validation:none') {
        const target = value ?? schema;
        target['x-kubernetes-validations'] = target['x-kubernetes-validations']?.filter((r) => r.rule !== DURATION_RULE.rule);
        if (!target['x-kubernetes-validations']?.length) delete target['x-kubernetes-validations'];
      } else if ((m = /^listType=(\w+)$/.exec(mk))) schema['x-kubernetes-list-type'] = m[1];
      else if ((m = /^listMapKey=(\w+)$/.exec(mk))) (schema['x-kubernetes-list-map-keys'] ??= []).push(m[1]);
    }
    return schema;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CRDs: one per message with `+cue-gen:<Kind>:groupName`.

function cueGen(msg) {
  const out = [];
  for (const mk of markersOf(msg.comments)) {
    const m = /^cue-gen:(\w+):(\w+)(?::(.*))?$/.exec(mk);
    if (m) out.push({ kind: m[1], key: m[2], value: m[3] ?? '' });
  }
  return out;
}

/** `a=b,c="d, e",f=g` → { a: 'b', c: 'd, e', f: 'g' }. */
function keyValues(s) {
  const out = {};
  for (const m of s.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|[^,]*)/g)) (out[m[1]] ??= []).push(m[2].replace(/^"(.*)"$/s, '$1'));
  return out;
}

function crdOf(msg, builder, apiVersion) {
  const gen = cueGen(msg);
  const kind = gen[0].kind;
  const one = (key) => gen.find((g) => g.key === key)?.value;
  const all = (key) => gen.filter((g) => g.key === key).map((g) => g.value);
  const group = one('groupName');
  const versions = one('versions').split(',');
  // `categories=istio-io,networking-istio-io,shortNames=vs,plural=x`: a bare word after a comma continues the list
  // before it.
  const resource = {};
  let current;
  for (const part of (one('resource') ?? '').split(',')) {
    const kv = /^(\w+)=(.*)$/.exec(part);
    if (kv) (resource[(current = kv[1])] ??= []).push(kv[2]);
    else if (current) resource[current].push(part);
  }
  const plural = resource.plural?.[0] ?? `${kind.toLowerCase()}s`;
  const names = {
    categories: resource.categories ?? [],
    kind,
    listKind: `${kind}List`,
    plural,
    ...(resource.shortNames ? { shortNames: resource.shortNames } : {}),
    singular: kind.toLowerCase(),
  };
  const columns = all('printerColumn').map((c) => {
    const kv = keyValues(c);
    const name = kv.name[0];
    if (!COLUMN_DESCRIPTIONS[name]) throw new Error(`${kind}: no description of ours for printer column ${name}`);
    return {
      ...(kv.priority ? { priority: Number(kv.priority[0]) } : {}),
      description: COLUMN_DESCRIPTIONS[name],
      jsonPath: kv.JSONPath[0],
      name,
      type: kv.type[0],
    };
  });
  const spec = builder.message(msg.name);
  if (!SPEC_DESCRIPTIONS[kind]) throw new Error(`${kind}: no description of ours`);
  spec.description = SPEC_DESCRIPTIONS[kind];
  for (const p of all('preserveUnknownFields')) {
    if (p === 'false') continue;
    // A path of fields (`[]` steps into list items): that field keeps what it is not told about.
    let s = spec;
    for (const step of p.split('.')) s = step === '[]' ? s.items : s.properties?.[step];
    if (!s) throw new Error(`${kind}: preserveUnknownFields path ${p} not in the schema`);
    s['x-kubernetes-preserve-unknown-fields'] = true;
  }
  const status = { ...builder.message(STATUS), description: STATUS_DESCRIPTION, 'x-kubernetes-preserve-unknown-fields': true };
  const root = { properties: { spec, status }, ...(all('spec').includes('required') ? { required: ['spec'] } : {}), type: 'object' };
  const subresources = all('subresource').includes('status') ? { status: {} } : undefined;
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      annotations: { 'helm.sh/resource-policy': 'keep' },
      labels: { 'app.kubernetes.io/part-of': 'istio' },
      name: `${plural}.${group}`,
    },
    spec: {
      group,
      names,
      scope: one('scope') ?? 'Namespaced',
      versions: [...versions].sort().map((v) => ({
        ...(columns.length ? { additionalPrinterColumns: columns } : {}),
        name: v,
        schema: { openAPIV3Schema: root },
        served: true,
        storage: v === versions[0],
        ...(subresources ? { subresources } : {}),
      })),
    },
  };
  return { crd, kind, group, plural, file: msg.file, apiVersion };
}

export function generate(apiDir, apiVersion) {
  const symbols = new Map();
  for (const d of [...KIND_DIRS, ...DEP_DIRS]) {
    const dir = path.join(apiDir, d);
    if (!fs.existsSync(dir)) continue;
    for (const f of fs
      .readdirSync(dir)
      .filter((x) => x.endsWith('.proto'))
      .sort())
      parseProto(fs.readFileSync(path.join(dir, f), 'utf8'), `${d}/${f}`, symbols);
  }
  const builder = new SchemaBuilder(symbols);
  return [...symbols.values()]
    .filter(
      (s) => s.kind === 'message' && KIND_DIRS.some((d) => s.file.startsWith(`${d}/`)) && cueGen(s).some((g) => g.key === 'groupName'),
    )
    .map((m) => crdOf(m, builder, apiVersion))
    .sort((a, b) => a.crd.metadata.name.localeCompare(b.crd.metadata.name));
}

export function render({ crd, kind, group, file, apiVersion }, line) {
  const head =
    `# ${kind} (${group}) as Istio ${line} serves it. Generated by scripts/crd-schemas.mjs from ${file} of\n` +
    `# istio.io/api@${apiVersion}; do not edit (run the script again). helm.sh/resource-policy: keep, as Istio marks its CRDs:\n` +
    `# removing a CRD deletes every object of its kind, so uninstalling Istio leaves CRDs in place.\n`;
  return head + yaml.dump(crd, { lineWidth: -1, noRefs: true, sortKeys: true });
}

// ---------------------------------------------------------------------------------------------------------------

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const lines = args.filter((a) => !a.startsWith('--'));
  const modcache = execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
  const outRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'crds', 'istio');
  let stale = 0;
  for (const [line, version] of Object.entries(RELEASES)) {
    if (lines.length && !lines.includes(line)) continue;
    const dir = path.join(modcache, `istio.io/api@${version}`);
    if (!fs.existsSync(dir)) execFileSync('go', ['mod', 'download', `istio.io/api@${version}`], { stdio: 'inherit', cwd: '/' });
    const crds = generate(dir, version);
    const outDir = path.join(outRoot, line);
    const want = new Map(crds.map((c) => [`${c.crd.metadata.name}.yaml`, render(c, line)]));
    if (check) {
      const have = fs.existsSync(outDir) ? fs.readdirSync(outDir).filter((f) => f.endsWith('.yaml')) : [];
      for (const f of new Set([...have, ...want.keys()])) {
        const p = path.join(outDir, f);
        if (!want.has(f) || !fs.existsSync(p) || fs.readFileSync(p, 'utf8') !== want.get(f)) {
          console.error(`stale: crds/istio/${line}/${f}`);
          stale++;
        }
      }
      continue;
    }
    fs.mkdirSync(outDir, { recursive: true });
    for (const f of fs.readdirSync(outDir)) if (f.endsWith('.yaml') && !want.has(f)) fs.rmSync(path.join(outDir, f));
    for (const [f, text] of want) fs.writeFileSync(path.join(outDir, f), text);
    console.log(`${line}: ${crds.length} CRDs (istio.io/api@${version})`);
  }
  if (stale) process.exitCode = 1;
}
