// Who still uses a control-plane revision. Pure: the caller lists namespaces, pods and tags;
// this decides. Anything it cannot classify counts as use, because removing a revision that
// something still needs breaks injection for that workload.

import { LABEL_INJECT_POD, LABEL_INJECTION, LABEL_REVISION } from '../api/labels.js';
import { DEFAULT_TAG, revLabel } from '../api/names.js';

export interface MetaLike {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface PodLike extends MetaLike {
  phase?: string;
}

export interface UsageInput {
  namespaces: MetaLike[];
  pods: PodLike[];
  /** tag name → revision it points at ('' or 'default' for the default revision). */
  tags: Record<string, string>;
}

export interface RevisionUsage {
  revision: string;
  inUse: boolean;
  namespaces: string[];
  /** `namespace/name` */
  pods: string[];
  tags: string[];
  /** Set when usage could not be determined: inUse is then true and this says why. */
  unknown?: string;
}

/** Every label value that selects this revision: its own name and the tags pointing at it. */
export function aliasesOf(revision: string, tags: Record<string, string>): Set<string> {
  const own = revLabel(revision);
  const out = new Set([own]);
  for (const [tag, target] of Object.entries(tags)) if (revLabel(target) === own) out.add(tag);
  return out;
}

/** Whether `istio-injection=enabled` (and pods asking for injection without a revision) land on this revision. */
export function isDefaultTarget(revision: string, tags: Record<string, string>): boolean {
  const def = tags[DEFAULT_TAG];
  return def !== undefined ? revLabel(def) === revLabel(revision) : revision === '';
}

export function revisionUsage(revision: string, input: UsageInput): RevisionUsage {
  const aliases = aliasesOf(revision, input.tags);
  const isDefault = isDefaultTarget(revision, input.tags);
  const namespaces = new Set<string>();
  for (const ns of input.namespaces) {
    const l = ns.labels ?? {};
    const rev = l[LABEL_REVISION];
    // A namespace with istio.io/rev ignores istio-injection (Istio's own precedence).
    if (rev !== undefined ? aliases.has(rev) : isDefault && l[LABEL_INJECTION] === 'enabled') namespaces.add(ns.name);
  }
  const pods: string[] = [];
  for (const p of input.pods) {
    if (p.phase === 'Succeeded' || p.phase === 'Failed') continue;
    const rev = p.annotations?.[LABEL_REVISION] ?? p.labels?.[LABEL_REVISION];
    const asksInjection = p.labels?.[LABEL_INJECT_POD] === 'true';
    if (rev !== undefined ? aliases.has(rev) : isDefault && asksInjection) pods.push(`${p.namespace ?? ''}/${p.name}`);
  }
  const tags = [...aliases].filter((a) => a !== revLabel(revision)).sort();
  pods.sort();
  const nsList = [...namespaces].sort();
  return { revision, inUse: nsList.length + pods.length + tags.length > 0, namespaces: nsList, pods, tags };
}

/** A one-line description for status messages and refusals, with a bounded sample. */
export function describeUsage(u: RevisionUsage, sample = 5): string {
  if (u.unknown) return u.unknown;
  if (!u.inUse) return `revision ${revLabel(u.revision)} is not in use`;
  const part = (what: string, list: string[]) =>
    list.length
      ? `${list.length} ${what}${list.length === 1 ? '' : 's'} (${list.slice(0, sample).join(', ')}${list.length > sample ? ', ...' : ''})`
      : '';
  const parts = [part('namespace', u.namespaces), part('pod', u.pods), part('tag', u.tags)].filter(Boolean);
  return `revision ${revLabel(u.revision)} is in use by ${parts.join(', ')}`;
}
