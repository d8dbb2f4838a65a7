import test from 'ava';
import { bundleFor } from '../../../operator/ca/bundle.js';
import { prepareCa } from '../../../operator/ca/cluster.js';
import { createIntermediate, createRoot } from '../../../operator/ca/generate.js';
import { CACERTS_KEYS, ROOT_SECRET, caSettingsFrom } from '../../../operator/ca/settings.js';
import { readCaStatus } from '../../../operator/ca/status.js';
import { ROOT_KEYS, eventReason } from '../../../operator/ca/types.js';
import { createNamespace } from '../helpers/cluster.js';
import { cli, client, createSecret, iopFor, iopYaml, keyBodyLines, secret, writeFiles } from './_util.js';

// Every text a person or a log collector could see — results, errors, Events, the status summary, and the
// CLI's stdout and stderr — is collected while the CA is created, rotated and refused, then searched for
// private key material. The keys searched for are the ones actually in the cluster at the end, plus the
// ones the test put there.

test('no private key appears in messages, events, status or CLI output', async (t) => {
  const ns = await createNamespace(t, 'ca-nokeys');
  const c = client(t);
  const seen: string[] = [];
  const keys: string[] = [];
  const iop = iopFor(ns, { mode: 'operator', keyType: 'ECDSA' });
  const record = (r: Awaited<ReturnType<typeof prepareCa>>) => {
    seen.push(JSON.stringify(r), r.message, `${eventReason(r.outcome) ?? ''}: ${r.message}`, JSON.stringify(r.status));
    return r;
  };

  t.is(record(await prepareCa(c, iop)).outcome, 'created');
  const firstKey = (await secret(ns, 'cacerts'))!.files[CACERTS_KEYS.caKey]!;
  keys.push(firstKey, (await secret(ns, ROOT_SECRET))!.files[ROOT_KEYS.key]!);
  record(await prepareCa(c, iop));
  record(await prepareCa(c, iop, new Date(), { rotate: 'intermediate' }));
  keys.push((await secret(ns, 'cacerts'))!.files[CACERTS_KEYS.caKey]!);
  record(await prepareCa(c, iop, new Date(), { rotate: 'root' }));
  seen.push(JSON.stringify(await readCaStatus(c, { namespace: ns })));

  // The CLI, in text and JSON, with and without the IstioOperator file, during the root rotation.
  const dir = writeFiles(t, { 'iop.yaml': iopYaml(ns, { mode: 'operator', keyType: 'ECDSA' }) });
  for (const args of [
    ['ca', 'status', '-n', ns],
    ['ca', 'status', '-n', ns, '-o', 'json'],
    ['ca', 'status', '-f', `${dir}/iop.yaml`],
    ['ca', 'rotate', '-n', ns, '-y'],
    ['ca', 'rotate', '-n', ns, '--root', '-y'],
    ['ca', 'rotate', '-n', ns, '--dry-run'],
  ]) {
    const r = await cli(args);
    seen.push(r.stdout, r.stderr);
    t.true(r.code === 0 || /root rotation is already in progress/.test(r.stderr), `${args.join(' ')}: ${r.stderr}`);
  }
  const status = await cli(['ca', 'status', '-n', ns]);
  t.regex(status.stdout, /Mode:\s+operator/);
  t.regex(status.stdout, /Trusted roots \(root-cert.pem\): 2/);
  t.regex(status.stdout, /phase trust-both/);

  // A provided secret with a foreign key: the refusal names the key file, never its content.
  const ns2 = await createNamespace(t, 'ca-nokeys-prov');
  const s = caSettingsFrom({ keyType: 'ECDSA' });
  const root = await createRoot(s);
  const a = await createIntermediate(root, s);
  const b = await createIntermediate(root, s);
  const bad = { ...bundleFor(a, root.certPem), caKey: b.keyPem };
  keys.push(b.keyPem, a.keyPem, root.keyPem);
  await createSecret(ns2, 'cacerts', {
    [CACERTS_KEYS.caCert]: bad.caCert,
    [CACERTS_KEYS.caKey]: bad.caKey,
    [CACERTS_KEYS.rootCert]: bad.rootCert,
    [CACERTS_KEYS.certChain]: bad.certChain,
  });
  const err = await t.throwsAsync(prepareCa(c, iopFor(ns2, { mode: 'provided' })));
  seen.push(err!.message, JSON.stringify((err as any).issues));
  const provStatus = await cli(['ca', 'status', '-n', ns2]);
  seen.push(provStatus.stdout, provStatus.stderr);
  t.is(provStatus.code, 1);
  t.regex(provStatus.stderr, /ca-key.pem: does not match/);

  // Whatever keys the cluster holds now (the rotation added a root, the rotate an intermediate).
  const ca = (await secret(ns, 'cacerts'))!;
  const rs = (await secret(ns, ROOT_SECRET))!;
  keys.push(ca.files[CACERTS_KEYS.caKey]!, rs.files[ROOT_KEYS.key]!, rs.files[ROOT_KEYS.previousKey] ?? '');
  const lines = keyBodyLines(...keys);
  t.true(lines.length >= 8, 'the search has key lines to look for');
  const text = seen.join('\n');
  t.true(text.length > 2000, 'the search has output to look in');
  t.notRegex(text, /PRIVATE KEY/);
  for (const l of lines) t.false(text.includes(l), 'a private key line appears in the output');
  // Base64 of the key files (as in a secret's data) must not appear either.
  for (const k of keys.filter(Boolean)) t.false(text.includes(Buffer.from(k).toString('base64').slice(0, 40)));
});
