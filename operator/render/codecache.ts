import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import vm from 'node:vm';

// Loads the CommonJS files the build generates into dist/operator/cache (the precompiled templates, the Handlebars
// runtime in one file) with V8's code cache, which the build writes beside them (build/precompile.ts).
// It stays because it pays (issue #13 item 7; measured 2026-12-04 on the shared 2-core machine, load average
// 11-16, this build against the same build with its .v8cache files removed): a whole `istio-operator render
// --set profile=default` used 191 ms of CPU with the caches and 209 ms without (mean of 60 fresh processes each,
// +-3 ms); in `npm run bench` (render, in process; 18 interleaved runs) a fresh process's imports took 114 ms
// against 137 ms and its first render 95 ms against 124 ms. A warm render does not change: V8 has compiled it.

const requireHere = createRequire(import.meta.url);

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
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${src}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
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
  return [...compiledGenerated]
    .filter(([file]) => !only || only(file))
    .map(([file, { id, script }]) => {
      const out = file + CODE_CACHE_SUFFIX;
      const tmp = `${out}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${codeCacheStamp(file, id)}\n`), script.createCachedData()]));
      fs.renameSync(tmp, out);
      return out;
    });
}
