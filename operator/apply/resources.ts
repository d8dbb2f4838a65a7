import type { KubeClient } from './client.js';
import { kindInfo } from '../api/kinds.js';

// Maps apiVersion+kind to the REST path. The kinds Istio's installer renders are known up front (the kinds table,
// api/kinds.ts), so a normal install needs no discovery round trips; anything else (CRs of freshly created CRDs) is discovered
// once per group/version, and discovered again on a miss because a CRD may have just become Established.

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

export class Resources {
  private discovered = new Map<string, Map<string, ResourceInfo>>();

  constructor(private readonly client: KubeClient) {}

  async info(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const known = kindInfo(apiVersion, kind);
    if (known) return known;
    let m = this.discovered.get(apiVersion);
    if (!m || !m.has(kind)) {
      m = await this.discover(apiVersion);
      this.discovered.set(apiVersion, m);
    }
    const i = m.get(kind);
    if (!i) throw new Error(`the cluster does not serve ${kind} in ${apiVersion} (is its CRD installed and Established?)`);
    return i;
  }

  private async discover(apiVersion: string): Promise<Map<string, ResourceInfo>> {
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const list = await this.client.request<{ resources: Array<{ name: string; kind: string; namespaced: boolean }> }>('GET', path, {
      allow404: true,
      discovery: true,
    });
    const m = new Map<string, ResourceInfo>();
    for (const r of list?.resources ?? []) if (!r.name.includes('/')) m.set(r.kind, { plural: r.name, namespaced: r.namespaced });
    return m;
  }

  /** Path of an object (name set) or its collection (name empty). */
  async path(ref: { apiVersion: string; kind: string; name?: string; namespace?: string }): Promise<string> {
    const i = await this.info(ref.apiVersion, ref.kind);
    const base = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
    const ns = i.namespaced ? `/namespaces/${encodeURIComponent(ref.namespace || 'default')}` : '';
    return `${base}${ns}/${i.plural}${ref.name ? '/' + encodeURIComponent(ref.name) : ''}`;
  }

  /** Collection path across all namespaces (for namespaced kinds) or cluster-wide. */
  async allPath(apiVersion: string, kind: string): Promise<string> {
    const i = await this.info(apiVersion, kind);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    return `${base}/${i.plural}`;
  }

  async namespaced(apiVersion: string, kind: string): Promise<boolean> {
    return (await this.info(apiVersion, kind)).namespaced;
  }
}

export function refOf(o: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): ObjectRef {
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    name: o.metadata.name,
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
  };
}

export function refKey(r: ObjectRef): string {
  return `${r.kind}:${r.namespace ?? ''}:${r.name}`;
}

export function refString(r: ObjectRef): string {
  return `${r.kind} ${r.namespace ? r.namespace + '/' : ''}${r.name}`;
}
