import test from 'ava';
import yaml from 'js-yaml';
import { operatorManifests } from '../../../operator/controller/selfmanifests.js';
import { createNamespace, kubectl, uniqueName, waitFor } from '../helpers/cluster.js';
import { ensureCRD, getJson, iopYaml, kubectlOk } from '../controller/harness.js';

// The admission policy that ships with the operator (chart and `operator manifests`), enforced by the real
// kube-apiserver: IstioOperators are refused outside the trusted namespaces, within the namespaces the operator
// watches; a change that leaves the spec alone (finalizers, labels) is allowed, so old ones can be cleaned up.
// The policy is scoped to this test's namespaces (watchNamespaces), as a second operator instance's would be,
// so other tests writing IstioOperators at the same time are not affected.

test.before(ensureCRD);

test('the ValidatingAdmissionPolicy refuses IstioOperators outside the trusted namespaces, naming them', async (t) => {
  const trusted = await createNamespace(t, 'vap-trusted');
  const untrusted = await createNamespace(t, 'vap-untrusted');
  const unwatched = await createNamespace(t, 'vap-unwatched');
  const name = uniqueName('vap');
  const spec = { profile: 'minimal', namespace: uniqueName('never-installed') };

  // Written before the policy exists, with a finalizer, as the operator would have left it.
  await kubectlOk(
    ['apply', '-f', '-'],
    yaml.dump({
      ...(yaml.load(iopYaml('old', untrusted, spec)) as object),
      metadata: { name: 'old', namespace: untrusted, finalizers: ['install.istio.io/istio-operator'] },
    }),
  );

  const policy = operatorManifests({
    namespace: trusted,
    name,
    watchNamespaces: [trusted, untrusted],
    trustedNamespaces: [trusted],
    includeCRD: false,
  }).filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy'));
  t.is(policy.length, 2);
  t.teardown(async () => {
    await kubectl(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', `${name}.${trusted}`, '--ignore-not-found']);
  });
  await kubectlOk(['apply', '--server-side', '-f', '-'], policy.map((o) => yaml.dump(o)).join('---\n'));

  // A new policy is enforced once the apiserver has compiled it: probe with server-side dry runs until it is.
  const create = (ns: string, n: string) => kubectl(['create', '-f', '-'], { input: iopYaml(n, ns, spec) });
  await waitFor(
    'the policy to be enforced',
    async () => {
      const r = await kubectl(['create', '--dry-run=server', '-f', '-'], { input: iopYaml('probe', untrusted, spec) });
      return r.code !== 0 && /is refused/.test(r.stderr);
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );

  const refused = await create(untrusted, 'cp');
  t.not(refused.code, 0);
  t.log(refused.stderr.trim());
  t.regex(
    refused.stderr,
    new RegExp(
      `IstioOperator ${untrusted}/cp is refused: the istio-operator in namespace ${trusted} acts only on IstioOperators in its trusted namespaces \\(${trusted}\\), because writing one is cluster-admin-equivalent`,
    ),
  );
  t.regex(refused.stderr, /is forbidden: ValidatingAdmissionPolicy/);
  t.falsy(await getJson(['istiooperator', '-n', untrusted, 'cp']));

  t.is((await create(trusted, 'cp')).code, 0, 'a trusted namespace is allowed');
  t.is((await create(unwatched, 'cp')).code, 0, 'namespaces this operator does not watch are left to whoever does');

  // The IstioOperator from before the policy: its spec cannot change, but it can be labelled, released and deleted.
  const edit = await kubectl([
    'patch',
    'istiooperator',
    '-n',
    untrusted,
    'old',
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { revision: 'x' } }),
  ]);
  t.not(edit.code, 0);
  t.regex(edit.stderr, /is refused/);
  await kubectlOk(['label', 'istiooperator', '-n', untrusted, 'old', 'example.com/audited=true']);
  await kubectlOk([
    'patch',
    'istiooperator',
    '-n',
    untrusted,
    'old',
    '--type=json',
    '-p',
    '[{"op":"remove","path":"/metadata/finalizers"}]',
  ]);
  await kubectlOk(['delete', 'istiooperator', '-n', untrusted, 'old', '--wait=true', '--timeout=30s']);
  t.falsy(await getJson(['istiooperator', '-n', untrusted, 'old']));
});
