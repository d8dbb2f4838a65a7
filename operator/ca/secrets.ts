// The CA's two secrets as bodies and data, pure: how they are built, compared with what the cluster holds,
// labelled, and how the settings recorded on the root secret are written and read back.
import { LABEL_OWNER_NAME, OWNERSHIP_LABELS } from '../api/labels.js';
import type { CaBundle } from './bundle.js';
import { CACERTS_KEYS, CACERTS_SECRET, DEFAULT_CA_SETTINGS, ROOT_SECRET, type CaSettings } from './settings.js';
import { ANNOTATION_PHASE, ANNOTATION_SETTINGS, ANNOTATION_SINCE, ROOT_KEYS, type CaTarget, type RootState } from './types.js';

export interface K8sSecret {
  apiVersion: 'v1';
  kind: 'Secret';
  type?: string;
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  data?: Record<string, string>;
}

export const decode = (d: Record<string, string> | undefined, k: string) =>
  d?.[k] === undefined ? undefined : Buffer.from(d[k], 'base64').toString('utf8');
export const encode = (s: string) => Buffer.from(s).toString('base64');

function settingsAnnotation(t: CaTarget): string {
  const s = t.settings;
  return JSON.stringify({
    secretName: t.secretName,
    keyType: s.keyType,
    keySize: s.keySize,
    rootLifetimeMs: s.rootLifetimeMs,
    intermediateLifetimeMs: s.intermediateLifetimeMs,
    renewBeforeMs: s.renewBeforeMs,
    organization: s.organization,
  });
}

/** Settings recorded on the root secret by the last prepareCa, for `ca rotate` without the IstioOperator file. */
export function savedSettings(rootSecret: K8sSecret): { secretName: string; settings: CaSettings } | undefined {
  const raw = rootSecret.metadata.annotations?.[ANNOTATION_SETTINGS];
  if (!raw) return undefined;
  try {
    const j = JSON.parse(raw) as Record<string, unknown>;
    const s: CaSettings = { ...DEFAULT_CA_SETTINGS };
    if (j.keyType === 'RSA' || j.keyType === 'ECDSA') s.keyType = j.keyType;
    for (const k of ['keySize', 'rootLifetimeMs', 'intermediateLifetimeMs', 'renewBeforeMs'] as const)
      if (typeof j[k] === 'number' && j[k] > 0) s[k] = j[k];
    if (typeof j.organization === 'string') s.organization = j.organization;
    return { secretName: typeof j.secretName === 'string' && j.secretName ? j.secretName : CACERTS_SECRET, settings: s };
  } catch {
    return undefined;
  }
}

export function rootSecretBody(t: CaTarget, root: RootState, labels: Record<string, string>): K8sSecret {
  const data: Record<string, string> = { [ROOT_KEYS.cert]: encode(root.current.certPem), [ROOT_KEYS.key]: encode(root.current.keyPem) };
  if (root.previous) {
    data[ROOT_KEYS.previousCert] = encode(root.previous.certPem);
    data[ROOT_KEYS.previousKey] = encode(root.previous.keyPem);
  }
  const annotations: Record<string, string> = { [ANNOTATION_SETTINGS]: settingsAnnotation(t) };
  if (root.phase !== 'none') {
    annotations[ANNOTATION_PHASE] = root.phase;
    annotations[ANNOTATION_SINCE] = (root.since ?? new Date(0)).toISOString();
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: ROOT_SECRET, namespace: t.namespace, labels, annotations },
    data,
  };
}

export function caSecretBody(t: CaTarget, b: CaBundle, labels: Record<string, string>): K8sSecret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: t.secretName, namespace: t.namespace, labels },
    data: {
      [CACERTS_KEYS.caCert]: encode(b.caCert),
      [CACERTS_KEYS.caKey]: encode(b.caKey),
      [CACERTS_KEYS.rootCert]: encode(b.rootCert),
      [CACERTS_KEYS.certChain]: encode(b.certChain),
    },
  };
}

/** Equal in what we declare: the data, and our annotations. Labels are kept as found (see labelsFor). */
export function sameContent(desired: K8sSecret, live: K8sSecret | undefined): boolean {
  if (!live) return false;
  const dd = desired.data ?? {};
  const ld = live.data ?? {};
  if (Object.keys(dd).length !== Object.keys(ld).length) return false;
  for (const k of Object.keys(dd)) if (decode(dd, k) !== decode(ld, k)) return false;
  const da = desired.metadata.annotations ?? {};
  const la = live.metadata.annotations ?? {};
  for (const k of [ANNOTATION_PHASE, ANNOTATION_SINCE, ANNOTATION_SETTINGS]) if (da[k] !== la[k]) return false;
  return true;
}

/**
 * Labels of a secret we write: the ones it already has if it carries our ownership labels. The mesh CA is
 * shared by every revision in the namespace, so a second IstioOperator (a canary revision) must not relabel
 * it on every reconcile and ping-pong with the first.
 */
export function labelsFor(live: K8sSecret | undefined, t: Pick<CaTarget, 'labels'>): Record<string, string> {
  const l = live?.metadata.labels;
  if (l?.[LABEL_OWNER_NAME]) return Object.fromEntries(OWNERSHIP_LABELS.filter((k) => l[k] !== undefined).map((k) => [k, l[k]!]));
  return t.labels;
}
