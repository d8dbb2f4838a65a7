import test from 'ava';
import path from 'node:path';
import { writesOf } from '../../../operator/apply/client.js';
import { prepareCa } from '../../../operator/ca/cluster.js';
import { ANNOTATION_RELOADED } from '../../../operator/ca/kube.js';
import { CACERTS_KEYS, ROOT_SECRET } from '../../../operator/ca/settings.js';
import { ANNOTATION_PHASE, ROOT_KEYS } from '../../../operator/ca/types.js';
import { render } from '../../../operator/render/index.js';

import { createNamespace, kubectl } from '../helpers/cluster.js';
import { client, countCerts, createSecret, iopFor, later, minutes, openssl, secret, serialOf, verifies, writeFiles } from './_util.js';
import { LABEL_OWNER_NAME } from '../../../operator/api/labels.js';

// Mode operator against a real apiserver: the secrets as the cluster stores them are what istiod would
// mount, so every check reads them back with kubectl and runs openssl on them.

test('operator mode creates the root and cacerts; openssl verifies the chain, the key matches, a second call writes nothing', async (t) => {
  const ns = await createNamespace(t, 'ca-op');
  const c = client(t);
  const iop = iopFor(ns, { mode: 'operator' });

  const first = await prepareCa(c, iop);
  t.is(first.outcome, 'created');
  t.deepEqual(first.written, [`${ns}/${ROOT_SECRET}`, `${ns}/cacerts`]);
  t.is(first.writes, 2);

  const ca = (await secret(ns, 'cacerts'))!;
  const rootSecret = (await secret(ns, ROOT_SECRET))!;
  t.deepEqual(Object.keys(ca.files).sort(), Object.values(CACERTS_KEYS).sort());
  t.deepEqual(Object.keys(rootSecret.files).sort(), [ROOT_KEYS.cert, ROOT_KEYS.key].sort());
  t.is(ca.files[CACERTS_KEYS.rootCert], rootSecret.files[ROOT_KEYS.cert]);
  t.is(ca.labels[LABEL_OWNER_NAME], 'ca-test');
  t.is(rootSecret.labels[LABEL_OWNER_NAME], 'ca-test');

  const dir = writeFiles(t, ca.files);
  const f = (k: string) => path.join(dir, k);
  t.true(verifies(f(CACERTS_KEYS.rootCert), f(CACERTS_KEYS.caCert)), 'openssl verify -CAfile root-cert.pem ca-cert.pem');
  t.true(verifies(f(CACERTS_KEYS.rootCert), f(CACERTS_KEYS.caCert), undefined, f(CACERTS_KEYS.certChain)));
  t.is(
    openssl(['x509', '-noout', '-pubkey', '-in', f(CACERTS_KEYS.caCert)]),
    openssl(['pkey', '-pubout', '-in', f(CACERTS_KEYS.caKey)]),
    'ca-key.pem matches ca-cert.pem',
  );
  const ext = openssl(['x509', '-noout', '-ext', 'basicConstraints,keyUsage', '-in', f(CACERTS_KEYS.caCert)]);
  t.regex(ext, /critical\s+CA:TRUE, pathlen:0/);
  t.regex(ext, /Certificate Sign/);

  // Nothing due: two reads, no write, same resourceVersions.
  c.resetCounts();
  const second = await prepareCa(c, iop);
  t.is(second.outcome, 'none');
  t.is(writesOf(c.counts), 0);
  t.is(second.writes, 0);
  t.deepEqual(second.written, []);
  t.is(c.counts.get, 2);
  t.is((await secret(ns, 'cacerts'))!.resourceVersion, ca.resourceVersion);
  t.is((await secret(ns, ROOT_SECRET))!.resourceVersion, rootSecret.resourceVersion);
  t.truthy(second.status.nextCheck);
  t.is(second.status.intermediate?.serialNumber, serialOf(ca.files[CACERTS_KEYS.caCert]!));

  // istiod, rendered from the same IstioOperator, mounts cacerts and nothing mounts the root secret.
  const objects = render(iop).objects;
  const istiod = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'istiod') as any;
  const vol = istiod.spec.template.spec.volumes.find((v: any) => v.secret?.secretName === 'cacerts');
  t.truthy(vol);
  t.truthy(istiod.spec.template.spec.containers[0].volumeMounts.find((m: any) => m.name === vol.name && m.mountPath === '/etc/cacerts'));
  t.false(JSON.stringify(objects).includes(ROOT_SECRET));
});

