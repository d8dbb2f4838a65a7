import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type FullHandlebars from 'handlebars';
import yaml from 'js-yaml';
import { CACHE_FORMAT, cacheDir, cacheDisabled } from '../buildcache.js';
import { manifestsDir } from '../paths.js';
import type { K8sObject } from '../api/types.js';
import type { Release } from '../api/releases.js';
import { has, type Feature } from './features.js';
import { requireGenerated } from './codecache.js';
import { readTemplateYaml } from './templateyaml.js';

// The Handlebars engine of render: one Handlebars environment with our helpers, each template compiled once per
// process (from the build's precompiled cache while its source is unchanged, else from source), and
// renderTemplate / renderComponentTemplates, which return objects: the text a template writes is read here
// (templateyaml.ts, js-yaml where it gives up) and never leaves this module.

const requireHere = createRequire(import.meta.url);
export const RUNTIME_BUNDLE_FILE = 'handlebars-runtime.cjs';
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
hb.registerHelper('toYaml', (v: unknown) =>
  v === undefined || v === null ? '' : yaml.dump(v, { lineWidth: -1, noRefs: true, sortKeys: false }).trimEnd(),
);
hb.registerHelper('indent', (n: number, s: unknown) =>
  String(s ?? '')
    .split('\n')
    .map((l) => (l ? ' '.repeat(n) + l : l))
    .join('\n'),
);
hb.registerHelper(
  'nindent',
  (n: number, s: unknown) =>
    '\n' +
    String(s ?? '')
      .split('\n')
      .map((l) => (l ? ' '.repeat(n) + l : l))
      .join('\n'),
);
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
hb.registerHelper('default', (v: unknown, d: unknown) =>
  v === undefined || v === null || v === '' || ((Array.isArray(v) || typeof v === 'object') && !truthy(v)) ? d : v,
);
hb.registerHelper('concat', (...args: unknown[]) =>
  args
    .slice(0, -1)
    .map((a) => String(a ?? ''))
    .join(''),
);
hb.registerHelper('empty', (v: unknown) => !truthy(v));
hb.registerHelper('hasKey', (o: unknown, k: string) => !!o && typeof o === 'object' && Object.prototype.hasOwnProperty.call(o, k));
hb.registerHelper('get', (o: unknown, p: string) => getPath(o, p));
hb.registerHelper('gt', (a: number, b: number) => a > b);
// Istio's image rule: a name with a `/` is a full reference; otherwise `<hub>/<name>:<tag>[-<variant>]`.
hb.registerHelper('image', (hub: unknown, name: unknown, tag: unknown, variant: unknown) => {
  const n = String(name ?? '');
  if (n.includes('/')) return n;
  const v = typeof variant === 'string' && variant ? `-${variant}` : '';
  return `${String(hub ?? '')}/${n}:${String(tag ?? '')}${v}`;
});
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
  // Our own template, compiled by Handlebars: evaluating its precompiled source is the build's path too.
  const spec = new Function(`return ${precompileSource(src)};`)() as TemplateSpecification;
  return hb.template(spec);
}
type TemplateSpecification = Parameters<typeof hb.template>[0];

/** The Handlebars files of a component folder: templates (`*.yaml.hbs`) and partials (`_*.hbs`). */
export function handlebarsFiles(component: string): string[] {
  return fs
    .readdirSync(path.join(manifestsDir, component))
    .filter((f) => f.endsWith('.hbs'))
    .sort();
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
    files = fs
      .readdirSync(path.join(manifestsDir, component))
      .filter((f) => f.endsWith('.yaml.hbs') && !f.startsWith('_'))
      .sort();
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
