import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import vm from 'node:vm';
import type FullHandlebars from 'handlebars';
import yaml from 'js-yaml';
import { CACHE_FORMAT, cacheDir, cacheDisabled } from '../buildcache.js';
import { manifestsDir } from '../paths.js';
import type { K8sObject } from '../api/types.js';
import type { Release } from '../api/releases.js';
import { has, type Feature } from './features.js';

const requireHere = createRequire(import.meta.url);
export const RUNTIME_BUNDLE_FILE = 'handlebars-runtime.cjs';
export const CODE_CACHE_SUFFIX = '.v8cache';

/** The id a generated cache file carries on its second line (`// build: <id>`), new on every build. */
export const buildIdOf = (src: string): string | undefined => /^\/\/ build: (\S+)$/m.exec(src.slice(0, 400))?.[1];

/** file → what it was last compiled from and to. */
const compiledGenerated = new Map<string, { id: string; script: vm.Script }>();
const generatedLoads: Array<{ file: string; codeCache: 'none' | 'used' | 'rejected' }> = [];

/** Which generated files this process loaded, and whether V8 took their code cache (for tests and diagnosis). */
export const generatedFilesLoaded = () => generatedLoads.map((l) => ({ ...l }));

/**
 * `require` for the CommonJS files the build generates (dist/operator/cache), with V8's code cache that the build
 * wrote beside them: compiling their code was a good part of what a cold render still spent. A code cache is used
 * only when it carries the build id of the file being loaded (V8 itself checks only the source's length, and
 * rejects a cache made by another V8 version or with other flags, compiling from source then).
 */
