import test from 'ava';
import { createNamespace, kubectl, uniqueName } from '../helpers/cluster.js';
import { deleteIop, ensureCRD, getJson, iopYaml, kubectlOk, startOperator, waitForStatus } from './harness.js';

// The plug-in CA through the operator: a fresh Istio namespace that does not exist yet, ca.mode operator.
// The CA's secrets must land once the namespace exists and before istiod; the status carries the CA's
// subjects and expiries, never key material.

test.before(ensureCRD);

test('ca.mode=operator into a namespace that does not exist yet: HEALTHY, cacerts before istiod, the CA in status', async (t) => {
  const ns = await createNamespace(t, 'iop-ca');
  const istioNs = uniqueName('iop-ca-istio');
  const rev = uniqueName('r').slice(0, 12);
  t.teardown(async () => void (await kubectl(['delete', 'namespace', istioNs, '--wait=false'])));
  await startOperator(t, { namespaces: [ns] });
  const name = 'control-plane';
  await kubectlOk(
    ['apply', '-f', '-'],
    iopYaml(name, ns, {
      profile: 'minimal',
      namespace: istioNs,
      revision: rev,
      components: { ca: { mode: 'operator', keyType: 'ECDSA' } },
    }),
  );
  const healthy = await waitForStatus(ns, name, 'HEALTHY');

  const ca = healthy.status.ca;
  t.is(ca?.mode, 'operator');
  t.regex(ca?.intermediate?.subject ?? '', /CN=Istio Intermediate CA/);
  t.true(Date.parse(ca?.intermediate?.notAfter) > Date.now());
  t.is(ca?.roots?.length, 1);
  t.notRegex(JSON.stringify(healthy.status), /PRIVATE KEY|BEGIN/);

  const secret = await getJson(['secret', '-n', istioNs, 'cacerts']);
  const istiod = await getJson(['deployment', '-n', istioNs, `istiod-${rev}`]);
  t.truthy(secret);
  t.true(Date.parse(secret.metadata.creationTimestamp) <= Date.parse(istiod.metadata.creationTimestamp), 'cacerts existed before istiod');
  t.true(istiod.spec.template.spec.volumes.some((v: any) => v.name === 'cacerts' && v.secret?.secretName === 'cacerts'));
  const events = await kubectl(['get', 'events', '-n', ns, '-o', 'json']);
  t.notRegex(events.stdout, /PRIVATE KEY/);
  await deleteIop(ns, name);
});
