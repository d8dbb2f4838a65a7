import { CACERTS_KEYS } from './settings.js';
import type { KeyPairPem } from './generate.js';

/** The four PEM files istiod reads from `cacerts`. */
export interface CaBundle {
  caCert: string;
  caKey: string;
  /** One or more roots: during a root rotation, the new and the old root, so both stay trusted. */
  rootCert: string;
  certChain: string;
}

/** Builds the bundle for an intermediate; `trustedRoots` defaults to the issuing root alone. */
export function bundleFor(intermediate: KeyPairPem, issuingRootPem: string, trustedRoots: string[] = [issuingRootPem]): CaBundle {
  return {
    caCert: intermediate.certPem,
    caKey: intermediate.keyPem,
    rootCert: trustedRoots.map(endWithNewline).join(''),
    certChain: endWithNewline(intermediate.certPem) + endWithNewline(issuingRootPem),
  };
}

export function bundleToSecretData(b: CaBundle): Record<string, string> {
  return {
    [CACERTS_KEYS.caCert]: Buffer.from(b.caCert).toString('base64'),
    [CACERTS_KEYS.caKey]: Buffer.from(b.caKey).toString('base64'),
    [CACERTS_KEYS.rootCert]: Buffer.from(b.rootCert).toString('base64'),
    [CACERTS_KEYS.certChain]: Buffer.from(b.certChain).toString('base64'),
  };
}

/** Reads a secret's base64 `data`; missing keys stay missing so validation can name them. */
export function bundleFromSecretData(data: Record<string, string> | undefined): Partial<CaBundle> {
  const d = data ?? {};
  const get = (k: string) => (d[k] === undefined ? undefined : Buffer.from(d[k], 'base64').toString('utf8'));
  const out: Partial<CaBundle> = {};
  const caCert = get(CACERTS_KEYS.caCert);
  if (caCert !== undefined) out.caCert = caCert;
  const caKey = get(CACERTS_KEYS.caKey);
  if (caKey !== undefined) out.caKey = caKey;
  const rootCert = get(CACERTS_KEYS.rootCert);
  if (rootCert !== undefined) out.rootCert = rootCert;
  const certChain = get(CACERTS_KEYS.certChain);
  if (certChain !== undefined) out.certChain = certChain;
  return out;
}

function endWithNewline(s: string): string {
  return s.endsWith('\n') ? s : s + '\n';
}

/** Splits a PEM file holding several certificates. */
export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)?.map((c) => c + '\n') ?? [];
}
