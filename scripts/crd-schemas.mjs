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

// The istio.io/api version each release line's istiod is built with: the version pinned in the go.mod of the
// release's source (../shared/istio-src/istio-<tag>.tar.gz), or, where the Go module proxy does not serve that
// pseudo-version (checked 2026-12: 403 "not available"), the API's own tag of that release:
//   1.29.6       pins v1.29.6-0.20260710004629-1092f7f89789 (not served) → v1.29.6, the API tag of the same patch
//   1.30.3       pins v1.30.3-0.20260710004328-2e43f07b30b6 (served)     → that version
//   1.31.0-rc.0  pins v1.31.0-beta.0.0.20260814124108-6d586ec3b95d (not served) → v1.31.0, the API's 1.31 tag
// (test/istio/build.sh builds istiod 1.29.6 against v1.30.8 only because 1.29's pins do not compile with its other
// replaced modules; the schema of a 1.29 CRD is 1.29's API, so v1.29.6 here.) Same choice as meshconfig-table.mjs.
export const RELEASES = {
  '1.29': 'v1.29.6',
  '1.30': 'v1.30.3-0.20260710004328-2e43f07b30b6',
  '1.31': 'v1.31.0',
};

// The protos that define CRD kinds (those with `+cue-gen:<Kind>:groupName` markers), and those they import.
const KIND_DIRS = ['networking/v1alpha3', 'networking/v1beta1', 'security/v1beta1', 'telemetry/v1alpha1', 'extensions/v1alpha1'];
const DEP_DIRS = ['type/v1beta1', 'meta/v1alpha1', 'analysis/v1alpha1'];
/** The status of every Istio config object: istiod writes conditions and analysis messages. */
const STATUS = 'istio.meta.v1alpha1.IstioStatus';

