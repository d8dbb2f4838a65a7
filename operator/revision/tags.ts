import type { KubeClient } from '../apply/client.js';
import { Resources, refOf, refString, type ObjectRef } from '../apply/resources.js';
import { applyObject, type ObjectResult } from '../apply/ssa.js';
import type { K8sObject } from '../api/types.js';
import { renderRevisionTag } from '../render/revisiontag.js';

import { readSnapshot, readTags, usageFrom, type TagRef } from './cluster.js';
import { LABEL_REVISION, LABEL_TAG, LABEL_VERSION } from '../api/labels.js';
import { DEFAULT_ISTIO_NAMESPACE, DEFAULT_TAG, DEFAULT_VALIDATOR, TAG_SERVICE_PREFIX } from '../api/names.js';
import type { List, LiveService, LiveWebhookConfiguration, LiveWorkload, Webhook } from '../api/live.js';

// Revision tags: a stable name (`prod`) that namespaces label themselves with, pointing at one revision. A tag
// is the `istio-revision-tag-<tag>` injector webhook (plus the `istiod-revision-tag-<tag>` Service, and for
// `default` the `istiod-default-validator`). Declared tags come from spec.values.revisionTags and are rendered
// by the pilot template manifests/pilot/revisiontags.yaml.hbs; the CLI renders the SAME template with a view
// built from the live revision's injector, so both paths produce one shape.

const MWC = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';
/** Leaves room for the tag Service's prefix within the 63 characters of a Service name. */
const MAX_TAG = 63 - TAG_SERVICE_PREFIX.length;

export class TagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TagError';
  }
}

export function checkTagName(tag: string): void {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(tag) || tag.length > MAX_TAG) {
    throw new TagError(
      `tag "${tag}" is not valid: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most ${MAX_TAG} characters (it names a webhook and a Service)`,
    );
  }
}

export interface LiveRevision {
  /** istio.io/rev value ('default' for the default revision). */
  revision: string;
  /** Istio version, from the operator.istio.io/version label or istiod's image tag ('' if unknown). */
  version: string;
  /** Namespace istiod runs in. */
  namespace: string;
  injector: LiveWebhookConfiguration;
}

/** Installed revisions: one per revision injector webhook (the tag webhooks excluded). */
export async function readRevisions(client: KubeClient): Promise<LiveRevision[]> {
  const list = await client.request<List<LiveWebhookConfiguration>>('GET', MWC, {
    query: { labelSelector: `app=sidecar-injector,!${LABEL_TAG}` },
  });
  const out: LiveRevision[] = [];
  for (const w of list?.items ?? []) {
    const l = w.metadata.labels ?? {};
    const cc: NonNullable<Webhook['clientConfig']> = w.webhooks?.[0]?.clientConfig ?? {};
    const namespace = cc.service?.namespace ?? DEFAULT_ISTIO_NAMESPACE;
    let version = l[LABEL_VERSION] ?? '';
    if (!version && cc.service?.name) {
      const d = await client.request<LiveWorkload>(
        'GET',
        `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments/${encodeURIComponent(cc.service.name)}`,
        { allow404: true },
      );
      const image: string = d?.spec?.template?.spec?.containers?.[0]?.image ?? '';
      version = image.includes(':') ? image.slice(image.lastIndexOf(':') + 1) : '';
    }
    out.push({ revision: l[LABEL_REVISION] || DEFAULT_TAG, version, namespace, injector: w });
  }
  return out.sort((a, b) => a.revision.localeCompare(b.revision));
}

/**
 * The tag's objects for a live revision: the pilot template fed with what the revision's own injector says
 * (its endpoint, reinvocation policy, istiod Service selector).
 */
export async function tagObjects(client: KubeClient, tag: string, rev: LiveRevision): Promise<K8sObject[]> {
  const hook: Partial<Webhook> = rev.injector.webhooks?.[0] ?? {};
  const cc: NonNullable<Webhook['clientConfig']> = hook.clientConfig ?? {};
  const svcName: string | undefined = cc.service?.name;
  let selector: Record<string, string> | undefined;
  if (svcName) {
    const svc = await client.request<LiveService>(
      'GET',
      `/api/v1/namespaces/${encodeURIComponent(rev.namespace)}/services/${encodeURIComponent(svcName)}`,
      { allow404: true },
    );
    selector = svc?.spec?.selector;
  }
  return tagObjectsFromInjector(tag, rev, selector);
}

/** Pure part of tagObjects (tests). `selector` is istiod's Service selector; without it no tag Service is made. */
export function tagObjectsFromInjector(tag: string, rev: LiveRevision, selector: Record<string, string> | undefined): K8sObject[] {
  return renderRevisionTag(tag, {
    revision: rev.revision,
    namespace: rev.namespace,
    injector: rev.injector,
    ...(selector ? { serviceSelector: selector } : {}),
  });
}

export interface TagSetOptions {
  tag: string;
  revision: string;
  overwrite?: boolean;
  dryRun?: boolean;
}

export interface TagSetResult {
  previous?: string;
  /**
   * The tag was installed by this IstioOperator. The apply drops its ownership labels (same field manager), so
   * that owner's prune and uninstall leave it alone from now on; if the IstioOperator lists the tag in
   * spec.values.revisionTags, the operator puts it back: remove it there.
   */
  takenFrom?: string;
  results: ObjectResult[];
  removed: ObjectRef[];
  /** Namespaces labelled istio.io/rev=<tag>: their workloads must restart to move. */
  namespaces: string[];
  pods: string[];
}