test('with a shortened lifetime the intermediate is renewed before it expires and cacerts is updated (injected clock)', async (t) => {
  const ns = await createNamespace(t, 'ca-renew');
  const c = client(t);
  const iop = iopFor(ns, { mode: 'operator', keyType: 'ECDSA', rootLifetime: '1h', intermediateLifetime: '2m', renewBefore: '1m' });
  const t0 = new Date();
  t.is((await prepareCa(c, iop, t0)).outcome, 'created');
  const before = (await secret(ns, 'cacerts'))!;
  const oldSerial = serialOf(before.files[CACERTS_KEYS.caCert]!);

  c.resetCounts();
  t.is((await prepareCa(c, iop, later(t0, 30_000))).outcome, 'none');
  t.is(writesOf(c.counts), 0);

  const at = later(t0, 65_000);
  const renewed = await prepareCa(c, iop, at);
  t.is(renewed.outcome, 'renewed');
  t.deepEqual(renewed.written, [`${ns}/cacerts`]);
  t.regex(renewed.message, /the intermediate expires on/);
  const after = (await secret(ns, 'cacerts'))!;
  t.not(after.resourceVersion, before.resourceVersion);
  t.not(serialOf(after.files[CACERTS_KEYS.caCert]!), oldSerial);
  // Before expiry: the old intermediate was still valid when it was replaced.
  const oldDir = writeFiles(t, before.files);
  t.true(verifies(path.join(oldDir, CACERTS_KEYS.rootCert), path.join(oldDir, CACERTS_KEYS.caCert), at));
  const dir = writeFiles(t, after.files);
  t.true(verifies(path.join(dir, CACERTS_KEYS.rootCert), path.join(dir, CACERTS_KEYS.caCert), at));
  t.is(after.files[CACERTS_KEYS.rootCert], before.files[CACERTS_KEYS.rootCert], 'same root');
});

test('with a shortened lifetime the intermediate is renewed on the real clock too', async (t) => {
  const ns = await createNamespace(t, 'ca-real');
  const c = client(t);
  // Renewal is due 5s after issuance.
  const iop = iopFor(ns, { mode: 'operator', keyType: 'ECDSA', rootLifetime: '1h', intermediateLifetime: '2m', renewBefore: '115s' });
  t.is((await prepareCa(c, iop)).outcome, 'created');
  const s1 = serialOf((await secret(ns, 'cacerts'))!.files[CACERTS_KEYS.caCert]!);
  t.is((await prepareCa(c, iop)).outcome, 'none');
  await new Promise((r) => setTimeout(r, 6_000));
  t.is((await prepareCa(c, iop)).outcome, 'renewed');
  t.not(serialOf((await secret(ns, 'cacerts'))!.files[CACERTS_KEYS.caCert]!), s1);
});

