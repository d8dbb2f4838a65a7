import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRoot, createIntermediate } from '../../../operator/ca/generate.js';
import { bundleFor, bundleToSecretData, bundleFromSecretData } from '../../../operator/ca/bundle.js';
import { inspectBundle } from '../../../operator/ca/validate.js';
import { caSettingsFrom, DEFAULT_CA_SETTINGS, CACERTS_KEYS } from '../../../operator/ca/settings.js';
import { planCa } from '../../../operator/ca/rotation.js';
import { parseDuration } from '../../../operator/api/duration.js';
import { InputError } from '../../../operator/api/errors.js';

const DAY = 86_400_000;

function writeBundle(b: ReturnType<typeof bundleFor>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-test-'));
  fs.writeFileSync(path.join(dir, CACERTS_KEYS.caCert), b.caCert);
  fs.writeFileSync(path.join(dir, CACERTS_KEYS.caKey), b.caKey);
  fs.writeFileSync(path.join(dir, CACERTS_KEYS.rootCert), b.rootCert);
  fs.writeFileSync(path.join(dir, CACERTS_KEYS.certChain), b.certChain);
  return dir;
}

const openssl = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });

for (const keyType of ['RSA', 'ECDSA'] as const) {
  test(`${keyType}: openssl verifies the generated chain, the key matches, CA constraints and key usages are set`, async (t) => {
    const s = caSettingsFrom({ keyType });
    const root = await createRoot(s);
    const inter = await createIntermediate(root, s);
    const dir = writeBundle(bundleFor(inter, root.certPem));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const f = (k: string) => path.join(dir, k);

    t.regex(openssl(['verify', '-CAfile', f(CACERTS_KEYS.rootCert), f(CACERTS_KEYS.caCert)]), /: OK/);
    t.regex(
      openssl(['verify', '-CAfile', f(CACERTS_KEYS.rootCert), '-untrusted', f(CACERTS_KEYS.certChain), f(CACERTS_KEYS.caCert)]),
      /: OK/,
    );
    const certPub = openssl(['x509', '-noout', '-pubkey', '-in', f(CACERTS_KEYS.caCert)]);
    const keyPub = openssl(['pkey', '-pubout', '-in', f(CACERTS_KEYS.caKey)]);
    t.is(certPub, keyPub);
    for (const cert of [CACERTS_KEYS.caCert, CACERTS_KEYS.rootCert]) {
      const ext = openssl(['x509', '-noout', '-ext', 'basicConstraints,keyUsage', '-in', f(cert)]);
      t.regex(ext, /CA:TRUE/);
      t.regex(ext, /Certificate Sign/);
      t.regex(ext, /critical/);
    }
    t.regex(openssl(['x509', '-noout', '-ext', 'basicConstraints', '-in', f(CACERTS_KEYS.caCert)]), /pathlen:0/);
    t.deepEqual(inspectBundle(bundleFromSecretData(bundleToSecretData(bundleFor(inter, root.certPem))), 'cacerts').issues, []);
  });
}

test('a key that does not match its certificate is refused, saying which', async (t) => {
  const s = DEFAULT_CA_SETTINGS;
  const root = await createRoot(s);
  const a = await createIntermediate(root, s);
  const b = await createIntermediate(root, s);
  const bundle = { ...bundleFor(a, root.certPem), caKey: b.keyPem };
  const r = inspectBundle(bundle, 'my-ca');
  t.is(r.issues.length, 1);
  t.is(r.issues[0].path, 'secret my-ca: ca-key.pem');
  t.regex(r.issues[0].message, /does not match the certificate in ca-cert.pem/);
});

test('an expired intermediate is refused, saying which certificate and when', async (t) => {
  const s = { ...DEFAULT_CA_SETTINGS, intermediateLifetimeMs: DAY, renewBeforeMs: DAY / 2 };
  const longAgo = new Date(Date.now() - 10 * DAY);
  const root = await createRoot(s);
  const inter = await createIntermediate(root, s, longAgo);
  const r = inspectBundle(bundleFor(inter, root.certPem), 'cacerts');
  t.is(r.issues.length, 1);
  t.is(r.issues[0].path, 'secret cacerts: ca-cert.pem');
  t.regex(r.issues[0].message, /^expired on \d{4}-/);
});