export async function setTag(client: KubeClient, opts: TagSetOptions): Promise<TagSetResult> {
  const { tag } = opts;
  const target = opts.revision || DEFAULT_TAG;
  checkTagName(tag);
  const revisions = await readRevisions(client);
  if (revisions.some((r) => r.revision === tag)) {
    throw new TagError(`tag "${tag}" has the name of an installed revision: istio.io/rev=${tag} would mean both; choose another tag name`);
  }
  const rev = revisions.find((r) => r.revision === target);
  if (!rev) {
    throw new TagError(`revision "${target}" is not installed (installed: ${revisions.map((r) => r.revision).join(', ') || 'none'})`);
  }
  const existing = (await readTags(client)).filter((t) => t.tag === tag);
  const previous = existing[0]?.revision;
  if (previous !== undefined && previous !== target && !opts.overwrite) {
    throw new TagError(`tag "${tag}" points at revision ${previous}; pass --overwrite to move it to ${target}`);
  }
  const objects = await tagObjects(client, tag, rev);
  const res = new Resources(client);
  const results: ObjectResult[] = [];
  for (const o of objects) results.push(await applyObject(client, res, o, { dryRun: !!opts.dryRun }));
  // A tag moved to a revision in another namespace has a webhook of another name: the old one must go.
  const keep = new Set(objects.filter((o) => o.kind === 'MutatingWebhookConfiguration').map((o) => o.metadata.name));
  const removed: ObjectRef[] = [];
  for (const t of existing) {
    if (keep.has(t.webhook)) continue;
    const ref: ObjectRef = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', name: t.webhook };
    if (!opts.dryRun) await client.request('DELETE', `${MWC}/${encodeURIComponent(t.webhook)}`, { allow404: true });
    removed.push(ref);
  }
  const u = usageFrom(await readSnapshot(client), target);
  const nsOfTag = (await namespacesLabelled(client, tag)).sort();
  const owned = existing.find((t) => t.declaredBy)?.declaredBy;
  return {
    ...(previous !== undefined ? { previous } : {}),
    ...(owned ? { takenFrom: owned } : {}),
    results,
    removed,
    namespaces: nsOfTag,
    pods: u.pods,
  };
}

async function namespacesLabelled(client: KubeClient, value: string): Promise<string[]> {
  const l = await client.request<List>('GET', '/api/v1/namespaces', { query: { labelSelector: `${LABEL_REVISION}=${value}` } });
  return (l?.items ?? []).map((n) => n.metadata.name);
}

export interface TagListEntry extends TagRef {
  namespaces: string[];
}

export async function listTags(client: KubeClient): Promise<TagListEntry[]> {
  const tags = await readTags(client);
  const out: TagListEntry[] = [];
  for (const t of tags) out.push({ ...t, namespaces: (await namespacesLabelled(client, t.tag)).sort() });
  return out;
}

export interface TagRemoveOptions {
  tag: string;
  /** Remove even though namespaces still select the tag (their new pods lose injection). */
  force?: boolean;
  dryRun?: boolean;
}

/** Removes the tag's objects. A tag an IstioOperator declares comes back on its next reconcile: say so to the user. */
export async function removeTag(
  client: KubeClient,
  opts: TagRemoveOptions,
): Promise<{ removed: ObjectRef[]; namespaces: string[]; declaredBy?: string }> {
  const { tag } = opts;
  const tags = (await readTags(client)).filter((t) => t.tag === tag);
  if (!tags.length) throw new TagError(`tag "${tag}" does not exist (see \`istio-operator tag list\`)`);
  const namespaces = (await namespacesLabelled(client, tag)).sort();
  if (namespaces.length && !opts.force) {
    throw new TagError(
      `tag "${tag}" is still used by namespace${namespaces.length > 1 ? 's' : ''} ${namespaces.join(', ')} (labelled istio.io/rev=${tag}): new pods there would not be injected; relabel them or pass --force`,
    );
  }
  const removed: ObjectRef[] = [];
  const del = async (ref: ObjectRef, path: string) => {
    if (!opts.dryRun) await client.request('DELETE', path, { allow404: true });
    removed.push(ref);
  };
  for (const t of tags)
    await del(
      { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', name: t.webhook },
      `${MWC}/${encodeURIComponent(t.webhook)}`,
    );
  const svcs = await client.request<List>('GET', '/api/v1/services', { query: { labelSelector: `${LABEL_TAG}=${tag}` } });
  for (const s of svcs?.items ?? []) {
    await del(
      { apiVersion: 'v1', kind: 'Service', namespace: s.metadata.namespace, name: s.metadata.name },
      `/api/v1/namespaces/${encodeURIComponent(s.metadata.namespace!)}/services/${encodeURIComponent(s.metadata.name)}`,
    );
  }
  if (tag === DEFAULT_TAG) {
    const vwc = `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${DEFAULT_VALIDATOR}`;
    const live = await client.request('GET', vwc, { allow404: true });
    if (live && live.metadata?.labels?.[LABEL_TAG] === DEFAULT_TAG) {
      await del({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', name: DEFAULT_VALIDATOR }, vwc);
    }
  }
  const declaredBy = tags.find((t) => t.declaredBy)?.declaredBy;
  return { removed, namespaces, ...(declaredBy ? { declaredBy } : {}) };
}

export { refOf, refString };