test('a root rotation serves both roots during the overlap, switches the intermediate, then drops the old root', async (t) => {
  const ns = await createNamespace(t, 'ca-rot');
  const c = client(t);
  const iop = iopFor(ns, { mode: 'operator', keyType: 'ECDSA', rootLifetime: '2h', intermediateLifetime: '30m', renewBefore: '5m' });
  const overlapMs = minutes(10);
  const t0 = new Date();
  const step = (m: number) => prepareCa(c, iop, later(t0, minutes(m)), { overlapMs });
  t.is((await step(0)).outcome, 'created');
  const oldRoot = (await secret(ns, ROOT_SECRET))!.files[ROOT_KEYS.cert]!;
  const oldInter = (await secret(ns, 'cacerts'))!.files[CACERTS_KEYS.caCert]!;
  // Intermediates are renewed along the way; the root is rotated once fewer than renewBefore + 2 overlaps (25m) remain.
  t.is((await step(26)).outcome, 'renewed');
  t.is((await step(52)).outcome, 'renewed');
  t.is((await step(78)).outcome, 'renewed');
  const interBefore = (await secret(ns, 'cacerts'))!;

  // Phase 1, trust-both: a new root, both roots in root-cert.pem, the intermediate still from the old root.
  const started = await step(96);
  t.is(started.outcome, 'rotation-started');
  t.deepEqual(started.status.rotation?.phase, 'trust-both');
  const rs1 = (await secret(ns, ROOT_SECRET))!;
  t.is(rs1.annotations[ANNOTATION_PHASE], 'trust-both');
  t.is(rs1.files[ROOT_KEYS.previousCert], oldRoot);
  const newRoot = rs1.files[ROOT_KEYS.cert]!;
  t.not(newRoot, oldRoot);
  const p1 = (await secret(ns, 'cacerts'))!;
  t.is(countCerts(p1.files[CACERTS_KEYS.rootCert]), 2);
  t.true(p1.files[CACERTS_KEYS.rootCert]!.includes(newRoot.trim()) && p1.files[CACERTS_KEYS.rootCert]!.includes(oldRoot.trim()));
  t.is(p1.files[CACERTS_KEYS.caCert], interBefore.files[CACERTS_KEYS.caCert]);
  const at1 = later(t0, minutes(96));
  const d1 = writeFiles(t, { ...p1.files, 'new-root.pem': newRoot, 'old-root.pem': oldRoot });
  t.true(verifies(path.join(d1, CACERTS_KEYS.rootCert), path.join(d1, CACERTS_KEYS.caCert), at1));
  t.true(verifies(path.join(d1, 'old-root.pem'), path.join(d1, CACERTS_KEYS.caCert), at1));
  t.false(verifies(path.join(d1, 'new-root.pem'), path.join(d1, CACERTS_KEYS.caCert), at1));

  // Within the overlap nothing happens.
  c.resetCounts();
  t.is((await step(100)).outcome, 'none');
  t.is(writesOf(c.counts), 0);

  // Phase 2, switch: the intermediate now comes from the new root; both roots still trusted.
  const switched = await step(107);
  t.is(switched.outcome, 'switched');
  const p2 = (await secret(ns, 'cacerts'))!;
  t.is(countCerts(p2.files[CACERTS_KEYS.rootCert]), 2);
  t.not(p2.files[CACERTS_KEYS.caCert], p1.files[CACERTS_KEYS.caCert]);
  const at2 = later(t0, minutes(107));
  const d2 = writeFiles(t, { ...p2.files, 'new-root.pem': newRoot });
  t.true(verifies(path.join(d2, 'new-root.pem'), path.join(d2, CACERTS_KEYS.caCert), at2));
  t.true(verifies(path.join(d2, CACERTS_KEYS.rootCert), path.join(d2, CACERTS_KEYS.caCert), at2, path.join(d2, CACERTS_KEYS.certChain)));
  t.is(
    openssl(['x509', '-noout', '-pubkey', '-in', path.join(d2, CACERTS_KEYS.caCert)]),
    openssl(['pkey', '-pubout', '-in', path.join(d2, CACERTS_KEYS.caKey)]),
  );
  t.is((await secret(ns, ROOT_SECRET))!.annotations[ANNOTATION_PHASE], 'switch');

  // Phase 3: the old root is dropped everywhere (server-side apply removes the keys we stopped declaring).
  const dropped = await step(118);
  t.is(dropped.outcome, 'old-root-dropped');
  const p3 = (await secret(ns, 'cacerts'))!;
  t.is(countCerts(p3.files[CACERTS_KEYS.rootCert]), 1);
  t.is(p3.files[CACERTS_KEYS.rootCert]!.trim(), newRoot.trim());
  t.is(p3.files[CACERTS_KEYS.caCert], p2.files[CACERTS_KEYS.caCert]);
  const rs3 = (await secret(ns, ROOT_SECRET))!;
  t.deepEqual(Object.keys(rs3.files).sort(), [ROOT_KEYS.cert, ROOT_KEYS.key].sort());
  t.false(ANNOTATION_PHASE in rs3.annotations);
  t.is(dropped.status.rotation, undefined);
  t.not(oldInter, p3.files[CACERTS_KEYS.caCert]);

  c.resetCounts();
  t.is((await step(119)).outcome, 'none');
  t.is(writesOf(c.counts), 0);
});

