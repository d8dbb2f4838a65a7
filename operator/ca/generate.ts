import { webcrypto, randomBytes } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { CaSettings } from './settings.js';

// Web Crypto types come from node:crypto; the DOM lib is not part of this Node project.
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams;
type EcKeyGenParams = webcrypto.EcKeyGenParams;
type Algorithm = webcrypto.Algorithm;
type EcKeyAlgorithm = webcrypto.EcKeyAlgorithm;
type RsaHashedKeyAlgorithm = webcrypto.RsaHashedKeyAlgorithm;

x509.cryptoProvider.set(webcrypto as never);

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

function algorithm(s: CaSettings): RsaHashedKeyGenParams | EcKeyGenParams {
  return s.keyType === 'RSA'
    ? { name: 'RSASSA-PKCS1-v1_5', modulusLength: s.keySize, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
    : { name: 'ECDSA', namedCurve: s.keySize === 384 ? 'P-384' : 'P-256' };
}

function signingAlgorithm(s: CaSettings): Algorithm & { hash?: string } {
  return s.keyType === 'RSA'
    ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
    : { name: 'ECDSA', hash: s.keySize === 384 ? 'SHA-384' : 'SHA-256' };
}

async function generateKeys(s: CaSettings): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algorithm(s) as never, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
}

async function keyToPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key as never));
  return x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n';
}

async function importKey(pem: string, s: CaSettings): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  return (await webcrypto.subtle.importKey('pkcs8', der, algorithm(s) as never, true, ['sign'])) as unknown as CryptoKey;
}

// Serial numbers must be unique per issuer; 16 random bytes with the top bit cleared keep them positive.
function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString('hex');
}

function caExtensions(pathLength: number | undefined, keys: CryptoKeyPair): Promise<x509.Extension[]> {
  return x509.SubjectKeyIdentifierExtension.create(keys.publicKey).then((ski) => [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
    ski,
  ]);
}

/** A self-signed root CA. `now` is passed in so tests can make short-lived and expired chains. */
export async function createRoot(s: CaSettings, now = new Date(), commonName = 'Istio Root CA'): Promise<KeyPairPem> {
  const keys = await generateKeys(s);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `O=${s.organization}, CN=${commonName}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + s.rootLifetimeMs),
    signingAlgorithm: signingAlgorithm(s),
    keys,
    extensions: await caExtensions(undefined, keys),
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyToPem(keys.privateKey) };
}

/** An intermediate signed by `root`: the certificate istiod signs workload certificates with. */
export async function createIntermediate(
  root: KeyPairPem,
  s: CaSettings,
  now = new Date(),
  commonName = 'Istio Intermediate CA',
): Promise<KeyPairPem> {
  const rootCert = new x509.X509Certificate(root.certPem);
  const rootKeyAlg: CaSettings =
    rootCert.publicKey.algorithm.name === 'ECDSA'
      ? { ...s, keyType: 'ECDSA', keySize: (rootCert.publicKey.algorithm as EcKeyAlgorithm).namedCurve === 'P-384' ? 384 : 256 }
      : { ...s, keyType: 'RSA', keySize: (rootCert.publicKey.algorithm as RsaHashedKeyAlgorithm).modulusLength };
  const rootKey = await importKey(root.keyPem, rootKeyAlg);
  const keys = await generateKeys(s);
  const notAfter = Math.min(now.getTime() + s.intermediateLifetimeMs, rootCert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `O=${s.organization}, CN=${commonName}`,
    issuer: rootCert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(notAfter),
    signingAlgorithm: signingAlgorithm(rootKeyAlg),
    publicKey: keys.publicKey,
    signingKey: rootKey,
    extensions: [...(await caExtensions(0, keys)), await x509.AuthorityKeyIdentifierExtension.create(rootCert)],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyToPem(keys.privateKey) };
}