export function requireGenerated(file: string): unknown {
  const src = fs.readFileSync(file, 'utf8');
  const id = buildIdOf(src);
  let cachedData: Buffer | undefined;
  if (id) {
    try {
      const buf = fs.readFileSync(file + CODE_CACHE_SUFFIX);
      const nl = buf.indexOf(10);
      if (nl > 0 && buf.subarray(0, nl).toString() === codeCacheStamp(file, id)) cachedData = buf.subarray(nl + 1);
    } catch {
      // No code cache: V8 compiles from source.
    }
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${src}\n})`, { filename: file, ...(cachedData ? { cachedData } : {}) });
  if (id) compiledGenerated.set(file, { id, script });
  generatedLoads.push({ file, codeCache: !cachedData ? 'none' : script.cachedDataRejected ? 'rejected' : 'used' });
  const m = { exports: {} as unknown };
  (script.runInThisContext() as (...args: unknown[]) => void)(m.exports, requireHere, m, file, path.dirname(file));
  return m.exports;
}

/** What a code cache must have been made for: this build of the file, not touched since (a hand edit keeps the id). */
function codeCacheStamp(file: string, id: string): string {
  const st = fs.statSync(file);
  return `${id} ${st.size} ${st.mtimeMs}`;
}

/**
 * Build step: V8's code cache of the generated files as this process has compiled them. Called after rendering,
 * so the functions a render runs are in it, not just the top level. Returns the files written.
 */
export function writeCodeCaches(only?: (file: string) => boolean): string[] {
  return [...compiledGenerated].filter(([file]) => !only || only(file)).map(([file, { id, script }]) => {
    const out = file + CODE_CACHE_SUFFIX;
    const tmp = `${out}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${codeCacheStamp(file, id)}\n`), script.createCachedData()]));
    fs.renameSync(tmp, out);
    return out;
  });
}

/** What dist/operator/cache/handlebars-runtime.cjs exports: the runtime's files in one, and what they were made from. */
export interface RuntimeBundle {
  format: number;
  /** The file `require('handlebars/runtime')` resolves to, relative to the cache folder. */
  entry: string;
  /** [file relative to the cache folder, size, mtimeMs] of every file in the bundle. */
  files: Array<[string, number, number]>;
  load(): unknown;
}

/** True when the bundle holds exactly the files `require('handlebars/runtime')` would load now. */
export function runtimeBundleCurrent(b: RuntimeBundle): boolean {
  if (b.format !== CACHE_FORMAT || requireHere.resolve('handlebars/runtime') !== path.resolve(cacheDir, b.entry)) return false;
  return b.files.every(([rel, size, mtimeMs]) => {
    const st = fs.statSync(path.resolve(cacheDir, rel), { throwIfNoEntry: false });
    return !!st && st.size === size && st.mtimeMs === mtimeMs;
  });
}

// The runtime only: the compiler (parser, code generator, source maps) is loaded when a template has to be
// compiled from source, which a built package never needs (templates are precompiled into dist/operator/cache).
// The build also joins the runtime's ~20 CommonJS files into one: loading them one by one cost more than the
// rest of the cache saves. It is used only while every file it was made from is unchanged (size and mtime).
function loadHandlebarsRuntime(): typeof FullHandlebars {
  if (!cacheDisabled()) {
    try {
      const b = requireGenerated(path.join(cacheDir, RUNTIME_BUNDLE_FILE)) as RuntimeBundle;
      if (runtimeBundleCurrent(b)) return b.load() as typeof FullHandlebars;
    } catch {
      // Not built: the installed files.
    }
  }
  return requireHere('handlebars/runtime') as typeof FullHandlebars;
}
const Handlebars = loadHandlebarsRuntime();

// One Handlebars environment for the whole process: helpers registered once, templates compiled once.
const hb = Handlebars.create();

// Every value enters a template through `json`: JSON is valid YAML, so a user string with newlines,
// `: `, `#` or `{{` stays one scalar and can never change the document's structure.
hb.registerHelper('json', (v: unknown) => JSON.stringify(v === undefined ? null : v));
// Block YAML for readability where the value is ours (defaults, computed objects), still structure-safe:
// js-yaml quotes whatever needs quoting.
hb.registerHelper('toYaml', (v: unknown) => (v === undefined || v === null ? '' : yaml.dump(v, { lineWidth: -1, noRefs: true, sortKeys: false }).trimEnd()));
hb.registerHelper('indent', (n: number, s: unknown) => String(s ?? '').split('\n').map((l) => (l ? ' '.repeat(n) + l : l)).join('\n'));
hb.registerHelper('nindent', (n: number, s: unknown) => '\n' + String(s ?? '').split('\n').map((l) => (l ? ' '.repeat(n) + l : l)).join('\n'));
// `#if` and `#unless` judge as Go templates do: an empty map or list is false. Handlebars' own `#if {}` is true,
// which rendered `annotations: {}` when no annotation was set; once a controller adds one to the live object,
// that empty map claims the whole annotations field for our field manager (a write on every apply).
type BlockOptions = { fn: (ctx: unknown) => string; inverse: (ctx: unknown) => string };
hb.registerHelper('if', function (this: unknown, cond: unknown, options: BlockOptions) {
  return truthy(typeof cond === 'function' ? cond.call(this) : cond) ? options.fn(this) : options.inverse(this);
});
hb.registerHelper('unless', function (this: unknown, cond: unknown, options: BlockOptions) {
  return truthy(typeof cond === 'function' ? cond.call(this) : cond) ? options.inverse(this) : options.fn(this);
});
hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
hb.registerHelper('ne', (a: unknown, b: unknown) => a !== b);
hb.registerHelper('not', (a: unknown) => !truthy(a));
hb.registerHelper('and', (...args: unknown[]) => args.slice(0, -1).every(truthy));
hb.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(truthy));
// Like Helm's `default` for nil, "" and empty collections (a profile's `seccompProfile: {}` means unset); false
// and 0 stay, since they are settings.
hb.registerHelper('default', (v: unknown, d: unknown) => (v === undefined || v === null || v === '' || ((Array.isArray(v) || typeof v === 'object') && !truthy(v)) ? d : v));
hb.registerHelper('concat', (...args: unknown[]) => args.slice(0, -1).map((a) => String(a ?? '')).join(''));
hb.registerHelper('empty', (v: unknown) => !truthy(v));
hb.registerHelper('hasKey', (o: unknown, k: string) => !!o && typeof o === 'object' && Object.prototype.hasOwnProperty.call(o, k));
hb.registerHelper('get', (o: unknown, p: string) => getPath(o, p));
hb.registerHelper('gt', (a: number, b: number) => a > b);
// `{{#if (has "feature")}}`: whether the release being rendered has a behaviour of Istio's charts (render/features.ts).
hb.registerHelper('has', (feature: Feature, options: { data?: { release?: Release } }) => {
  const release = options?.data?.release;
  if (!release) throw new Error(`template asks (has "${feature}") but no release was given to render it`);
  return has(release, feature);
});

/** What every template of one render may read as @data: the release being rendered. */
export interface TemplateData {
  release?: Release;
}

/** Like Helm's truthiness: empty maps and lists are false too. */
export function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === 'object') return Object.keys(v).length > 0;
  return !!v;
}

