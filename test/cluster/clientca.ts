// A client CA for the local control plane (kube-apiserver --client-ca-file): tests sign client certificates with
// it, with any user, groups and lifetime, to exercise certificate credentials, and certificates that expire.
import { randomBytes, webcrypto } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
export const CLIENT_CA_CERT = 'client-ca.crt';
export const CLIENT_CA_KEY = 'client-ca.key';

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key as never)), 'PRIVATE KEY') + '\n';
}

function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString('hex');
}

/** Writes <dir>/client-ca.crt and client-ca.key; returns the certificate's path (for --client-ca-file). */
export async function writeClientCa(dir: string): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=istio-operator-local-client-ca',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 10 * 365 * 86_400_000),
    keys: keys as never,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true),
    ],
  });
  fs.writeFileSync(path.join(dir, CLIENT_CA_CERT), cert.toString('pem') + '\n');
  fs.writeFileSync(path.join(dir, CLIENT_CA_KEY), await keyPem(keys.privateKey), { mode: 0o600 });
  return path.join(dir, CLIENT_CA_CERT);
}

/** A client certificate for `user` (CN) in `groups` (O), valid until `notAfter`, signed by the CA in `dir`. */
export async function signClientCert(
  dir: string,
  opts: { user: string; groups?: string[]; notAfter: Date },
): Promise<{ certPem: string; keyPem: string }> {
  const caCert = new x509.X509Certificate(fs.readFileSync(path.join(dir, CLIENT_CA_CERT), 'utf8'));
  const caKey = await webcrypto.subtle.importKey(
    'pkcs8',
    x509.PemConverter.decode(fs.readFileSync(path.join(dir, CLIENT_CA_KEY), 'utf8'))[0]!,
    ALG,
    true,
    ['sign'],
  );
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const subject = [`CN=${opts.user}`, ...(opts.groups ?? []).map((g) => `O=${g}`)].join(', ');
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: opts.notAfter,
    publicKey: keys.publicKey as never,
    signingKey: caKey as never,
    signingAlgorithm: ALG,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}

/** The pki folder of a control plane started by controlplane.ts, from its kubeconfig path (tests get only that). */
export function pkiDirOf(kubeconfigPath: string): string {
  const dir = path.join(path.dirname(kubeconfigPath), 'pki');
  if (!fs.existsSync(path.join(dir, CLIENT_CA_KEY))) {
    throw new Error(
      `no client CA in ${dir}: this test signs client certificates and needs the local control plane of test/cluster (npm test), not an external cluster`,
    );
  }
  return dir;
}