// Our own words: one line per kind on `spec`, and on the printer columns. Nothing else in the schemas is described.
const SPEC_DESCRIPTIONS = {
  AuthorizationPolicy: 'Access control for workloads: which requests are allowed, denied or sent to an external authorizer (istio.io/docs/reference/config/security/authorization-policy/).',
  DestinationRule: 'Policies for traffic to a service after routing: load balancing, connection pool, outlier detection, TLS, subsets (istio.io/docs/reference/config/networking/destination-rule/).',
  EnvoyFilter: 'Patches to the Envoy configuration istiod generates (istio.io/docs/reference/config/networking/envoy-filter/).',
  Gateway: 'A load balancer at the edge of the mesh: the ports, protocols and TLS it serves (istio.io/docs/reference/config/networking/gateway/).',
  PeerAuthentication: 'Mutual TLS mode for traffic into workloads (istio.io/docs/reference/config/security/peer_authentication/).',
  ProxyConfig: 'Proxy settings for workloads (istio.io/docs/reference/config/networking/proxy-config/).',
  RequestAuthentication: 'Which JWTs a workload accepts (istio.io/docs/reference/config/security/request_authentication/).',
  ServiceEntry: 'Adds a service to the mesh registry: hosts, ports, endpoints, resolution (istio.io/docs/reference/config/networking/service-entry/).',
  Sidecar: 'Scope and ingress/egress listeners of the sidecar proxies of workloads (istio.io/docs/reference/config/networking/sidecar/).',
  Telemetry: 'Metrics, access logging and tracing for workloads (istio.io/docs/reference/config/telemetry/).',
  TrafficExtension: 'Extends the proxy with WebAssembly or Lua filters (istio.io/docs/reference/config/proxy_extensions/).',
  VirtualService: 'Traffic routing rules for a set of hosts (istio.io/docs/reference/config/networking/virtual-service/).',
  WasmPlugin: 'Extends the proxy with WebAssembly filters (istio.io/docs/reference/config/proxy_extensions/wasm-plugin/).',
  WorkloadEntry: 'A workload outside Kubernetes (a VM, a bare-metal host) as a mesh endpoint (istio.io/docs/reference/config/networking/workload-entry/).',
  WorkloadGroup: 'The template of WorkloadEntries that workloads outside Kubernetes register with (istio.io/docs/reference/config/networking/workload-group/).',
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
// A .proto reader: packages, nested messages and enums, fields (repeated, map, oneof members, options) with the
// comment lines directly above each declaration (where the markers are).

function tokenize(text) {
  const tokens = [];
  const lines = text.split('\n');
  const commentOnly = lines.map((l) => /^\s*\/\//.test(l));
  const re = /\/\/[^\n]*|\/\*[\s\S]*?\*\/|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[A-Za-z_][\w.]*|-?\d[\w.]*|\.[A-Za-z_][\w.]*|[{}\[\]=;<>(),:]|\n|\S/g;
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

function parseProto(text, file, symbols) {
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

function resolve(type, scope, symbols) {
  if (type.startsWith('.')) return symbols.has(type.slice(1)) ? type.slice(1) : undefined;
  const parts = scope.split('.');
  for (let n = parts.length; n >= 0; n--) {
    const cand = [...parts.slice(0, n), type].join('.');
    if (symbols.has(cand)) return cand;
  }
  return undefined;
}

/** protoc's JSON name: underscores dropped, the letter after each one upper-cased. */
const jsonName = (f) => f.options.json_name ?? f.name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

// ---------------------------------------------------------------------------------------------------------------
// Markers: `+name:args` lines of a comment; a quoted argument may go on over the next lines.

function markersOf(comments) {
  const out = [];
  for (let k = 0; k < comments.length; k++) {
    const line = comments[k].trim();
    if (!line.startsWith('+')) continue;
    let text = line.slice(1);
    // Printer column descriptions run over several lines: join until the quotes balance.
    while ((text.match(/"/g) ?? []).length % 2 === 1 && k + 1 < comments.length && /printerColumn/.test(text)) text += ' ' + comments[++k].trim();
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
// CEL: rules are parsed and printed back as the API server prints them (cel-go's unparser: double-quoted strings,
// parentheses only where precedence needs them). The API's helper functions are expanded first:
//   oneof(a, b, ...)     → (has(a) ? 1 : 0) + (has(b) ? 1 : 0) + ... <= 1
//   default(x, d)        → has(x) ? x : d
//   x.index(d, f, g...)  → (has(x.f) && has(x.f.g) ...) ? x.f.g : d

const PRECEDENCE = { '_?_:_': 8, '_||_': 7, '_&&_': 6, '_==_': 5, '_!=_': 5, '_<_': 5, '_<=_': 5, '_>_': 5, '_>=_': 5, '@in': 5, '_+_': 4, '_-_': 4, '_*_': 3, '_/_': 3, '_%_': 3, '!_': 2, '-_': 2, '_[_]': 1 };
const BINARY = { '_||_': '||', '_&&_': '&&', '_==_': '==', '_!=_': '!=', '_<_': '<', '_<=_': '<=', '_>_': '>', '_>=_': '>=', '@in': 'in', '_+_': '+', '_-_': '-', '_*_': '*', '_/_': '/', '_%_': '%' };

function parseCel(src, where) {
  const toks = [];
  const re = /\s+|(\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)|(0x[0-9a-fA-F]+u?|\d+u?)|([rR]?[bB]?[rR]?)("""[\s\S]*?"""|'''[\s\S]*?'''|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([A-Za-z_]\w*)|(\|\||&&|==|!=|<=|>=|[-+*/%!<>?:.,()[\]{}])/gy;
  let m;
  while (re.lastIndex < src.length) {
    const at = re.lastIndex;
    m = re.exec(src);
    if (!m || m.index !== at) throw new Error(`${where}: cannot read CEL rule at ${src.slice(at, at + 20)}: ${src}`);
    if (m[1]) toks.push({ k: 'num', v: { t: 'double', v: m[1] } });
    else if (m[2]) toks.push({ k: 'num', v: m[2].endsWith('u') ? { t: 'uint', v: m[2].slice(0, -1) } : { t: 'int', v: m[2] } });
    else if (m[4]) toks.push({ k: 'str', v: unquoteCel(m[4], /r/i.test(m[3] ?? '')), bytes: /b/i.test(m[3] ?? '') });
    else if (m[5]) toks.push({ k: 'id', v: m[5] });
    else if (m[6]) toks.push({ k: 'op', v: m[6] });
  }
  let p = 0;
  const peek = () => toks[p];
  const isOp = (v) => peek()?.k === 'op' && peek().v === v;
  const eat = (v) => {
    if (!isOp(v)) throw new Error(`${where}: expected ${v} in CEL rule: ${src}`);
    p++;
  };
  const call = (fn, args, target) => ({ k: 'call', fn, args, ...(target ? { target } : {}) });
  const expr = () => {
    const c = or();
    if (!isOp('?')) return c;
    p++;
    const a = or();
    eat(':');
    const b = expr();
    return call('_?_:_', [c, a, b]);
  };
  const chain = (next, ops) => () => {
    let l = next();
    for (;;) {
      const t = peek();
      const op = t && ((t.k === 'op' && ops[t.v]) || (t.k === 'id' && ops[t.v]));
      if (!op) return l;
      p++;
      l = call(op, [l, next()]);
    }
  };
  const mul = chain(() => unary(), { '*': '_*_', '/': '_/_', '%': '_%_' });
  const add = chain(mul, { '+': '_+_', '-': '_-_' });
  const rel = chain(add, { '<': '_<_', '<=': '_<=_', '>': '_>_', '>=': '_>=_', '==': '_==_', '!=': '_!=_', in: '@in' });
  const and = chain(rel, { '&&': '_&&_' });
  const or = chain(and, { '||': '_||_' });
  function unary() {
    if (isOp('!')) {
      p++;
      return call('!_', [unary()]);
    }
    if (isOp('-')) {
      p++;
      const e = unary();
      if (e.k === 'lit' && (e.t === 'int' || e.t === 'double') && !e.v.startsWith('-')) return { ...e, v: `-${e.v}` };
      return call('-_', [e]);
    }
    return member();
  }
  function args(close) {
    const out = [];
    while (!isOp(close)) {
      out.push(expr());
      if (isOp(',')) p++;
      else break;
    }
    eat(close);
    return out;
  }
  function member() {
    let e = primary();
    for (;;) {
      if (isOp('.')) {
        p++;
        const name = toks[p++].v;
        if (isOp('(')) {
          p++;
          e = call(name, args(')'), e);
        } else e = { k: 'select', operand: e, field: name };
      } else if (isOp('[')) {
        p++;
        const idx = expr();
        eat(']');
        e = call('_[_]', [e, idx]);
      } else return e;
    }
  }
  function primary() {
    const t = toks[p++];
    if (!t) throw new Error(`${where}: CEL rule ends early: ${src}`);
    if (t.k === 'num') return { k: 'lit', ...t.v };
    if (t.k === 'str') return { k: 'lit', t: t.bytes ? 'bytes' : 'string', v: t.v };
    if (t.k === 'id') {
      if (t.v === 'true' || t.v === 'false') return { k: 'lit', t: 'bool', v: t.v };
      if (t.v === 'null') return { k: 'lit', t: 'null', v: 'null' };
      if (isOp('(')) {
        p++;
        const a = args(')');
        if (t.v === 'has') {
          if (a.length !== 1 || a[0].k !== 'select') throw new Error(`${where}: has() takes a field selection: ${src}`);
          return { ...a[0], test: true };
        }
        return call(t.v, a);
      }
      return { k: 'ident', name: t.v };
    }
    if (t.v === '(') {
      const e = expr();
      eat(')');
      return e;
    }
    if (t.v === '[') return { k: 'list', elems: args(']') };
    if (t.v === '{') {
      const entries = [];
      while (!isOp('}')) {
        const key = expr();
        eat(':');
        entries.push([key, expr()]);
        if (isOp(',')) p++;
        else break;
      }
      eat('}');
      return { k: 'map', entries };
    }
    throw new Error(`${where}: unexpected ${t.v} in CEL rule: ${src}`);
  }
  const e = expr();
  if (p !== toks.length) throw new Error(`${where}: trailing text in CEL rule: ${src}`);
  return e;
}

function unquoteCel(q, raw) {
  const body = q.startsWith('"""') || q.startsWith("'''") ? q.slice(3, -3) : q.slice(1, -1);
  if (raw) return body;
  return body.replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|[0-7]{3}|.)/g, (_, e) => {
    const simple = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'", '`': '`', '?': '?' };
    if (e in simple) return simple[e];
    if (/^[uUx]/.test(e)) return String.fromCodePoint(parseInt(e.slice(1), 16));
    if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8));
    throw new Error(`unknown escape \\${e}`);
  });
}

/** Go's strconv.Quote, as cel-go prints string literals. */
function goQuote(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + '"';
}

function expandHelpers(e) {
  const has = (sel) => ({ ...sel, test: true });
  const ternary = (c, a, b) => ({ k: 'call', fn: '_?_:_', args: [c, a, b] });
  const lit = (v) => ({ k: 'lit', t: 'int', v: String(v) });
  const walk = (n) => {
    if (n.k === 'call') {
      const args = n.args.map(walk);
      const target = n.target ? walk(n.target) : undefined;
      if (!target && n.fn === 'oneof') {
        const terms = args.map((a) => ternary(has(a), lit(1), lit(0)));
        const sum = terms.slice(1).reduce((l, r) => ({ k: 'call', fn: '_+_', args: [l, r] }), terms[0]);
        return { k: 'call', fn: '_<=_', args: [sum, lit(1)] };
      }
      if (!target && n.fn === 'default') return ternary(has(args[0]), args[0], args[1]);
      if (target && n.fn === 'index') {
        const [dflt, ...fields] = args;
        let sel = target;
        const checks = [];
        for (const f of fields) {
          if (f.k !== 'ident') throw new Error(`index() takes field names, got ${JSON.stringify(f)}`);
          sel = { k: 'select', operand: sel, field: f.name };
          checks.push(has(sel));
        }
        const cond = checks.slice(1).reduce((l, r) => ({ k: 'call', fn: '_&&_', args: [l, r] }), checks[0]);
        return ternary(cond, sel, dflt);
      }
      return { ...n, args, ...(target ? { target } : {}) };
    }
    if (n.k === 'select') return { ...n, operand: walk(n.operand) };
    if (n.k === 'list') return { ...n, elems: n.elems.map(walk) };
    if (n.k === 'map') return { ...n, entries: n.entries.map(([k, v]) => [walk(k), walk(v)]) };
    return n;
  };
  return walk(e);
}

/** cel-go's unparser, with its default wrapping: after `&&` or `||` once a line reaches 80 columns. */
function unparse(e) {
  const isCall = (x) => x.k === 'call';
  const complex = (x) => isCall(x) && x.args.length >= 2 && !x.target;
  const prec = (x) => (isCall(x) && !x.target ? PRECEDENCE[x.fn] ?? 0 : 0);
  const lower = (op, x) => complex(x) && PRECEDENCE[op] < prec(x);
  const samePrec = (op, x) => isCall(x) && !x.target && PRECEDENCE[x.fn] !== undefined && PRECEDENCE[op] === PRECEDENCE[x.fn];
  const binOrTernary = (x) => complex(x) && (x.fn in BINARY || x.fn === '_?_:_');
  let out = '';
  let lastWrap = 0;
  const nested = (x, paren) => {
    if (paren) out += '(';
    un(x);
    if (paren) out += ')';
  };
  const operator = (fn, text) => {
    if ((fn === '_&&_' || fn === '_||_') && out.length - lastWrap + fn.length >= 80) {
      lastWrap = out.length;
      out += ` ${text}\n`;
    } else out += ` ${text} `;
  };
  const un = (x) => {
    switch (x.k) {
      case 'lit':
        out += x.t === 'string' ? goQuote(x.v) : x.t === 'bytes' ? `b${goQuote(x.v)}` : x.t === 'uint' ? `${x.v}u` : x.v;
        return;
      case 'ident':
        out += x.name;
        return;
      case 'list':
        out += '[';
        x.elems.forEach((y, i) => {
          if (i) out += ', ';
          un(y);
        });
        out += ']';
        return;
      case 'map':
        out += '{';
        x.entries.forEach(([k, v], i) => {
          if (i) out += ', ';
          un(k);
          out += ': ';
          un(v);
        });
        out += '}';
        return;
      case 'select':
        if (x.test) out += 'has(';
        nested(x.operand, !x.test && binOrTernary(x.operand));
        out += `.${x.field}`;
        if (x.test) out += ')';
        return;
      case 'call': {
        const a = x.args;
        if (x.fn === '_?_:_') {
          nested(a[0], samePrec('_?_:_', a[0]) || complex(a[0]));
          operator('_?_:_', '?');
          nested(a[1], samePrec('_?_:_', a[1]) || complex(a[1]));
          out += ' : ';
          nested(a[2], samePrec('_?_:_', a[2]) || complex(a[2]));
          return;
        }
        if (x.fn in BINARY && !x.target) {
          const left = lower(x.fn, a[0]);
          let right = lower(x.fn, a[1]);
          if (!right && x.fn !== '_&&_' && x.fn !== '_||_') right = samePrec(x.fn, a[1]);
          nested(a[0], left);
          operator(x.fn, BINARY[x.fn]);
          nested(a[1], right);
          return;
        }
        if ((x.fn === '!_' || x.fn === '-_') && !x.target) {
          out += x.fn[0];
          nested(a[0], complex(a[0]));
          return;
        }
        if (x.fn === '_[_]' && !x.target) {
          nested(a[0], binOrTernary(a[0]));
          out += '[';
          un(a[1]);
          out += ']';
          return;
        }
        if (x.target) {
          nested(x.target, binOrTernary(x.target));
          out += '.';
        }
        out += `${x.fn}(`;
        a.forEach((y, i) => {
          if (i) out += ', ';
          un(y);
        });
        out += ')';
        return;
      }
    }
    throw new Error(`cannot print CEL node ${JSON.stringify(x)}`);
  };
  un(e);
  return out;
}

export function canonicalCel(rule, where = 'rule') {
  return unparse(expandHelpers(parseCel(rule, where)));
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
      if (f.options['(google.api.field_behavior)'] === 'REQUIRED' || markers.includes('kubebuilder:validation:Required')) required.push(name);
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
    return { ...(kv.priority ? { priority: Number(kv.priority[0]) } : {}), description: COLUMN_DESCRIPTIONS[name], jsonPath: kv.JSONPath[0], name, type: kv.type[0] };
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
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.proto')).sort()) parseProto(fs.readFileSync(path.join(dir, f), 'utf8'), `${d}/${f}`, symbols);
  }
  const builder = new SchemaBuilder(symbols);
  return [...symbols.values()]
    .filter((s) => s.kind === 'message' && KIND_DIRS.some((d) => s.file.startsWith(`${d}/`)) && cueGen(s).some((g) => g.key === 'groupName'))
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