test('a lost or tampered cacerts is re-issued from the kept root; a user-made cacerts is never overwritten', async (t) => {
  const ns = await createNamespace(t, 'ca-heal');
  const c = client(t);
  const iop = iopFor(ns, { mode: 'operator', keyType: 'ECDSA' });
  await prepareCa(c, iop);
  const root = (await secret(ns, ROOT_SECRET))!;
  t.is((await kubectl(['delete', 'secret', '-n', ns, 'cacerts'])).code, 0);
  const healed = await prepareCa(c, iop);
  t.is(healed.outcome, 'renewed');
  t.regex(healed.message, /did not exist/);
  const ca = (await secret(ns, 'cacerts'))!;
  t.is(ca.files[CACERTS_KEYS.rootCert], root.files[ROOT_KEYS.cert]);
  t.is((await secret(ns, ROOT_SECRET))!.resourceVersion, root.resourceVersion, 'the root is kept');

  // Another namespace with a cacerts the user made by hand: mode operator refuses to replace it.
  const ns2 = await createNamespace(t, 'ca-user');
  await createSecret(ns2, 'cacerts', ca.files);
  const before = (await secret(ns2, 'cacerts'))!;
  c.resetCounts();
  const e = await t.throwsAsync(prepareCa(c, iopFor(ns2, { mode: 'operator' })));
  t.regex(e!.message, new RegExp(`secret ${ns2}/cacerts: exists and was not created by istio-operator`));
  t.regex(e!.message, /mode: provided/);
  t.is(writesOf(c.counts), 0);
  t.is((await secret(ns2, 'cacerts'))!.resourceVersion, before.resourceVersion);
  t.is(await secret(ns2, ROOT_SECRET), undefined);
});

test('a renewed cacerts restarts the istiod that mounts it; the restart survives the next install apply', async (t) => {
  const ns = await createNamespace(t, 'ca-restart');
  const c = client(t);
  const iop = iopFor(ns, { mode: 'operator', keyType: 'ECDSA' });
  await prepareCa(c, iop);
  const istiod = render(iop).objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'istiod')!;
  const apply = () =>
    kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager', 'istio-operator', '-f', '-'], {
      input: JSON.stringify(istiod),
    });
  t.is((await apply()).code, 0);
  const annotation = async () => {
    const r = await kubectl(['get', 'deployment', '-n', ns, 'istiod', '-o', 'json']);
    return JSON.parse(r.stdout).spec.template.metadata.annotations?.[ANNOTATION_RELOADED] as string | undefined;
  };
  t.is(await annotation(), undefined);
  const at = new Date();
  const r = await prepareCa(c, iop, at, { rotate: 'intermediate' });
  t.deepEqual(r.restarted, [`${ns}/istiod`]);
  t.is(await annotation(), at.toISOString());
  // install applies the same rendered Deployment again: the annotation belongs to another field manager and stays.
  t.is((await apply()).code, 0);
  t.is(await annotation(), at.toISOString());
});