test('a chain that does not lead to the given root, a non-CA certificate and missing keys are named', async (t) => {
  const s = DEFAULT_CA_SETTINGS;
  const rootA = await createRoot(s);
  const rootB = await createRoot(s);
  const inter = await createIntermediate(rootA, s);
  const wrongRoot = inspectBundle(bundleFor(inter, rootA.certPem, [rootB.certPem]), 'cacerts');
  t.true(wrongRoot.issues.some((i) => i.path === 'secret cacerts: cert-chain.pem' && /does not lead to any root/.test(i.message)));

  const missing = inspectBundle({ caCert: inter.certPem }, 'cacerts');
  t.deepEqual(missing.issues.map((i) => i.path).sort(), [
    'secret cacerts: ca-key.pem',
    'secret cacerts: cert-chain.pem',
    'secret cacerts: root-cert.pem',
  ]);

  // A leaf (CA:FALSE) certificate made with openssl cannot act as istiod's signing CA.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-leaf-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${dir}/k.pem`,
      '-out',
      `${dir}/c.pem`,
      '-days',
      '2',
      '-subj',
      '/CN=leaf',
      '-addext',
      'basicConstraints=critical,CA:FALSE',
    ],
    { stdio: 'ignore' },
  );
  const leaf = fs.readFileSync(`${dir}/c.pem`, 'utf8');
  const r = inspectBundle({ caCert: leaf, caKey: fs.readFileSync(`${dir}/k.pem`, 'utf8'), rootCert: leaf, certChain: leaf }, 'cacerts');
  t.true(r.issues.some((i) => i.path === 'secret cacerts: ca-cert.pem' && /not a CA certificate/.test(i.message)));
});

test('no message about a bundle contains private key material', async (t) => {
  const s = DEFAULT_CA_SETTINGS;
  const root = await createRoot(s);
  const a = await createIntermediate(root, s);
  const bad = { ...bundleFor(a, root.certPem), caKey: root.keyPem };
  const garbage = { ...bundleFor(a, root.certPem), caKey: '-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n' };
  const text = JSON.stringify([inspectBundle(bad, 'cacerts'), inspectBundle(garbage, 'cacerts')]);
  t.notRegex(text, /PRIVATE KEY/);
  const keyBody = root.keyPem.split('\n')[1];
  t.false(text.includes(keyBody));
  t.false(text.includes('not-a-key'));
});

test('rotation plan: renew the intermediate before expiry, rotate the root through a trust-both overlap', (t) => {
  const s = { ...DEFAULT_CA_SETTINGS, renewBeforeMs: 10 * DAY };
  const now = new Date('2030-01-01T00:00:00Z');
  const later = (d: number) => new Date(now.getTime() + d * DAY);
  t.is(
    planCa({ rootNotAfter: later(3000), intermediateNotAfter: later(300), intermediateFromCurrentRoot: true, phase: 'none' }, s, now).kind,
    'none',
  );
  t.is(
    planCa({ rootNotAfter: later(3000), intermediateNotAfter: later(5), intermediateFromCurrentRoot: true, phase: 'none' }, s, now).kind,
    'renew-intermediate',
  );
  t.is(
    planCa({ rootNotAfter: later(11), intermediateNotAfter: later(5), intermediateFromCurrentRoot: true, phase: 'none' }, s, now).kind,
    'start-root-rotation',
  );
  const trustBoth = {
    rootNotAfter: later(3650),
    intermediateNotAfter: later(50),
    intermediateFromCurrentRoot: false,
    phase: 'trust-both' as const,
  };
  t.is(planCa({ ...trustBoth, phaseSince: later(-0.5) }, s, now).kind, 'none');
  t.is(planCa({ ...trustBoth, phaseSince: later(-2) }, s, now).kind, 'switch-intermediate');
  t.is(planCa({ ...trustBoth, phase: 'switch', phaseSince: later(-2) }, s, now).kind, 'drop-old-root');
  const idle = planCa(
    { rootNotAfter: later(3000), intermediateNotAfter: later(300), intermediateFromCurrentRoot: true, phase: 'none' },
    s,
    now,
  );
  t.is(idle.kind === 'none' && idle.nextCheck.toISOString(), later(290).toISOString());
});

test('durations and CA settings: clear errors naming the field', (t) => {
  t.is(parseDuration('90d', 'x'), 90 * DAY);
  t.is(parseDuration('1h30m', 'x'), 5_400_000);
  const e = t.throws(() => parseDuration('ninety days', 'spec.components.ca.rootLifetime'), { instanceOf: InputError });
  t.is(e?.issues[0].path, 'spec.components.ca.rootLifetime');
  t.regex(e?.issues[0].hint ?? '', /8760h/);
  t.is(
    t.throws(() => caSettingsFrom({ keyType: 'RSA', keySize: 1024 }), { instanceOf: InputError })?.issues[0].path,
    'spec.components.ca.keySize',
  );
  t.is(
    t.throws(() => caSettingsFrom({ intermediateLifetime: '20y' }), { instanceOf: InputError })?.issues[0].path,
    'spec.components.ca.intermediateLifetime',
  );
  t.is(caSettingsFrom({ keyType: 'ECDSA' }).keySize, 256);
});
