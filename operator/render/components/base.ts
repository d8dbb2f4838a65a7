import fs from 'node:fs';
import path from 'node:path';
import { cachedParse } from '../../buildcache.js';
import { crdsDir } from '../../paths.js';
import type { RenderContext } from '../context.js';
import { renderComponentTemplates } from '../engine.js';
import type { K8sObject } from '../../api/types.js';
import { shareConstant } from '../serialize.js';
import { has, type Feature } from '../features.js';
import { DEFAULT_RELEASE, type Release } from '../../api/releases.js';

// The base component: Istio's config CRDs and the shared istio-reader ServiceAccount.
// Nothing here depends on the revision: every control-plane revision serves the same CRDs, so the objects
// are identical whichever revision renders them (apply may see them from several owners; that is by design).

/** `crds/istio/<line>/`: the CRDs of one release line, generated from that release's API (scripts/crd-schemas.mjs). */
export function istioCrdsDir(release: Release): string {
  return path.join(crdsDir, 'istio', release.line);
}

// Per release line, per CRD: everything but the spec as JSON text, parsed per render (callers mutate what we
// return: labels, overlays), and the spec's fields, copied per render into a spec of its own; the maps and lists
// among them (names, versions with their schemas: most of a CRD) are deep-frozen and shared by every render
// (shareConstant: changing them throws, overlays copy the path they change). Cloning them was a good part of a
// render, and their text is written once per process (serialize.ts). A line's files are read on its first render.
const crdCache = new Map<string, Array<{ head: string; spec?: Record<string, unknown> }>>();

function loadCrds(release: Release): Array<{ head: string; spec?: Record<string, unknown> }> {
  const dir = istioCrdsDir(release);
  if (!fs.existsSync(dir))
    throw new Error(`no CRDs for Istio ${release.line} (crds/istio/${release.line}/; node scripts/crd-schemas.mjs generates them)`);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      // Parsed by the build when the file is unchanged (dist/operator/cache): YAML parsing was most of a cold render.
      const doc = cachedParse('yaml', fs.readFileSync(path.join(dir, f), 'utf8')) as K8sObject;
      if (!doc || doc.kind !== 'CustomResourceDefinition')
        throw new Error(`crds/istio/${release.line}/${f} is not a CustomResourceDefinition`);
      if (typeof doc.spec !== 'object' || doc.spec === null || Array.isArray(doc.spec)) return { head: JSON.stringify(doc) };
      // Through JSON like the rest (as every render's copy was before): only plain data is shared.
      const spec = JSON.parse(JSON.stringify(doc.spec)) as Record<string, unknown>;
      for (const v of Object.values(spec)) if (typeof v === 'object' && v !== null) shareConstant(v);
      // `spec: 0` keeps the key in its place; a copy of the spec goes back there on every render.
      return { head: JSON.stringify({ ...doc, spec: 0 }), spec };
    });
}

/**
 * The Istio CRDs of `release`'s line as shipped in crds/istio/<line>/, parsed once per process and line (render is
 * called in loops by the controller). Every call returns new objects; their specs' maps and lists are shared.
 */
export function istioCrds(release: Release = DEFAULT_RELEASE): K8sObject[] {
  let entries = crdCache.get(release.line);
  if (!entries) crdCache.set(release.line, (entries = loadCrds(release)));
  return entries.map(({ head, spec }) => {
    const o = JSON.parse(head) as K8sObject;
    if (spec) o.spec = { ...spec };
    return o;
  });
}

/** CRDs that only some releases ship, with the feature that brings them; every other CRD is in every release. The
 *  files of a line (generated from its API) are the same set: test/unit/render/base.test.ts checks they agree. */
const CRD_FEATURES: Record<string, Feature> = { 'trafficextensions.extensions.istio.io': 'trafficExtensionsCrd' };

/** Whether `release`'s base chart installs the CRD named `name`. */
export function crdInRelease(name: string, release: Release): boolean {
  const f = CRD_FEATURES[name];
  return !f || has(release, f);
}

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function renderBase(ctx: RenderContext): K8sObject[] {
  const values = ctx.values ?? {};
  const global = values.global ?? {};
  const base = values.base ?? {};
  // Istio's resourceScope lets a cluster admin own cluster-scoped objects and a mesh admin the rest.
  const scope: string = global.resourceScope || 'all';
  const clusterScoped = scope !== 'namespace';
  const namespaced = scope !== 'cluster';

  const objects: K8sObject[] = [];
  // istioctl turns off enableIstioConfigCRDs for installs whose CRDs are managed elsewhere; enableCRDTemplates
  // is the Helm chart's switch for the same thing. Either off means no CRDs from us.
  if (clusterScoped && base.enableCRDTemplates !== false && base.enableIstioConfigCRDs !== false) {
    const excluded = new Set(list(base.excludedCRDs));
    for (const crd of istioCrds(ctx.release)) {
      if (excluded.has(crd.metadata.name) || !crdInRelease(crd.metadata.name, ctx.release)) continue;
      objects.push(crd);
    }
  }

  // A custom reader account (global.readerServiceAccount.name) replaces ours; pilot binds the ClusterRole to it.
  const customReader = !!(global.readerServiceAccount && global.readerServiceAccount.name);
  const view = {
    namespace: ctx.namespace || global.istioNamespace || 'istio-system',
    base: {
      readerServiceAccount: namespaced && global.enableReaderRBAC !== false && !customReader,
      imagePullSecrets: list(global.imagePullSecrets),
    },
  };
  objects.push(...renderComponentTemplates('base', view, { release: ctx.release }));
  return objects;
}
