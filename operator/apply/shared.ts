import semver from 'semver';
import type { KubeClient } from './client.js';
import type { K8sObject } from '../api/types.js';
import {
  LABEL_COMPONENT,
  LABEL_OWNER_NAME,
  LABEL_OWNER_NAMESPACE,
  LABEL_REVISION,
  LABEL_VERSION,
  OWNERSHIP_LABELS,
} from '../api/labels.js';
import type { List } from '../api/live.js';

// Objects every revision renders under the same name (Istio's CRDs and the rest of the Base component, such as
// istio-reader-service-account) are shared: several IstioOperators of
// different versions apply them. They only ever move forward: the newest version's schema wins and its
// owner holds the labels; an older revision's render leaves them alone (it would otherwise downgrade the
// schema, and two owners would relabel them back and forth on every reconcile).

const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

/**
 * Rendered under the same name by every revision: the CRDs, the Base component, and the node agents (one CNI agent
 * and one ztunnel per node serve every revision; Istio upgrades them in place, never side by side).
 */
const NODE_AGENTS = new Set(['Cni', 'Ztunnel']);
const SHARED_COMPONENTS = new Set(['Base', ...NODE_AGENTS]);
const sameOwner = (a: Record<string, string>, b: Record<string, string>) =>
  a[LABEL_OWNER_NAME] === b[LABEL_OWNER_NAME] &&
  a[LABEL_OWNER_NAMESPACE] === b[LABEL_OWNER_NAMESPACE] &&
  (a[LABEL_REVISION] ?? 'default') === (b[LABEL_REVISION] ?? 'default');
export function isShared(o: { kind: string; metadata: { labels?: Record<string, string> } }): boolean {
  return o.kind === 'CustomResourceDefinition' || SHARED_COMPONENTS.has(o.metadata.labels?.[LABEL_COMPONENT] ?? '');
}

export type SharedDecision =
  /** Not live yet, or ours is newer: apply as rendered (labels included: the newer owner takes them). */
  | { action: 'apply' }
  /** Same version: apply the schema, keep the live ownership labels (no flip between two owners). */
  | { action: 'keep-labels'; labels: Record<string, string> }
  /** Live is newer: leave it. */
  | { action: 'skip'; note: string };

export function decideShared(desired: K8sObject, liveLabels: Record<string, string> | undefined): SharedDecision {
  if (!liveLabels) return { action: 'apply' };
  const opt = { includePrerelease: true } as semver.Options;
  const ours = semver.coerce(desired.metadata.labels?.[LABEL_VERSION] ?? '', opt);
  const live = semver.coerce(liveLabels[LABEL_VERSION] ?? '', opt);
  if (ours && live && semver.gt(live, ours)) {
    return {
      action: 'skip',
      note: `${desired.kind} ${desired.metadata.name} is at ${liveLabels[LABEL_VERSION]}, newer than this revision's ${desired.metadata.labels?.[LABEL_VERSION]}: left as is`,
    };
  }
  // Newer: ours wins, labels included. Unversioned live objects are not ours to order: apply as rendered.
  if ((ours && live && semver.lt(live, ours)) || !liveLabels[LABEL_OWNER_NAME]) return { action: 'apply' };
  // A node agent's spec depends on its owner (ztunnel talks to the istiod of the owner's revision): at the same
  // version the first owner keeps all of it, or two installs would flip its pods between revisions forever.
  if (NODE_AGENTS.has(desired.metadata.labels?.[LABEL_COMPONENT] ?? '') && !sameOwner(desired.metadata.labels ?? {}, liveLabels)) {
    return {
      action: 'skip',
      note: `${desired.kind} ${desired.metadata.name} is managed by IstioOperator ${liveLabels[LABEL_OWNER_NAME]} (revision ${liveLabels[LABEL_REVISION] ?? 'default'}) at the same version: left as is`,
    };
  }
  // Same (or unknown) version with an owner: keep the first owner, so two installs never relabel it back and forth.
  const labels = { ...(desired.metadata.labels ?? {}) };
  for (const k of OWNERSHIP_LABELS) {
    if (liveLabels[k] !== undefined) labels[k] = liveLabels[k]!;
    else delete labels[k];
  }
  return { action: 'keep-labels', labels };
}

/**
 * Applies decideShared to the rendered shared objects against the live ones (one LIST for the CRDs, one GET per
 * other Base object). Returns the objects to apply (skipped ones removed, kept labels set) and a note per skip.
 */
export async function forwardOnlyShared(
  client: KubeClient,
  objects: K8sObject[],
  pathOf: (o: K8sObject) => Promise<string>,
): Promise<{ objects: K8sObject[]; notes: string[] }> {
  const shared = objects.filter(isShared);
  if (!shared.length) return { objects, notes: [] };
  const live = new Map<string, Record<string, string> | undefined>();
  if (shared.some((o) => o.kind === 'CustomResourceDefinition')) {
    // CRDs are applied without an owner (apply/owner.ts sharedBody), so select them by component instead.
    const list = await client.request<List>('GET', CRDS, { query: { labelSelector: LABEL_COMPONENT } });
    for (const c of list?.items ?? []) live.set(key({ kind: 'CustomResourceDefinition', metadata: c.metadata }), c.metadata.labels);
  }
  for (const o of shared) {
    if (o.kind === 'CustomResourceDefinition') continue;
    const l = await client.request('GET', await pathOf(o), { allow404: true });
    if (l) live.set(key(o), l.metadata?.labels);
  }
  return forwardOnlyFrom(objects, live);
}

const key = (o: { kind: string; metadata: { name: string; namespace?: string } }) =>
  `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** Pure part of forwardOnlyShared: `live` maps kind/namespace/name to the live labels. */
export function forwardOnlyFrom(
  objects: K8sObject[],
  live: Map<string, Record<string, string> | undefined>,
): { objects: K8sObject[]; notes: string[] } {
  const out: K8sObject[] = [];
  const notes: string[] = [];
  for (const o of objects) {
    if (!isShared(o)) {
      out.push(o);
      continue;
    }
    const d = decideShared(o, live.get(key(o)));
    if (d.action === 'skip') notes.push(d.note);
    else if (d.action === 'keep-labels') out.push({ ...o, metadata: { ...o.metadata, labels: d.labels } });
    else out.push(o);
  }
  return { objects: out, notes };
}
