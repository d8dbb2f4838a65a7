import type { CaSpec } from '../api/types.js';
import { fail } from '../api/errors.js';
import { parseDuration } from '../api/duration.js';

/** The keys of an Istio plug-in CA secret (`cacerts`), as istiod reads them. */
export const CACERTS_KEYS = {
  caCert: 'ca-cert.pem',
  caKey: 'ca-key.pem',
  rootCert: 'root-cert.pem',
  certChain: 'cert-chain.pem',
} as const;

export const CACERTS_SECRET = 'cacerts';
/** Where the operator keeps the root it generated; never mounted by istiod. */
export const ROOT_SECRET = 'istio-operator-ca-root';

export interface CaSettings {
  keyType: 'RSA' | 'ECDSA';
  /** RSA modulus bits, or the ECDSA curve size (256 or 384). */
  keySize: number;
  rootLifetimeMs: number;
  intermediateLifetimeMs: number;
  /** Renew the intermediate (and start a root rotation) this long before expiry. */
  renewBeforeMs: number;
  organization: string;
}

// RSA 2048 matches istiod's own self-signed CA, so every Istio version and proxy accepts it;
// 10 years for the root and one for the intermediate follow Istio's plug-in CA guidance.
export const DEFAULT_CA_SETTINGS: CaSettings = {
  keyType: 'RSA',
  keySize: 2048,
  rootLifetimeMs: parseDuration('3650d', ''),
  intermediateLifetimeMs: parseDuration('365d', ''),
  renewBeforeMs: parseDuration('30d', ''),
  organization: 'Istio',
};

export function caSettingsFrom(spec: CaSpec | undefined, path = 'spec.components.ca'): CaSettings {
  const s = { ...DEFAULT_CA_SETTINGS };
  if (!spec) return s;
  if (spec.keyType !== undefined) {
    if (spec.keyType !== 'RSA' && spec.keyType !== 'ECDSA')
      fail(`${path}.keyType`, `unknown key type "${spec.keyType}"`, 'one of: RSA, ECDSA');
    s.keyType = spec.keyType;
    if (spec.keySize === undefined) s.keySize = spec.keyType === 'ECDSA' ? 256 : 2048;
  }
  if (spec.keySize !== undefined) {
    const ok = s.keyType === 'RSA' ? [2048, 3072, 4096] : [256, 384];
    if (!ok.includes(spec.keySize))
      fail(`${path}.keySize`, `${spec.keySize} is not a valid ${s.keyType} key size`, `one of: ${ok.join(', ')}`);
    s.keySize = spec.keySize;
  }
  if (spec.rootLifetime !== undefined) s.rootLifetimeMs = parseDuration(spec.rootLifetime, `${path}.rootLifetime`);
  if (spec.intermediateLifetime !== undefined)
    s.intermediateLifetimeMs = parseDuration(spec.intermediateLifetime, `${path}.intermediateLifetime`);
  if (spec.renewBefore !== undefined) s.renewBeforeMs = parseDuration(spec.renewBefore, `${path}.renewBefore`);
  if (s.intermediateLifetimeMs > s.rootLifetimeMs) {
    fail(`${path}.intermediateLifetime`, 'is longer than the root lifetime', 'an intermediate cannot outlive the root that signs it');
  }
  if (s.renewBeforeMs >= s.intermediateLifetimeMs) {
    fail(
      `${path}.renewBefore`,
      'is not shorter than the intermediate lifetime',
      'renewBefore must leave time between issuance and renewal',
    );
  }
  return s;
}
