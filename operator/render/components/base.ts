import fs from 'node:fs';
import path from 'node:path';
import { cachedParse } from '../../buildcache.js';
import { crdsDir } from '../../paths.js';
import type { RenderContext } from '../context.js';
import { renderComponentTemplates } from '../engine.js';
import type { K8sObject } from '../../api/types.js';
import { shareConstant } from '../serialize.js';
import { has, type Feature } from '../features.js';
import type { Release } from '../../api/releases.js';

// The base component: Istio's config CRDs and the shared istio-reader ServiceAccount.
// Nothing here depends on the revision: every control-plane revision serves the same CRDs, so the objects
// are identical whichever revision renders them (apply may see them from several owners; that is by design).

const istioCrdsDir = path.join(crdsDir, 'istio');

// Per CRD: everything but the spec as JSON text, parsed per render (callers mutate what we return: labels,
// overlays), and the spec's fields, copied per render into a spec of its own; the maps and lists among them (names,
// versions with their schemas: most of a CRD) are deep-frozen and shared by every render (shareConstant: changing
// them throws, overlays copy the path they change). Cloning them was a good part of a render, and their text can
// be written once per process (serialize.ts).
let crdCache: Array<{ head: string; spec?: Record<string, unknown> }> | undefined;

/** The Istio CRDs as shipped in crds/istio, parsed once per process (render is called in loops by the controller). */
export function istioCrds(): K8sObject[] {
  if (!crdCache) {
    crdCache = fs
      .readdirSync(istioCrdsDir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => {
        // Parsed by the build when the file is unchanged (dist/operator/cache): YAML parsing was most of a cold render.
        const doc = cachedParse('yaml', fs.readFileSync(path.join(istioCrdsDir, f), 'utf8')) as K8sObject;
        if (!doc || doc.kind !== 'CustomResourceDefinition') throw new Error(`crds/istio/${f} is not a CustomResourceDefinition`);
        if (typeof doc.spec !== 'object' || doc.spec === null || Array.isArray(doc.spec)) return { head: JSON.stringify(doc) };
        // Through JSON like the rest (as every render's copy was before): only plain data is shared.
        const spec = JSON.parse(JSON.stringify(doc.spec)) as Record<string, unknown>;
        for (const v of Object.values(spec)) if (typeof v === 'object' && v !== null) shareConstant(v);
        // `spec: 0` keeps the key in its place; a copy of the spec goes back there on every render.
        return { head: JSON.stringify({ ...doc, spec: 0 }), spec };
      });
  }
  return crdCache.map(({ head, spec }) => {
    const o = JSON.parse(head) as K8sObject;
    if (spec) o.spec = { ...spec };
    return o;
  });
}

/** CRDs that only some releases ship, with the feature that brings them; every other CRD is in every release. */
const CRD_FEATURES: Record<string, Feature> = { 'trafficextensions.extensions.istio.io': 'trafficExtensionsCrd' };

/** Whether `release`'s base chart installs the CRD named `name`. */
export function crdInRelease(name: string, release: Release): boolean {
  const f = CRD_FEATURES[name];
  return !f || has(release, f);
}

/** Helm 2's labels, which Istio's CRDs carried until 1.30 (`istio:` names the security and telemetry groups). */
function legacyCrdLabels(crd: K8sObject): Record<string, string> {
  const group = String((crd.spec as { group?: string } | undefined)?.group ?? '');
  const istio = group === 'security.istio.io' ? 'security' : group === 'telemetry.istio.io' ? 'telemetry' : undefined;
  return { app: 'istio-pilot', chart: 'istio', heritage: 'Tiller', ...(istio ? { istio } : {}), release: 'istio' };
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
    for (const crd of istioCrds()) {
      if (excluded.has(crd.metadata.name) || !crdInRelease(crd.metadata.name, ctx.release)) continue;
      if (!has(ctx.release, 'crdLabelsTrimmed')) crd.metadata.labels = { ...legacyCrdLabels(crd), ...(crd.metadata.labels ?? {}) };
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
