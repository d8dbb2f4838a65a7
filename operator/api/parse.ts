import yaml from 'js-yaml';
import { cachedParse } from '../buildcache.js';
import { API_VERSION, KIND, type IstioOperator, type Values } from './types.js';
import { InputError, type FieldIssue } from './errors.js';

// YAML text → exactly one IstioOperator. The CORE schema keeps timestamps and other YAML 1.1 oddities
// as plain strings, so what the user wrote is what reaches validation.

export function loadYamlDocs(text: string, name: string): unknown[] {
  try {
    // Shipped profiles were parsed by the build (dist/operator/cache); any other text is parsed here.
    return cachedParse('yamlCoreAll', text, () => yaml.loadAll(text, undefined, { schema: yaml.CORE_SCHEMA, filename: name })) as unknown[];
  } catch (e) {
    if (e instanceof yaml.YAMLException) {
      const line = e.mark ? e.mark.line + 1 : undefined;
      const col = e.mark ? e.mark.column + 1 : undefined;
      throw new InputError(
        [
          {
            path: line ? `${name}:${line}${col ? ':' + col : ''}` : name,
            message: `YAML syntax error: ${e.reason}`,
            hint: line ? `line ${line}` : undefined,
          },
        ].map(dropUndefined),
      );
    }
    throw e;
  }
}

function dropUndefined(i: FieldIssue): FieldIssue {
  return i.hint === undefined ? { path: i.path, message: i.message } : i;
}

function isMap(x: unknown): x is Values {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Parse one file that must hold exactly one IstioOperator document (empty documents are ignored). */
export function parseIstioOperator(text: string, name = '<input>'): IstioOperator {
  const docs = loadYamlDocs(text, name).filter((d) => d !== null && d !== undefined);
  const issues: FieldIssue[] = [];
  if (docs.length === 0) {
    throw new InputError([
      { path: name, message: 'no IstioOperator document found', hint: `expected apiVersion: ${API_VERSION}, kind: ${KIND}` },
    ]);
  }
  if (docs.length > 1) {
    const kinds = docs.map((d) => (isMap(d) && typeof d.kind === 'string' ? d.kind : typeof d));
    throw new InputError([
      {
        path: name,
        message: `contains ${docs.length} documents (${kinds.join(', ')}); exactly one IstioOperator per file is allowed`,
        hint: 'split them into separate files and pass each with -f',
      },
    ]);
  }
  const doc = docs[0];
  if (!isMap(doc)) {
    throw new InputError([
      {
        path: name,
        message: `document is a ${Array.isArray(doc) ? 'list' : typeof doc}, not a mapping`,
        hint: `an IstioOperator (${API_VERSION})`,
      },
    ]);
  }
  if (doc.kind !== KIND) issues.push({ path: 'kind', message: `is ${JSON.stringify(doc.kind ?? null)}`, hint: `must be ${KIND}` });
  if (doc.apiVersion !== API_VERSION)
    issues.push({ path: 'apiVersion', message: `is ${JSON.stringify(doc.apiVersion ?? null)}`, hint: `must be ${API_VERSION}` });
  for (const k of Object.keys(doc)) {
    if (!['apiVersion', 'kind', 'metadata', 'spec', 'status'].includes(k)) {
      issues.push({ path: k, message: 'unknown top-level field', hint: 'valid: apiVersion, kind, metadata, spec, status' });
    }
  }
  if (doc.metadata !== undefined && doc.metadata !== null && !isMap(doc.metadata))
    issues.push({ path: 'metadata', message: 'must be a mapping' });
  if (doc.spec !== undefined && doc.spec !== null && !isMap(doc.spec)) issues.push({ path: 'spec', message: 'must be a mapping' });
  if (issues.length) throw new InputError(issues.map((i) => ({ ...i, path: `${name}: ${i.path}` })));
  const iop: IstioOperator = { apiVersion: API_VERSION, kind: KIND };
  if (isMap(doc.metadata)) iop.metadata = doc.metadata;
  iop.spec = isMap(doc.spec) ? doc.spec : {};
  if (doc.status !== undefined && doc.status !== null) iop.status = doc.status;
  return iop;
}
