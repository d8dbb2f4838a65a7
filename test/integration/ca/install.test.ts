import test from 'ava';
import { cli, iopFile, cleanupRevision, ownWrites } from '../apply/_util.js';
import { kubectl, uniqueName } from '../helpers/cluster.js';

// The CA through `istio-operator install`: the path a person takes. The CA functions themselves are
// tested in cluster.test.ts; here the order matters: secrets before istiod, refusals before any write.

test('install with ca.mode=operator writes cacerts before istiod; a second install writes nothing', async (t) => {
  const ns = uniqueName('ca-install');
  const i = iopFile(t, ns, 'minimal', { components: { ca: { mode: 'operator', keyType: 'ECDSA' } } });
  cleanupRevision(t, i.revision);
  t.teardown(async () => void (await kubectl(['delete', 'namespace', ns, '--wait=false'])));
  const first = await cli(['install', '-f', i.file, '-y', '--wait=false']);
  t.is(first.code, 0, first.stderr);
  const secrets = await kubectl(['get', 'secrets', '-n', ns, '-o', 'jsonpath={.items[*].metadata.name}']);
  t.deepEqual(secrets.stdout.split(' ').sort(), ['cacerts', 'istio-operator-ca-root']);
  const istiod = JSON.parse((await kubectl(['get', 'deployment', `istiod-${i.revision}`, '-n', ns, '-o', 'json'])).stdout);
  const vol = istiod.spec.template.spec.volumes.find((v: any) => v.name === 'cacerts');
  t.is(vol?.secret?.secretName, 'cacerts');
  // The secret is older than (or as old as) the Deployment: istiod never started on a self-signed root.
  const sec = JSON.parse((await kubectl(['get', 'secret', 'cacerts', '-n', ns, '-o', 'json'])).stdout);
  t.true(Date.parse(sec.metadata.creationTimestamp) <= Date.parse(istiod.metadata.creationTimestamp));
  const again = await cli(['install', '-f', i.file, '-y', '--wait=false']);
  t.is(again.code, 0, again.stderr);
  // Other test files install and remove the cluster-wide default tag meanwhile: count this install's own writes.
  const ownObjectWrites =
    ownWrites(again.stdout) -
    again.stdout
      .split('\n')
      .filter((l) =>
        /^created (MutatingWebhookConfiguration istio-revision-tag-default|ValidatingWebhookConfiguration istiod-default-validator|Service \S+\/istiod-revision-tag-default)$/.test(
          l,
        ),
      ).length;
  t.is(ownObjectWrites, 0, again.stdout);
  t.false(/PRIVATE KEY/.test(first.stdout + first.stderr + again.stdout + again.stderr));
});

test('install with ca.mode=provided and no usable secret is refused before anything is written', async (t) => {
  const ns = uniqueName('ca-refuse');
  const i = iopFile(t, ns, 'minimal', { components: { ca: { mode: 'provided', secretName: 'my-ca' } } });
  const r = await cli(['install', '-f', i.file, '-y']);
  t.is(r.code, 1);
  t.is(r.stdout, '');
  t.regex(r.stderr, /spec\.components\.ca\.secretName: secret "my-ca" not found in namespace/);
  const nsGet = await kubectl(['get', 'namespace', ns]);
  t.not(nsGet.code, 0, 'the namespace was not even created');
  const webhooks = await kubectl(['get', 'mutatingwebhookconfigurations', '-o', 'name']);
  t.false(webhooks.stdout.includes(i.revision));
});
