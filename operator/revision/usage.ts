// Who still uses a control-plane revision. Pure: the caller lists namespaces, pods and tags;
// this decides. Anything it cannot classify counts as use, because removing a revision that
// something still needs breaks injection for that workload.

export const REV_LABEL = 'istio.io/rev';
export const INJECTION_LABEL = 'istio-injection';
export const INJECT_POD_LABEL = 'sidecar.istio.io/inject';
export const DEFAULT_TAG = 'default';

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

/** The revision name as labels spell it: the default revision is `default`. */
export function revLabelValue(revision: string): string {
  return revision === '' ? DEFAULT_TAG : revision;
}

/** Every label value that selects this revision: its own name and the tags pointing at it. */
export function aliasesOf(revision: string, tags: Record<string, string>): Set<string> {
  const own = revLabelValue(revision);
  const out = new Set([own]);
  for (const [tag, target] of Object.entries(tags)) if (revLabelValue(target) === own) out.add(tag);
  return out;
}

/** Whether `istio-injection=enabled` (and pods asking for injection without a revision) land on this revision. */
export function isDefaultTarget(revision: string, tags: Record<string, string>): boolean {
  const def = tags[DEFAULT_TAG];
  return def !== undefined ? revLabelValue(def) === revLabelValue(revision) : revision === '';
}

export function revisionUsage(revision: string, input: UsageInput): RevisionUsage {
  const aliases = aliasesOf(revision, input.tags);
  const isDefault = isDefaultTarget(revision, input.tags);
  const namespaces = new Set<string>();
  for (const ns of input.namespaces) {
    const l = ns.labels ?? {};
    const rev = l[REV_LABEL];
    // A namespace with istio.io/rev ignores istio-injection (Istio's own precedence).
    if (rev !== undefined ? aliases.has(rev) : isDefault && l[INJECTION_LABEL] === 'enabled') namespaces.add(ns.name);
  }
  const pods: string[] = [];
  for (const p of input.pods) {
    if (p.phase === 'Succeeded' || p.phase === 'Failed') continue;
    const rev = p.annotations?.[REV_LABEL] ?? p.labels?.[REV_LABEL];
    const asksInjection = p.labels?.[INJECT_POD_LABEL] === 'true';
    if (rev !== undefined ? aliases.has(rev) : isDefault && asksInjection) pods.push(`${p.namespace ?? ''}/${p.name}`);
  }
  const tags = [...aliases].filter((a) => a !== revLabelValue(revision)).sort();
  pods.sort();
  const nsList = [...namespaces].sort();
  return { revision, inUse: nsList.length + pods.length + tags.length > 0, namespaces: nsList, pods, tags };
}

/** A one-line description for status messages and refusals, with a bounded sample. */
export function describeUsage(u: RevisionUsage, sample = 5): string {
  if (u.unknown) return u.unknown;
  if (!u.inUse) return `revision ${revLabelValue(u.revision)} is not in use`;
  const part = (what: string, list: string[]) =>
    list.length ? `${list.length} ${what}${list.length === 1 ? '' : 's'} (${list.slice(0, sample).join(', ')}${list.length > sample ? ', ...' : ''})` : '';
  const parts = [part('namespace', u.namespaces), part('pod', u.pods), part('tag', u.tags)].filter(Boolean);
  return `revision ${revLabelValue(u.revision)} is in use by ${parts.join(', ')}`;
}
