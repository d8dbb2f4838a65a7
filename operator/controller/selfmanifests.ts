import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { crdsDir } from '../paths.js';
import { renderComponentTemplates } from '../render/engine.js';
import type { K8sObject } from '../api/types.js';

// The operator's own install: the IstioOperator CRD, then manifests/operator/* (namespace, RBAC, Deployment,
// metrics Service). Printed by `istio-operator operator manifests` and used by the RBAC integration test, so
// the rules that are tested are the rules that ship.

export interface SelfManifestOptions {
  namespace?: string;
  name?: string;
  image?: string;
  replicas?: number;
  concurrency?: number;
  /** IstioOperator namespaces to watch; empty = all. */
  watchNamespaces?: string[];
  includeCRD?: boolean;
}

export const DEFAULT_IMAGE = 'ghcr.io/istio-operator/istio-operator:0.1.0';
export const IOP_CRD_FILE = 'install.istio.io_istiooperators.yaml';

export function operatorManifests(o: SelfManifestOptions = {}): K8sObject[] {
  const ctx = {
    namespace: o.namespace ?? 'istio-operator',
    name: o.name ?? 'istio-operator',
    image: o.image ?? DEFAULT_IMAGE,
    replicas: o.replicas ?? 2,
    concurrency: o.concurrency ?? 2,
    watchNamespaces: (o.watchNamespaces ?? []).join(','),
  };
  const out: K8sObject[] = [];
  if (o.includeCRD !== false) {
    const docs = yaml.loadAll(fs.readFileSync(path.join(crdsDir, IOP_CRD_FILE), 'utf8')) as K8sObject[];
    out.push(...docs.filter((d) => d && typeof d === 'object'));
  }
  out.push(...renderComponentTemplates('operator', ctx));
  return out;
}

/** Every rule of the ClusterRole and Roles, flattened (the RBAC test checks them for wildcards). */
export function operatorRules(objects: K8sObject[]): Array<{ kind: string; name: string; apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }> {
  return objects
    .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
    .flatMap((o) => ((o as any).rules ?? []).map((r: any) => ({ kind: o.kind, name: o.metadata.name, ...r })));
}
