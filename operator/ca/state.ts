// What the CA's secrets say, pure: certificates parsed from PEM, the root secret read into a RootState, the
// state planCa judges, and a memo of the verifications that passed.
import { X509Certificate } from 'node:crypto';
import type { KubeClient } from '../apply/client.js';
import type { FieldIssue, Warning } from '../api/errors.js';
import type { KeyPairPem } from './generate.js';
import type { RotationPhase } from './rotation.js';
import { decode, type K8sSecret } from './secrets.js';
import { ROOT_SECRET } from './settings.js';
import { ANNOTATION_PHASE, ANNOTATION_SINCE, CaSecretError, ROOT_KEYS, type RootState } from './types.js';
import { certInfo, inspectBundle, type CertInfo } from './validate.js';

export function cert(pem: string): X509Certificate {
  return new X509Certificate(pem);
}

export function info(pem: string): CertInfo {
  return certInfo(cert(pem));
}

export function issuedBy(certPem: string, issuerPem: string): boolean {
  try {
    const c = cert(certPem);
    const i = cert(issuerPem);
    return c.checkIssued(i) && c.verify(i.publicKey);
  } catch {
    return false;
  }
}

// Verifying a bundle costs tens of milliseconds (certificate extensions are parsed with @peculiar/x509),
// while a reconcile with nothing due should cost two reads. A secret whose uid and resourceVersion have not
// changed holds the same bytes, so a passed check is remembered with the time window in which it holds.
const checked = new Map<string, { from: number; to: number }>();

export function checkKey(kind: string, client: KubeClient, s: K8sSecret, extra = ''): string | undefined {
  const m = s.metadata as { uid?: string; resourceVersion?: string };
  if (!m.resourceVersion) return undefined;
  return `${kind}|${client.server}|${s.metadata.namespace}/${s.metadata.name}|${m.uid ?? ''}|${m.resourceVersion}|${extra}`;
}

export function passedBefore(key: string | undefined, now: Date): boolean {
  const c = key === undefined ? undefined : checked.get(key);
  return !!c && now.getTime() >= c.from && now.getTime() < c.to;
}

export function rememberPass(key: string | undefined, from: number, to: number): void {
  if (key === undefined) return;
  if (checked.size >= 256) checked.clear();
  checked.set(key, { from, to });
}

/** Reads the root secret; a damaged one is an error rather than a reason to make a new root (that would break every workload's trust). */
export function readRoot(secret: K8sSecret, ns: string, verify = true): { state: RootState; warnings: Warning[] } {
  const where = (k: string) => `secret ${ns}/${ROOT_SECRET}: ${k}`;
  const issues: FieldIssue[] = [];
  const warnings: Warning[] = [];
  const hint = `restore it from a backup; deleting the secret makes a new root, and workloads then need new certificates`;
  const pair = (ck: string, kk: string, required: boolean): KeyPairPem | undefined => {
    const c = decode(secret.data, ck);
    const k = decode(secret.data, kk);
    if (c === undefined && k === undefined && !required) return undefined;
    if (c === undefined) return void issues.push({ path: where(ck), message: 'is missing', hint });
    if (k === undefined) return void issues.push({ path: where(kk), message: 'is missing', hint });
    if (!verify) return { certPem: c, keyPem: k };
    const ins = inspectBundle({ caCert: c, caKey: k, rootCert: c, certChain: c }, `${ns}/${ROOT_SECRET}`, new Date(0), 0);
    // Time is judged by planCa, not here: an expiring root is rotated, not refused.
    const bad = ins.issues.filter((i) => !/expired|not valid before/.test(i.message));
    // The check ran on a cacerts-shaped bundle; name the root secret's own keys.
    const rename = (path: string) =>
      path.replace(/: (ca-cert|ca-key|root-cert|cert-chain)\.pem/, (_m, k: string) => `: ${k === 'ca-key' ? kk : ck}`);
    for (const i of bad) issues.push({ path: rename(i.path), message: i.message, hint });
    return { certPem: c, keyPem: k };
  };
  const current = pair(ROOT_KEYS.cert, ROOT_KEYS.key, true);
  const previous = pair(ROOT_KEYS.previousCert, ROOT_KEYS.previousKey, false);
  if (issues.length || !current) throw new CaSecretError(issues);
  const a = secret.metadata.annotations ?? {};
  let phase: RotationPhase = a[ANNOTATION_PHASE] === 'trust-both' || a[ANNOTATION_PHASE] === 'switch' ? a[ANNOTATION_PHASE] : 'none';
  const sinceMs = a[ANNOTATION_SINCE] ? Date.parse(a[ANNOTATION_SINCE]) : NaN;
  if (phase !== 'none' && !previous) {
    warnings.push({
      path: where(ANNOTATION_PHASE),
      message: `says "${phase}" but there is no previous root; the rotation is treated as finished`,
    });
    phase = 'none';
  }
  const state: RootState = { current, phase, ...(previous && phase !== 'none' ? { previous } : {}) };
  if (phase !== 'none') state.since = Number.isNaN(sinceMs) ? new Date(0) : new Date(sinceMs);
  return { state, warnings };
}

export function issuerOf(root: RootState): KeyPairPem {
  return root.phase === 'trust-both' && root.previous ? root.previous : root.current;
}

export function trustedRoots(root: RootState): string[] {
  return root.previous ? [root.current.certPem, root.previous.certPem] : [root.current.certPem];
}

export function stateOf(root: RootState, inter: KeyPairPem) {
  return {
    rootNotAfter: new Date(cert(root.current.certPem).validTo),
    intermediateNotAfter: new Date(cert(inter.certPem).validTo),
    intermediateFromCurrentRoot: issuerOf(root) === root.current,
    phase: root.phase,
    ...(root.since ? { phaseSince: root.since } : {}),
    ...(root.previous ? { previousRootNotAfter: new Date(cert(root.previous.certPem).validTo) } : {}),
  };
}
