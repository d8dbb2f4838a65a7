import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { packageRoot } from './paths.js';

// A cold `istio-operator render` spent most of its time parsing the same shipped YAML (CRDs) and compiling the
// same Handlebars templates on every run. The build (operator/render/precompile.ts, after tsc) stores those
// results under dist/operator/cache. Every entry is keyed by the sha256 of the exact source text it was made from, and
// the source is read and hashed on every use: an edited file, a checkout never built, a cache from another
// parser version or no cache at all all fall back to parsing the source. A cache can only make a run faster,
// never change what it produces.

// Under dist/operator so that the package's `files` (dist/operator) ship it with the code that reads it.
export const cacheDir = path.join(packageRoot, 'dist', 'operator', 'cache');
export const DATA_CACHE_FILE = 'data.json';
/** Bump when what an entry means changes (new parser options, another shape). */
export const CACHE_FORMAT = 1;

/** Set to 1 to ignore the cache (comparisons, debugging a suspected cache problem). */
export const cacheDisabled = (): boolean => process.env.ISTIO_OPERATOR_NO_CACHE === '1';

/** The key of a source text: its content, nothing else (mtimes change on checkout; content is what matters). */
export function contentKey(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

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
  /** `<parser>:<sha256 of the text>` → the parsed value as JSON text (each use parses its own copy to mutate). */
  entries: Record<string, string>;
}

/** Entries are content-addressed: the same text parses the same wherever it was read from. */
export const entryId = (parser: ParserName, text: string) => `${parser}:${contentKey(text)}`;

let data: DataCache | null | undefined;

const stampMatches = (c: DataCache) => c.format === CACHE_FORMAT && c.parsers === parserVersions();

function dataCache(): DataCache | null {
  if (data === undefined) {
    data = null;
    if (!cacheDisabled()) {
      try {
        const c = JSON.parse(fs.readFileSync(path.join(cacheDir, DATA_CACHE_FILE), 'utf8')) as DataCache;
        if (stampMatches(c)) data = c;
      } catch {
        // No cache (never built, or unreadable): parse from source.
      }
    }
  }
  return data;
}

/** For tests: use this cache, judged as the file would be (undefined: read dist/operator/cache again on next use; null: none). */
export function resetDataCache(c?: DataCache | null): void {
  data = c && !stampMatches(c) ? null : c;
}

/**
 * `PARSERS[parser](text)`, from the build cache when the build parsed this exact text. `parse` is the caller's
 * own equivalent of that parser, run on a miss (it may add options that only change error messages).
 */
export function cachedParse(parser: ParserName, text: string, parse: () => unknown = () => PARSERS[parser](text)): unknown {
  const cache = dataCache();
  const id = cache ? entryId(parser, text) : '';
  const json = cache && Object.prototype.hasOwnProperty.call(cache.entries, id) ? cache.entries[id] : undefined;
  return json === undefined ? parse() : JSON.parse(json);
}
