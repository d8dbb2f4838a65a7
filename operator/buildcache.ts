import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { packageRoot } from './paths.js';

// A cold `istio-operator render` spent most of its time parsing the same shipped YAML (CRDs) and compiling the
// same Handlebars templates on every run. The build (operator/build/precompile.ts, after tsc) stores those
// results under dist/operator/cache. Every entry is keyed by the whole source text it was made from (compared,
// not hashed: exact, and cheaper than loading node:crypto), and the source is read again on every use: an edited
// file, a checkout never built, a cache from another parser version or no cache at all all fall back to parsing
// the source. A cache can only make a run faster, never change what it produces.

// Under dist/operator so that the package's `files` (dist/operator) ship it with the code that reads it.
export const cacheDir = path.join(packageRoot, 'dist', 'operator', 'cache');
export const DATA_CACHE_FILE = 'data.json';
/** Bump when what an entry means changes (new parser options, another shape). */
export const CACHE_FORMAT = 2;

/** Set to 1 to ignore the cache (comparisons, debugging a suspected cache problem). */
export const cacheDisabled = (): boolean => process.env.ISTIO_OPERATOR_NO_CACHE === '1';

/**
 * The parses worth caching, by name. A caller of `cachedParse` names the one it would run itself: an entry
 * made by PARSERS[name] from the same text is then exactly what its own parse would return.
 */
export const PARSERS = {
  // js-yaml's default schema, as the CRDs and manifests/values.yaml are read.
  yaml: (text: string): unknown => yaml.load(text),
  // Every document with the CORE schema, as IstioOperator files (and so the profiles) are read.
  yamlCoreAll: (text: string): unknown => yaml.loadAll(text, undefined, { schema: yaml.CORE_SCHEMA }),
} as const;
export type ParserName = keyof typeof PARSERS;

/** The versions of what produced the entries; a cache made by another version is not used. */
export function parserVersions(): string {
  const dir = path.dirname(fileURLToPath(import.meta.resolve('js-yaml')));
  // js-yaml's entry is dist/js-yaml.mjs: its package.json is one level up.
  for (const d of [dir, path.dirname(dir)]) {
    const f = path.join(d, 'package.json');
    if (fs.existsSync(f)) return `js-yaml@${(JSON.parse(fs.readFileSync(f, 'utf8')) as { version: string }).version}`;
  }
  return 'js-yaml@unknown';
}

export interface DataCache {
  format: number;
  parsers: string;
  /** [parser, source text, the parsed value as JSON text]: each use parses its own copy, which callers may mutate. */
  entries: Array<[ParserName, string, string]>;
}

/** source text → JSON, per parser: entries are content-addressed, the same text parses the same wherever it was read from. */
type Index = Map<string, Map<string, string>>;
let data: Index | null | undefined;

const stampMatches = (c: DataCache) => c.format === CACHE_FORMAT && c.parsers === parserVersions();

function indexOf(c: DataCache): Index {
  const index: Index = new Map();
  for (const [parser, text, json] of c.entries) {
    let m = index.get(parser);
    if (!m) index.set(parser, (m = new Map()));
    m.set(text, json);
  }
  return index;
}

function dataCache(): Index | null {
  if (data === undefined) {
    data = null;
    if (!cacheDisabled()) {
      try {
        const c = JSON.parse(fs.readFileSync(path.join(cacheDir, DATA_CACHE_FILE), 'utf8')) as DataCache;
        if (stampMatches(c)) data = indexOf(c);
      } catch {
        // No cache (never built, or unreadable): parse from source.
      }
    }
  }
  return data;
}

/** For tests: use this cache, judged as the file would be (undefined: read dist/operator/cache again on next use; null: none). */
export function resetDataCache(c?: DataCache | null): void {
  data = c ? (stampMatches(c) ? indexOf(c) : null) : c;
}

/**
 * `PARSERS[parser](text)`, from the build cache when the build parsed this exact text. `parse` is the caller's
 * own equivalent of that parser, run on a miss (it may add options that only change error messages).
 */
export function cachedParse(parser: ParserName, text: string, parse: () => unknown = () => PARSERS[parser](text)): unknown {
  const json = dataCache()?.get(parser)?.get(text);
  return json === undefined ? parse() : JSON.parse(json);
}