export function getPath(o: unknown, p: string): unknown {
  let cur: unknown = o;
  for (const part of p.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

type Compiled = FullHandlebars.TemplateDelegate;
const cache = new Map<string, Compiled>();
const partialsLoaded = new Set<string>();

/** How every template and partial is compiled (a partial is compiled with the options of its caller). */
export const COMPILE_OPTIONS = Object.freeze({ noEscape: true, strict: false, preventIndent: true });
export const TEMPLATE_CACHE_FILE = 'templates.cjs';

/** What dist/operator/cache/templates.cjs exports: Handlebars.precompile output per template, with the source it was made from. */
export interface TemplateCache {
  format: number;
  handlebars: string;
  options: string;
  templates: Record<string, { source: string; spec: object }>;
}

/** The fingerprint a template cache must carry to be used: same format, compiler version and options. */
export function templateCacheStamp(): Omit<TemplateCache, 'templates'> {
  return { format: CACHE_FORMAT, handlebars: Handlebars.VERSION, options: JSON.stringify(COMPILE_OPTIONS) };
}

let templateCache: TemplateCache | null | undefined;

function stampMatches(c: TemplateCache): boolean {
  const want = templateCacheStamp();
  return c.format === want.format && c.handlebars === want.handlebars && c.options === want.options;
}

function loadTemplateCache(): TemplateCache | null {
  if (templateCache === undefined) {
    templateCache = null;
    if (!cacheDisabled()) {
      try {
        const c = requireGenerated(path.join(cacheDir, TEMPLATE_CACHE_FILE)) as TemplateCache;
        if (stampMatches(c)) templateCache = c;
      } catch {
        // Never built: compile from source.
      }
    }
  }
  return templateCache;
}

/**
 * For tests: forget what was compiled, and use this template cache from now on (judged as the file would be;
 * undefined: read dist/operator/cache again on next use; null: none).
 */
export function resetTemplateCache(c?: TemplateCache | null): void {
  templateCache = c && !stampMatches(c) ? null : c;
  cache.clear();
  listings.clear();
  for (const component of partialsLoaded) {
    for (const name of Object.keys(hb.partials)) if (name.startsWith(`${component}/`)) hb.unregisterPartial(name);
  }
  partialsLoaded.clear();
}

let fullHandlebars: typeof FullHandlebars | undefined;

/** The template's source compiled to a spec (JavaScript text) as the build step stores it. */
export function precompileSource(src: string): string {
  fullHandlebars ??= requireHere('handlebars') as typeof FullHandlebars;
  return fullHandlebars.precompile(src, { ...COMPILE_OPTIONS }) as string;
}

/** `manifests/<id>` as a template bound to our helpers: precompiled by the build if its source is unchanged. */
function templateOf(id: string): Compiled {
  return templateFrom(id, fs.readFileSync(path.join(manifestsDir, id), 'utf8'));
}

/** A template made from `src`: the build's spec of `id` if it was made from this very source, else compiled here. */
function templateFrom(id: string, src: string): Compiled {
  const entry = loadTemplateCache()?.templates[id];
  if (entry && entry.source === src) return hb.template(entry.spec as TemplateSpecification);
  // Same path as the build (precompile, then the runtime's template()), so cached and fresh behave alike.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- our own template, compiled by Handlebars
  const spec = new Function(`return ${precompileSource(src)};`)() as TemplateSpecification;
  return hb.template(spec);
}
type TemplateSpecification = Parameters<typeof hb.template>[0];

/** The Handlebars files of a component folder: templates (`*.yaml.hbs`) and partials (`_*.hbs`). */
export function handlebarsFiles(component: string): string[] {
  return fs.readdirSync(path.join(manifestsDir, component)).filter((f) => f.endsWith('.hbs')).sort();
}

function loadPartials(component: string): void {
  if (partialsLoaded.has(component)) return;
  for (const f of handlebarsFiles(component)) {
    if (f.startsWith('_')) hb.registerPartial(`${component}/${f.slice(1, -4)}`, templateOf(`${component}/${f}`));
  }
  partialsLoaded.add(component);
}

const listings = new Map<string, string[]>();

/** Template files of a component, in name order (deterministic), partials (`_*.hbs`) excluded. */
export function templateFiles(component: string): string[] {
  // Listed once per process, like the templates themselves are compiled once (a render lists every component).
  let files = listings.get(component);
  if (!files) {
    files = fs.readdirSync(path.join(manifestsDir, component)).filter((f) => f.endsWith('.yaml.hbs') && !f.startsWith('_')).sort();
    listings.set(component, files);
  }
  return [...files];
}

function compiled(component: string, file: string): Compiled {
  const key = `${component}/${file}`;
  let t = cache.get(key);
  if (!t) {
    loadPartials(component);
    t = templateOf(key);
    cache.set(key, t);
  }
  return t;
}

/** For tests: called with every template's output text, before it is read. */
export const templateOutputHook: { onText?: (template: string, text: string) => void } = {};

/** Renders one template and parses it at once: objects leave this function, never text. */
export function renderTemplate(component: string, file: string, context: object, data: TemplateData = {}): K8sObject[] {
  return objectsOf(component, file, compiled(component, file)(context, { data }));
}

function objectsOf(component: string, file: string, text: string): K8sObject[] {
  templateOutputHook.onText?.(`${component}/${file}`, text);
  let docs: unknown[];
  try {
    docs = readTemplateYaml(text) ?? yaml.loadAll(text);
  } catch (e) {
    // A template bug, not user input (user strings enter through `json`): say which template.
    throw new Error(`template manifests/${component}/${file} produced invalid YAML: ${(e as Error).message}`);
  }
  return docs.filter((d): d is K8sObject => !!d && typeof d === 'object' && 'kind' in (d as object));
}

// A component's templates run as partials of one template made for the component, each one's text followed by
// TEMPLATE_END: Handlebars merges and wraps every helper on each top-level call (a few µs and KB each), so once
// per component rather than once per template. The text is then split back per template. TEMPLATE_END is a
// control character no template writes (user strings enter through `json`, which escapes it); should one appear
// anyway, the count is off and each template runs on its own, as before.
const TEMPLATE_END = '\u0001';
/** Template-cache id of a component's combined template. */
export const COMPONENT_TEMPLATE_PREFIX = '@component/';

/** The source of a component's combined template: every template of the folder, in name order, as a partial. */
export function componentSource(component: string): string {
  return templateFiles(component)
    .map((f) => `{{> "${component}/@${f}"}}${TEMPLATE_END}`)
    .join('');
}

function componentTemplate(component: string, files: string[]): Compiled {
  const id = `${COMPONENT_TEMPLATE_PREFIX}${component}`;
  let t = cache.get(id);
  if (!t) {
    // Registered under the component's prefix, like its `_*.hbs` partials (and forgotten with them).
    for (const f of files) hb.registerPartial(`${component}/@${f}`, compiled(component, f));
    t = templateFrom(id, componentSource(component));
    cache.set(id, t);
  }
  return t;
}

/** Renders every template of a component folder. */
export function renderComponentTemplates(component: string, context: object, data: TemplateData = {}): K8sObject[] {
  const files = templateFiles(component);
  if (!files.length) return [];
  const texts = componentTemplate(component, files)(context, { data }).split(TEMPLATE_END);
  if (texts.length !== files.length + 1) return files.flatMap((f) => renderTemplate(component, f, context, data));
  return files.flatMap((f, i) => objectsOf(component, f, texts[i]!));
}

/** A raw text file beside the templates (e.g. injection templates, which are Go templates and must not go through Handlebars). */
export function readManifestText(component: string, file: string): string {
  return fs.readFileSync(path.join(manifestsDir, component, file), 'utf8');
}

// Istio's image rule: a name with a `/` is a full reference; otherwise `<hub>/<name>:<tag>[-<variant>]`.
hb.registerHelper('image', (hub: unknown, name: unknown, tag: unknown, variant: unknown) => {
  const n = String(name ?? '');
  if (n.includes('/')) return n;
  const v = typeof variant === 'string' && variant ? `-${variant}` : '';
  return `${String(hub ?? '')}/${n}:${String(tag ?? '')}${v}`;
});

// ---------------------------------------------------------------------------------------------------------------
// Reading what the templates produce. js-yaml took a third of a render on this text (~30 KB per render), most of it
// on a handful of shapes: block mappings and sequences, one-line flow collections (`[get, list]`, `{name: x}`, and
// the JSON of the `json` helper), quoted and plain scalars, comments. readTemplateYaml reads exactly those shapes and
// gives up (undefined) on anything else, leaving the whole text to js-yaml: block scalars, multi-line scalars or
// flow collections, anchors, tags, merge keys, timestamps, tabs, control characters, duplicate keys, odd indentation.
// What it accepts it reads as js-yaml's default schema does (the resolution of plain scalars below follows js-yaml
// 4's int, float, null and bool types); test/unit/render/templateyaml.test.ts compares the two on every template
// output of the golden inputs and on mutations of them.

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
    if (p === 0 && (line.startsWith('---') || line.startsWith('...') || c === 37 /* % */)) {
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
      out.push(block(r, indent, false, depth + 1));
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
const YAML_FLOAT = /^(?:[-+]?(?:[0-9]+)(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
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
        const ok = radix === 2 ? d === 48 || d === 49 : radix === 8 ? d >= 48 && d <= 55 : isDec(d) || (d >= 65 && d <= 70) || (d >= 97 && d <= 102);
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
