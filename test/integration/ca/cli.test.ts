import test from 'ava';
import { prepareCa } from '../../../operator/ca/cluster.js';
import { ROOT_SECRET } from '../../../operator/ca/settings.js';
import { createNamespace } from '../helpers/cluster.js';
import { cli, client, iopFor, iopYaml, secret, writeFiles } from './_util.js';

// The ca command as a user meets it: what it prints, its exit codes, and that it refuses before writing.

test('ca rotate: asks for -y off a terminal, refuses other modes, then renews and says what it wrote', async (t) => {
  const ns = await createNamespace(t, 'ca-cli');
  await prepareCa(client(t), iopFor(ns, { mode: 'operator', keyType: 'ECDSA' }));
  const before = (await secret(ns, 'cacerts'))!;

  const noYes = await cli(['ca', 'rotate', '-n', ns]);
  t.is(noYes.code, 1);
  t.regex(noYes.stderr, /pass -y to confirm/);
  t.is(noYes.stdout, '');
  t.is((await secret(ns, 'cacerts'))!.resourceVersion, before.resourceVersion);

  const dir = writeFiles(t, { 'provided.yaml': iopYaml(ns, { mode: 'provided' }) });
  const wrongMode = await cli(['ca', 'rotate', '-f', `${dir}/provided.yaml`, '-y']);
  t.is(wrongMode.code, 1);
  t.regex(wrongMode.stderr, /spec.components.ca.mode: is "provided": only a CA the operator generated can be rotated/);

  const elsewhere = await cli(['ca', 'rotate', '-n', 'default', '-y']);
  t.is(elsewhere.code, 1);
  t.regex(elsewhere.stderr, new RegExp(`secret default/${ROOT_SECRET}: not found`));

  const ok = await cli(['ca', 'rotate', '-n', ns, '-y']);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, new RegExp(`wrote secret ${ns}/cacerts`));
  t.regex(ok.stdout, /intermediate: O=Istio, CN=Istio Intermediate CA, expires on \d{4}-/);
  t.not((await secret(ns, 'cacerts'))!.resourceVersion, before.resourceVersion);

  const root = await cli(['ca', 'rotate', '-n', ns, '--root', '-y']);
  t.is(root.code, 0, root.stderr);
  t.regex(root.stdout, /started a root rotation \(requested\)/);
  t.regex(root.stdout, /trusted roots: 2 \(root rotation in phase trust-both\)/);
  const again = await cli(['ca', 'rotate', '-n', ns, '--root', '-y']);
  t.is(again.code, 1);
  t.regex(again.stderr, /a root rotation is already in progress \(phase trust-both since/);
});

test('ca status: exit 1 and the secret and key named for a bad provided CA; JSON carries the chain', async (t) => {
  const ns = await createNamespace(t, 'ca-cli-st');
  const dir = writeFiles(t, {
    'provided.yaml': iopYaml(ns, { mode: 'provided', secretName: 'absent' }),
    'op.yaml': iopYaml(ns, { mode: 'operator', keyType: 'ECDSA' }),
  });
  const missing = await cli(['ca', 'status', '-f', `${dir}/provided.yaml`]);
  t.is(missing.code, 1);
  t.regex(missing.stdout, /Mode:\s+provided/);
  t.regex(missing.stderr, new RegExp(`error: secret ${ns}/absent: not found`));

  await prepareCa(client(t), iopFor(ns, { mode: 'operator', keyType: 'ECDSA' }));
  const json = await cli(['ca', 'status', '-f', `${dir}/op.yaml`, '-o', 'json']);
  t.is(json.code, 0, json.stderr);
  const r = JSON.parse(json.stdout);
  t.is(r.mode, 'operator');
  t.is(r.modeFrom, 'spec');
  t.is(r.roots.length, 1);
  t.regex(r.intermediate.subject, /Istio Intermediate CA/);
  t.regex(r.roots[0].subject, /Istio Root CA \d{4}-/);
  t.truthy(Date.parse(r.nextCheck));

  const asYaml = await cli(['ca', 'status', '-n', ns, '-o', 'yaml']);
  t.is(asYaml.code, 0, asYaml.stderr);
  t.regex(asYaml.stdout, /^mode: /m);
  const bad = await cli(['ca', 'status', '-n', ns, '-o', 'xml']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /--output: unknown format "xml" \(text, json or yaml\)/);
});
