import test from 'ava';
import { InputError } from '../../../operator/api/errors.js';
import { writesOf } from '../../../operator/apply/client.js';
import { bundleFor } from '../../../operator/ca/bundle.js';
import { prepareCa } from '../../../operator/ca/cluster.js';
import { createIntermediate, createRoot } from '../../../operator/ca/generate.js';
import { CACERTS_KEYS, caSettingsFrom } from '../../../operator/ca/settings.js';
import { CaSecretError } from '../../../operator/ca/types.js';
import { render } from '../../../operator/render/index.js';
import { createNamespace } from '../helpers/cluster.js';
import { client, createSecret, iopFor, secret, secretNames } from './_util.js';

// Mode provided: the user's secret is checked before anything is applied; a bad one is refused with the
// secret and key named, and nothing is written.

const s = caSettingsFrom({ keyType: 'ECDSA' });
const DAY = 86_400_000;

function files(b: ReturnType<typeof bundleFor>): Record<string, string> {
  return {
    [CACERTS_KEYS.caCert]: b.caCert,
    [CACERTS_KEYS.caKey]: b.caKey,
    [CACERTS_KEYS.rootCert]: b.rootCert,
    [CACERTS_KEYS.certChain]: b.certChain,
  };
}

test('a valid provided secret (custom name) is accepted without a write, and istiod mounts it', async (t) => {
  const ns = await createNamespace(t, 'ca-prov-ok');
  const root = await createRoot(s);
  const inter = await createIntermediate(root, s);
  await createSecret(ns, 'my-ca', files(bundleFor(inter, root.certPem)));
  const c = client(t);
  const iop = iopFor(ns, { mode: 'provided', secretName: 'my-ca' });
  const r = await prepareCa(c, iop);
  t.is(r.outcome, 'validated');
  t.is(r.writes, 0);
  t.is(writesOf(c.counts), 0);
  t.is(r.status.secretName, 'my-ca');
  t.regex(r.status.intermediate!.subject, /Istio Intermediate CA/);
  t.deepEqual(await secretNames(ns), ['my-ca']);

  const istiod = render(iop).objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'istiod') as any;
  const vol = istiod.spec.template.spec.volumes.find((v: any) => v.secret?.secretName === 'my-ca');
  t.truthy(vol, 'istiod has a volume from the provided secret');
  t.is(vol.name, 'cacerts');
  t.false(vol.secret.optional, 'a missing provided secret keeps istiod from starting with a self-signed CA');
  t.truthy(istiod.spec.template.spec.containers[0].volumeMounts.find((m: any) => m.name === 'cacerts' && m.mountPath === '/etc/cacerts'));
});

test('a provided secret whose key does not match its certificate is refused, naming the secret and key; nothing is written', async (t) => {
  const ns = await createNamespace(t, 'ca-prov-key');
  const root = await createRoot(s);
  const a = await createIntermediate(root, s);
  const b = await createIntermediate(root, s);
  await createSecret(ns, 'cacerts', { ...files(bundleFor(a, root.certPem)), [CACERTS_KEYS.caKey]: b.keyPem });
  const before = (await secret(ns, 'cacerts'))!;
  const c = client(t);
  const e = await t.throwsAsync(prepareCa(c, iopFor(ns, { mode: 'provided' })), { instanceOf: CaSecretError });
  t.true(e instanceof InputError, 'install and the CLI treat it as a user error');
  t.deepEqual(
    e!.issues.map((i) => i.path),
    [`secret ${ns}/cacerts: ca-key.pem`],
  );
  t.regex(e!.message, /ca-key.pem: does not match the certificate in ca-cert.pem/);
  t.is(writesOf(c.counts), 0);
  t.is((await secret(ns, 'cacerts'))!.resourceVersion, before.resourceVersion);
  t.deepEqual(await secretNames(ns), ['cacerts']);
});

test('an expired provided certificate is refused, saying which certificate and when', async (t) => {
  const ns = await createNamespace(t, 'ca-prov-exp');
  const short = { ...s, intermediateLifetimeMs: DAY, renewBeforeMs: DAY / 2 };
  const root = await createRoot(short);
  const inter = await createIntermediate(root, short, new Date(Date.now() - 3 * DAY));
  await createSecret(ns, 'cacerts', files(bundleFor(inter, root.certPem)));
  const c = client(t);
  const e = await t.throwsAsync(prepareCa(c, iopFor(ns, { mode: 'provided' })), { instanceOf: CaSecretError });
  t.deepEqual(
    e!.issues.map((i) => i.path),
    [`secret ${ns}/cacerts: ca-cert.pem`],
  );
  t.regex(e!.issues[0]!.message, /^expired on \d{4}-\d\d-\d\dT/);
  t.is(writesOf(c.counts), 0);
});

test('a missing provided secret names the field and says how to make one; a missing key is named', async (t) => {
  const ns = await createNamespace(t, 'ca-prov-miss');
  const c = client(t);
  const e = await t.throwsAsync(prepareCa(c, iopFor(ns, { mode: 'provided', secretName: 'absent' })), { instanceOf: CaSecretError });
  t.is(e!.issues[0]!.path, 'spec.components.ca.secretName');
  t.regex(e!.issues[0]!.message, new RegExp(`secret "absent" not found in namespace "${ns}"`));
  t.regex(e!.issues[0]!.hint ?? '', /ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem/);

  const root = await createRoot(s);
  const inter = await createIntermediate(root, s);
  const { [CACERTS_KEYS.caKey]: _k, ...noKey } = files(bundleFor(inter, root.certPem));
  await createSecret(ns, 'cacerts', noKey);
  const e2 = await t.throwsAsync(prepareCa(c, iopFor(ns, { mode: 'provided' })), { instanceOf: CaSecretError });
  t.deepEqual(
    e2!.issues.map((i) => `${i.path}: ${i.message}`),
    [`secret ${ns}/cacerts: ca-key.pem: is missing`],
  );
  t.is(writesOf(c.counts), 0);
});
