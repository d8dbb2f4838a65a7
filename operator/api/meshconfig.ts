import fs from 'node:fs';
import path from 'node:path';
import { crdsDir } from '../paths.js';
import type { FieldIssue } from './errors.js';
import { isMap } from './merge.js';

// meshConfig checked against the MeshConfig of the chosen release: every field name and its type, down through
// defaultConfig (ProxyConfig: the proxies' settings) and every message they reach. The tables are generated from
// each release's istio.io/api .proto files by scripts/meshconfig-table.mjs (crds/meshconfig/<line>.json), so a
// field that only a newer release has is refused for an older one, naming the release.

interface Table {
  release: string;
  source: string;
  root: string;
  messages: Record<string, Record<string, string>>;
  enums: Record<string, string[]>;
}

const tables = new Map<string, Table | null>();

function tableFor(line: string): Table | undefined {
  if (!tables.has(line)) {
    const file = path.join(crdsDir, 'meshconfig', `${line}.json`);
    tables.set(line, fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Table) : null);
  }
  return tables.get(line) ?? undefined;
}

/** The MeshConfig field names of a release (top level), or undefined when no table exists for it. */
export function meshConfigFields(line: string): string[] | undefined {
  const t = tableFor(line);
  return t ? Object.keys(t.messages[t.root]!) : undefined;
}

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const DURATION = /^-?\d+(\.\d{1,9})?s$/;
const INT_RANGE: Record<string, [number, number]> = {
  int: [-(2 ** 31), 2 ** 31 - 1],
  uint: [0, 2 ** 32 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Issues of `value` (a meshConfig) at `at` against release `line`'s MeshConfig. */
export function checkMeshConfig(
  value: unknown,
  at: string,
  line: string,
  didYouMean: (w: string, c: string[]) => string | undefined,
): FieldIssue[] {
  const t = tableFor(line);
  const out: FieldIssue[] = [];
  if (!t || value === undefined || value === null) return out;
  const release = `Istio ${line}`;
  const check = (type: string, v: unknown, p: string): void => {
    if (v === null || v === undefined) return;
    const bad = (expected: string, hint?: string): void => {
      out.push({ path: p, message: `must be ${expected}, got ${typeName(v)}`, ...(hint ? { hint } : {}) });
    };
    if (type.startsWith('list:')) {
      if (!Array.isArray(v)) return bad('a list');
      v.forEach((x, i) => check(type.slice(5), x, `${p}[${i}]`));
      return;
    }
    if (type.startsWith('map:')) {
      if (!isMap(v)) return bad('a mapping');
      for (const [k, x] of Object.entries(v)) check(type.slice(4), x, `${p}.${k}`);
      return;
    }
    if (type.startsWith('msg:')) {
      if (!isMap(v)) return bad('a mapping');
      const fields = t.messages[type.slice(4)] ?? {};
      const known = Object.keys(fields);
      for (const [k, x] of Object.entries(v)) {
        // protobuf JSON accepts the lowerCamel name and the .proto (snake_case) name.
        const name = k in fields ? k : known.find((f) => snake(f) === k);
        if (!name) {
          const near = didYouMean(k, known);
          out.push({
            path: `${p}.${k}`,
            message: `is not a field of ${type.slice(4).split('.').pop()} in ${release}`,
            hint: near
              ? `did you mean "${near}"?`
              : known.length <= 25
                ? `valid: ${known.join(', ')}`
                : `see the ${type.slice(4)} reference of ${release}`,
          });
          continue;
        }
        check(fields[name]!, x, `${p}.${k}`);
      }
      return;
    }
    if (type.startsWith('enum:')) {
      const values = t.enums[type.slice(5)] ?? [];
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < values.length) return;
      if (typeof v !== 'string' || !values.includes(v))
        out.push({ path: p, message: `${JSON.stringify(v)} is not valid`, hint: `one of: ${values.join(', ')}` });
      return;
    }
    switch (type) {
      case 'string':
        if (typeof v !== 'string')
          bad('a string', typeof v === 'number' || typeof v === 'boolean' ? `quote it: "${String(v)}"` : undefined);
        return;
      case 'bool':
        if (typeof v !== 'boolean') bad('true or false');
        return;
      case 'number':
        if (typeof v !== 'number' && !(typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)))) bad('a number');
        return;
      case 'duration':
        if (typeof v !== 'string' || !DURATION.test(v))
          out.push({
            path: p,
            message: `${JSON.stringify(v)} is not a protobuf duration`,
            hint: 'seconds with an "s", e.g. "10s" or "0.5s" (meshConfig durations are protobuf Durations: "1m" is not accepted)',
          });
        return;
      case 'int':
      case 'uint':
      case 'int64':
      case 'uint64': {
        // 64-bit integers travel as strings in protobuf JSON; both forms are accepted.
        const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
        const [lo, hi] = INT_RANGE[type]!;
        if (typeof n !== 'number' || !Number.isInteger(n)) return bad('an integer');
        if (n < lo || n > hi) out.push({ path: p, message: `${n} is out of range`, hint: `an integer from ${lo} to ${hi}` });
        // Ports: proxyListenPort, proxyAdminPort, statusPort, ... (0 leaves the default).
        else if (/Port$/.test(p) && (n < 0 || n > 65535))
          out.push({ path: p, message: `${n} is not a port`, hint: 'a port number from 1 to 65535 (0 leaves the default)' });
        return;
      }
      default:
        return; // any, object: not checked further
    }
  };
  check(`msg:${t.root}`, value, at);
  return out;
}
