import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { FieldIssue, Warning } from '../api/errors.js';
import { CACERTS_KEYS } from './settings.js';
import { splitPem, type CaBundle } from './bundle.js';

export interface CertInfo {
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  serialNumber: string;
}

export interface CaInspection {
  issues: FieldIssue[];
  warnings: Warning[];
  intermediate?: CertInfo;
  roots: CertInfo[];
}

/** What status and `ca status` show of a certificate: names, validity, serial; never key material. */
export function certInfo(c: X509Certificate): CertInfo {
  return {
    subject: c.subject.replace(/\n/g, ', '),
    issuer: c.issuer.replace(/\n/g, ', '),
    notBefore: new Date(c.validFrom).toISOString(),
    notAfter: new Date(c.validTo).toISOString(),
    serialNumber: c.serialNumber,
  };
}

function parseCerts(pem: string | undefined, where: string, issues: FieldIssue[]): X509Certificate[] {
  if (pem === undefined) {
    issues.push({ path: where, message: 'is missing', hint: `a plug-in CA secret needs ${Object.values(CACERTS_KEYS).join(', ')}` });
    return [];
  }
  const blocks = splitPem(pem);
  if (blocks.length === 0) {
    issues.push({ path: where, message: 'holds no PEM certificate' });
    return [];
  }
  const out: X509Certificate[] = [];
  for (const [i, b] of blocks.entries()) {
    try {
      out.push(new X509Certificate(b));
    } catch (e) {
      issues.push({ path: `${where}[${i}]`, message: `is not a valid certificate: ${(e as Error).message}` });
    }
  }
  return out;
}

function canSignCertificates(c: X509Certificate): boolean {
  const ku = new x509.X509Certificate(c.raw).getExtension(x509.KeyUsagesExtension);
  // No keyUsage extension means no restriction (RFC 5280 4.2.1.3).
  return !ku || (ku.usages & x509.KeyUsageFlags.keyCertSign) !== 0;
}

/**
 * Checks what istiod needs from a plug-in CA secret: the chain verifies to a root in root-cert.pem,
 * ca-key.pem matches ca-cert.pem, both certificates are CAs allowed to sign certificates, and nothing
 * is expired or not yet valid. Issues are fatal; warnings are expiries within `warnWithinMs`.
 * The key is only parsed, never echoed: no message includes key material.
 */
export function inspectBundle(b: Partial<CaBundle>, secretName: string, now = new Date(), warnWithinMs = 30 * 86_400_000): CaInspection {
  const issues: FieldIssue[] = [];
  const warnings: Warning[] = [];
  const at = (k: string) => `secret ${secretName}: ${k}`;
  const [caCert] = parseCerts(b.caCert, at(CACERTS_KEYS.caCert), issues);
  const roots = parseCerts(b.rootCert, at(CACERTS_KEYS.rootCert), issues);
  const chain = parseCerts(b.certChain, at(CACERTS_KEYS.certChain), issues);

  if (b.caKey === undefined) {
    issues.push({ path: at(CACERTS_KEYS.caKey), message: 'is missing', hint: 'the private key of ca-cert.pem' });
  } else if (caCert) {
    try {
      const pub = createPublicKey(createPrivateKey(b.caKey)).export({ type: 'spki', format: 'der' });
      const certPub = caCert.publicKey.export({ type: 'spki', format: 'der' });
      if (!pub.equals(certPub))
        issues.push({
          path: at(CACERTS_KEYS.caKey),
          message: 'does not match the certificate in ca-cert.pem',
          hint: 'put the key that ca-cert.pem was issued for',
        });
    } catch {
      issues.push({
        path: at(CACERTS_KEYS.caKey),
        message: 'is not a readable private key',
        hint: 'PEM, PKCS#8 or PKCS#1/SEC1, unencrypted',
      });
    }
  }

  const checkTime = (c: X509Certificate, where: string) => {
    const from = new Date(c.validFrom).getTime();
    const to = new Date(c.validTo).getTime();
    if (to <= now.getTime())
      issues.push({ path: where, message: `expired on ${new Date(to).toISOString()}`, hint: 'issue a new certificate' });
    else if (from > now.getTime()) issues.push({ path: where, message: `is not valid before ${new Date(from).toISOString()}` });
    else if (to - now.getTime() < warnWithinMs) warnings.push({ path: where, message: `expires on ${new Date(to).toISOString()}` });
  };
  const checkCa = (c: X509Certificate, where: string) => {
    if (!c.ca)
      issues.push({
        path: where,
        message: 'is not a CA certificate (basicConstraints CA:FALSE or absent)',
        hint: 'istiod signs workload certificates with it, so it needs CA:TRUE',
      });
    else if (!canSignCertificates(c)) issues.push({ path: where, message: 'may not sign certificates (keyUsage lacks keyCertSign)' });
  };

  if (caCert) {
    checkTime(caCert, at(CACERTS_KEYS.caCert));
    checkCa(caCert, at(CACERTS_KEYS.caCert));
  }
  for (const [i, r] of roots.entries()) {
    const where = roots.length > 1 ? `${at(CACERTS_KEYS.rootCert)}[${i}]` : at(CACERTS_KEYS.rootCert);
    checkTime(r, where);
    checkCa(r, where);
  }

  // cert-chain.pem: ca-cert first, each certificate signed by the next, the last signed by a trusted root.
  if (caCert && chain.length > 0) {
    if (!chain[0].raw.equals(caCert.raw)) {
      issues.push({ path: at(CACERTS_KEYS.certChain), message: 'does not start with the certificate in ca-cert.pem' });
    }
    for (let i = 0; i + 1 < chain.length; i++) {
      if (!chain[i].verify(chain[i + 1].publicKey)) {
        issues.push({
          path: `${at(CACERTS_KEYS.certChain)}[${i}]`,
          message: `is not signed by the next certificate in the chain (${chain[i + 1].subject.replace(/\n/g, ', ')})`,
        });
      }
    }
    const top = chain[chain.length - 1];
    const anchored = roots.some((r) => r.raw.equals(top.raw) || top.verify(r.publicKey));
    if (roots.length > 0 && !anchored) {
      issues.push({
        path: at(CACERTS_KEYS.certChain),
        message: 'does not lead to any root in root-cert.pem',
        hint: 'root-cert.pem must hold the root that signed the intermediate',
      });
    }
  }
  if (caCert && roots.length > 0 && chain.length <= 1 && !roots.some((r) => caCert.verify(r.publicKey))) {
    issues.push({ path: at(CACERTS_KEYS.caCert), message: 'is not signed by any root in root-cert.pem' });
  }
  return { issues, warnings, ...(caCert ? { intermediate: certInfo(caCert) } : {}), roots: roots.map(certInfo) };
}
