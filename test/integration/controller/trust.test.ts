import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { cli } from '../apply/_util.js';
import { createNamespace, kubectl, testKubeconfig, uniqueName, waitFor } from '../helpers/cluster.js';
import { ensureCRD, getJson, iopYaml, kubectlOk, startOperator, waitForStatus } from './harness.js';

// Issue #16: the operator as an attacker, an SRE and a new user would try it, on the local control plane.
// Each test runs its own in-process operator watching only its own namespaces, and its own Istio namespace and
// revision, so tests never touch each other's installs.

test.before(ensureCRD);

const cond = (iop: any, type: string) => iop?.status?.conditions?.find((c: any) => c.type === type);
const rvOf = async (args: string[]) => (await getJson(args))?.metadata?.resourceVersion as string | undefined;

/**
 * resourceVersion of every object in `ns` and of the cluster-scoped roles, bindings and webhooks named for it (other
 * tests install their own meanwhile): what "nothing written" is measured by.
 */
async function clusterState(ns: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const kinds = [
    'deployments,services,configmaps,serviceaccounts,roles,rolebindings,secrets -n ' + ns,
    'clusterroles,clusterrolebindings,mutatingwebhookconfigurations,validatingwebhookconfigurations',
  ];
  for (const k of kinds) {
    const [what, ...rest] = k.split(' ');
    const r = JSON.parse(await kubectlOk(['get', what!, ...rest, '-o', 'json']));
    for (const i of r.items) {
      if (!i.metadata.namespace && !i.metadata.name.includes(ns)) continue;
      out.set(`${i.kind}/${i.metadata.namespace ?? ''}/${i.metadata.name}`, i.metadata.resourceVersion);
    }
  }
  return out;
}

function diffState(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of b) if (a.get(k) !== v) out.push(`${a.has(k) ? 'changed' : 'created'} ${k}`);
  for (const k of a.keys()) if (!b.has(k)) out.push(`deleted ${k}`);
  return out.filter((d) => !/Secret\/.*default-token|ConfigMap\/.*kube-root-ca\.crt|ConfigMap\/.*istio-ca-root-cert/.test(d));
}

test.serial(
  'the tenant attack: an IstioOperator outside the trusted namespaces writes nothing, and RBAC overlays never widen',
  async (t) => {
    const tenant = await createNamespace(t, 'tenant-a');
    const trusted = await createNamespace(t, 'iop-trusted');
    const { mgr } = await startOperator(t, { namespaces: [tenant, trusted], trustedNamespaces: [trusted] });
    const rev = uniqueName('evil').slice(0, 12);
    const role = `istiod-clusterrole-${rev}-${tenant}`;
    const before = await clusterState(tenant);
    const attack = {
      profile: 'minimal',
      namespace: tenant,
      revision: rev,
      components: {
        pilot: {
          k8s: {
            overlays: [
              {
                kind: 'ClusterRole',
                name: role,
                patches: [{ path: 'rules[0]', value: { apiGroups: ['*'], resources: ['*'], verbs: ['*'] } }],
              },
              {
                kind: 'ClusterRoleBinding',
                name: role,
                patches: [{ path: 'subjects[0]', value: { kind: 'ServiceAccount', name: 'tenant', namespace: tenant } }],
              },
            ],
          },
        },
      },
    };
    // 1. Untrusted namespace: a status that says why, an Event, and nothing else (not even a finalizer).
    await kubectlOk(['apply', '-f', '-'], iopYaml('evil', tenant, attack));
    const refused = await waitForStatus(tenant, 'evil', (iop) => cond(iop, 'Reconciled')?.reason === 'UntrustedNamespace');
    t.is(refused.status.status, 'ERROR');
    t.regex(refused.status.message, new RegExp(`namespace "${tenant}" is not trusted`));
    t.is(cond(refused, 'Stalled')?.status, 'True');
    t.falsy(refused.metadata.finalizers?.length, 'no finalizer on an untrusted IstioOperator');
    t.deepEqual(diffState(before, await clusterState(tenant)), [], 'nothing written for the untrusted IstioOperator');
    // The Event follows the status write.
    await waitFor('an UntrustedNamespace Event', async () =>
      JSON.parse(await kubectlOk(['get', 'events', '-n', tenant, '-o', 'json'])).items.some((e: any) => e.reason === 'UntrustedNamespace'),
    );

    // 2. Even in a trusted namespace, the overlays are refused before anything is written: no ClusterRole, no binding.
    const trustedAttack = {
      ...attack,
      namespace: trusted,
      components: {
        pilot: {
          k8s: { overlays: attack.components.pilot.k8s.overlays.map((o) => ({ ...o, name: `istiod-clusterrole-${rev}-${trusted}` })) },
        },
      },
    };
    const before2 = await clusterState(trusted);
    await kubectlOk(['apply', '-f', '-'], iopYaml('evil', trusted, trustedAttack));
    const invalid = await waitForStatus(trusted, 'evil', (iop) => cond(iop, 'Reconciled')?.reason === 'InvalidSpec');
    t.regex(invalid.status.message, /grants more than the render does/);
    t.regex(invalid.status.message, /binds a subject the render does not/);
    t.deepEqual(diffState(before2, await clusterState(trusted)), [], 'no ClusterRole or binding changed');
    t.falsy(await getJson(['clusterrole', `istiod-clusterrole-${rev}-${trusted}`]));
    const heavy = mgr.history.filter((h) => h.result.writes > 2);
    t.deepEqual(
      heavy.map((h) => `${h.key}: ${h.result.action} ${h.result.writes}`),
      [],
      'only status and finalizer writes',
    );
  },
);

test.serial('the admission policy of the operator manifests refuses an IstioOperator outside the trusted namespaces', async (t) => {
  const tenant = await createNamespace(t, 'tenant-vap');
  const opNs = await createNamespace(t, 'op-vap');
  const { operatorManifests } = await import('../../../operator/controller/selfmanifests.js');
  const objs = operatorManifests({ namespace: opNs, includeCRD: false, watchNamespaces: [tenant, opNs] } as any).filter((o) =>
    /ValidatingAdmissionPolicy/.test(o.kind),
  );
  t.true(objs.length >= 2, objs.map((o) => o.kind).join(', '));
  t.teardown(async () => {
    for (const o of objs) await kubectl(['delete', o.kind.toLowerCase(), o.metadata.name, '--ignore-not-found']);
  });
  await kubectlOk(['apply', '--server-side', '-f', '-'], objs.map((o) => yaml.dump(o)).join('---\n'));
  // The apiserver loads new policies asynchronously; a server dry-run create polls for it without creating an
  // object whose unchanged re-apply the policy (rightly) lets through.
  const doc = iopYaml('tenant-iop', tenant, { profile: 'minimal' });
  await waitFor('the policy is loaded', async () => (await kubectl(['create', '--dry-run=server', '-f', '-'], { input: doc })).code !== 0);
  const r = await kubectl(['apply', '-f', '-'], { input: doc });
  t.not(r.code, 0);
  t.regex(r.stderr, /only on IstioOperators in its trusted namespaces/);
  t.falsy(await getJson(['istiooperator', '-n', tenant, 'tenant-iop']));
});

test.serial('honest status: a provided CA secret the operator may not read is ERROR/Stalled with the reason, not HEALTHY', async (t) => {
  const ns = await createNamespace(t, 'iop-ca403');
  const istioNs = await createNamespace(t, 'iop-ca403-istio');
  // An operator with exactly the shipped RBAC: only the secrets it names are readable.
  const { startRestrictedOperator } = await import('./restricted.js');
  await startRestrictedOperator(t, [ns]);
  await kubectlOk(
    ['apply', '-f', '-'],
    iopYaml('cp', ns, {
      profile: 'minimal',
      namespace: istioNs,
      revision: uniqueName('c').slice(0, 10),
      components: { ca: { mode: 'provided', secretName: 'my-own-ca' } },
    }),
  );
  const failed = await waitForStatus(ns, 'cp', (iop) => iop.status?.status === 'ERROR');
  t.regex(failed.status.message, /forbidden/i);
  t.regex(failed.status.message, /my-own-ca/);
  t.is(cond(failed, 'Stalled')?.status, 'True');
  t.is(failed.status.observedGeneration, failed.metadata.generation);
});

test.serial("honest status: a Deployment Pod Security refuses is ERROR with Kubernetes' own message", async (t) => {
  const ns = await createNamespace(t, 'iop-psa');
  const istioNs = await createNamespace(t, 'iop-psa-istio', { 'pod-security.kubernetes.io/enforce': 'restricted' });
  await startOperator(t, { namespaces: [ns] });
  // Without a seccomp profile istiod's and the gateway's pods are refused in a restricted namespace.
  await kubectlOk(
    ['apply', '-f', '-'],
    iopYaml('cp', ns, { profile: 'default', namespace: istioNs, revision: uniqueName('p').slice(0, 10) }),
  );
  const stuck = await waitForStatus(ns, 'cp', (iop) => iop.status?.status === 'ERROR', 120_000);
  t.regex(stuck.status.message, /violates PodSecurity/);
  t.is(cond(stuck, 'Stalled')?.reason, 'ComponentsStalled');
  // The documented settings (docs/operator.md, Pod Security) admit istiod and the gateway: RuntimeDefault seccomp.
  const runtimeDefault = { seccompProfile: { type: 'RuntimeDefault' } };
  await kubectlOk(
    ['apply', '-f', '-'],
    iopYaml('cp', ns, {
      profile: 'default',
      namespace: istioNs,
      revision: stuck.spec.revision,
      values: { global: { proxy: runtimeDefault }, gateways: runtimeDefault },
    }),
  );
  const healthy = await waitForStatus(ns, 'cp', 'HEALTHY', 120_000);
  t.is(cond(healthy, 'Ready')?.status, 'True');
  for (const d of ['istiod-' + stuck.spec.revision, 'istio-ingressgateway']) t.truthy(await getJson(['deployment', '-n', istioNs, d]), d);

  // The operator's own pod, as its manifests ship it, is admitted there too (Pod Security checks pods, so the
  // Deployment's pod template is created as a Pod, server-side dry run).
  const { operatorManifests } = await import('../../../operator/controller/selfmanifests.js');
  const dep = operatorManifests({ namespace: istioNs, includeCRD: false }).find((o) => o.kind === 'Deployment') as any;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'operator-psa-check', namespace: istioNs },
    spec: { ...dep.spec.template.spec, serviceAccountName: 'default' },
  };
  const admitted = await kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod) });
  t.is(admitted.code, 0, admitted.stderr);
  t.notRegex(admitted.stderr, /PodSecurity/);
});

test.serial('an invalid CPU quantity writes nothing, on a first install and on an edit of a live install', async (t) => {
  const ns = await createNamespace(t, 'iop-bad');
  const istioNs = await createNamespace(t, 'iop-bad-istio');
  await startOperator(t, { namespaces: [ns] });
  const rev = uniqueName('q').slice(0, 10);
  const cpu = (v: unknown) => ({
    profile: 'minimal',
    namespace: istioNs,
    revision: rev,
    components: { pilot: { k8s: { resources: { requests: { cpu: v } } } } },
  });
  const before = await clusterState(istioNs);
  // Not a quantity: the CRD refuses it at `kubectl apply`, naming the field; there is no IstioOperator.
  const refusedByApi = await kubectl(['apply', '-f', '-'], { input: iopYaml('cp', ns, cpu('lots')) });
  t.not(refusedByApi.code, 0);
  t.regex(refusedByApi.stderr, /spec\.components\.pilot\.k8s\.resources\.requests\.cpu/);
  t.falsy(await getJson(['istiooperator', '-n', ns, 'cp']));
  // A negative number passes the CRD's string pattern; the operator refuses it before writing anything.
  const bad = cpu(-1);
  await kubectlOk(['apply', '-f', '-'], iopYaml('cp', ns, bad));
  const refused = await waitForStatus(ns, 'cp', (iop) => iop.status?.status === 'ERROR');
  t.regex(refused.status.message, /spec\.components\.pilot\.k8s\.resources\.requests\.cpu/);
  t.deepEqual(diffState(before, await clusterState(istioNs)), [], 'first install: nothing written');

  await kubectlOk(['apply', '-f', '-'], iopYaml('cp', ns, { profile: 'minimal', namespace: istioNs, revision: rev }));
  await waitForStatus(ns, 'cp', 'HEALTHY');
  const live = await clusterState(istioNs);
  await kubectlOk(['apply', '-f', '-'], iopYaml('cp', ns, cpu(-1)));
  const refusedEdit = await waitForStatus(
    ns,
    'cp',
    (iop) => iop.status?.status === 'ERROR' && iop.status.observedGeneration === iop.metadata.generation,
  );
  t.regex(refusedEdit.status.message, /cpu|quantit/i);
  t.deepEqual(diffState(live, await clusterState(istioNs)), [], 'edit of a live install: not one resourceVersion changed');
});

test.serial(
  'CLI and operator never fight: install over, uninstall, and a canary taking a gateway are refused, naming the owner',
  async (t) => {
    const ns = await createNamespace(t, 'iop-own');
    const istioNs = await createNamespace(t, 'iop-own-istio');
    await startOperator(t, { namespaces: [ns] });
    const rev = uniqueName('o').slice(0, 10);
    await kubectlOk(['apply', '-f', '-'], iopYaml('cp', ns, { profile: 'default', namespace: istioNs, revision: rev }));
    await waitForStatus(ns, 'cp', 'HEALTHY');
    const file = path.join(os.tmpdir(), `${uniqueName('own')}.yaml`);
    t.teardown(() => fs.rmSync(file, { force: true }));

    // 1. The same IstioOperator from a file, through the CLI: refused, naming the IstioOperator.
    fs.writeFileSync(file, iopYaml('cp', ns, { profile: 'default', namespace: istioNs, revision: rev }));
    const over = await cli(['install', '-f', file, '-y']);
    t.is(over.code, 1);
    t.regex(over.stderr, new RegExp(`managed by the operator through IstioOperator ${ns}/cp`));
    t.regex(over.stderr, /--take-over/);
    t.is(over.stdout, '');

    // 2. Removing its revision from the CLI: refused the same way.
    const un = await cli(['uninstall', '--revision', rev, '-y']);
    t.is(un.code, 1);
    t.regex(un.stderr, /managed by the operator/);
    t.truthy(await getJson(['deployment', '-n', istioNs, `istiod-${rev}`]));

    // 3. A CLI canary in the same namespace, with the profile's gateway: the gateway is the IstioOperator's, refused.
    const gw = await rvOf(['deployment', '-n', istioNs, 'istio-ingressgateway']);
    fs.writeFileSync(file, iopYaml('canary', ns, { profile: 'default', namespace: istioNs, revision: `${rev}-c` }));
    const canary = await cli(['install', '-f', file, '-y']);
    t.not(canary.code, 0);
    t.regex(canary.stderr, new RegExp(`istio-ingressgateway: belongs to IstioOperator ${ns}/cp`));
    t.regex(canary.stderr, /nothing was written/);
    t.is(await rvOf(['deployment', '-n', istioNs, 'istio-ingressgateway']), gw, 'the gateway was not touched');
    t.falsy(await getJson(['deployment', '-n', istioNs, `istiod-${rev}-c`]), 'nothing of the canary was written');
  },
);

test.serial('the documented operator canary: a second IstioOperator for a new revision installs beside the first', async (t) => {
  const ns = await createNamespace(t, 'iop-canary');
  const istioNs = await createNamespace(t, 'iop-canary-istio');
  await startOperator(t, { namespaces: [ns] });
  const stable = uniqueName('s').slice(0, 10);
  const canary = uniqueName('c').slice(0, 10);
  await kubectlOk(['apply', '-f', '-'], iopYaml('stable', ns, { profile: 'default', namespace: istioNs, revision: stable }));
  await waitForStatus(ns, 'stable', 'HEALTHY');
  // As docs/gitops.md recipe 3 writes it: same Istio namespace, its own revision, no gateways (they stay).
  await kubectlOk(
    ['apply', '-f', '-'],
    iopYaml('canary', ns, { profile: 'default', namespace: istioNs, revision: canary, components: { ingressGateways: [] } }),
  );
  const c = await waitForStatus(ns, 'canary', 'HEALTHY');
  t.is(cond(c, 'Ready')?.status, 'True');
  t.truthy(await getJson(['deployment', '-n', istioNs, `istiod-${canary}`]));
  t.is(
    (await getJson(['deployment', '-n', istioNs, 'istio-ingressgateway'])).metadata.labels['istio.io/rev'],
    stable,
    'the gateway stays with the stable revision',
  );
  t.is((await getJson(['istiooperator', '-n', ns, 'stable'])).status.status, 'HEALTHY');
});

test.serial('nothing dangling: deleting an IstioOperator that adopted a CLI install removes the default tag webhooks too', async (t) => {
  const ns = await createNamespace(t, 'iop-adopt');
  const istioNs = await createNamespace(t, 'iop-adopt-istio');
  const rev = uniqueName('a').slice(0, 10);
  const file = path.join(os.tmpdir(), `${uniqueName('adopt')}.yaml`);
  t.teardown(() => fs.rmSync(file, { force: true }));
  // A CLI install of a revision, with the default tag the CLI adds when none exists (a quick start).
  fs.writeFileSync(file, iopYaml('quick', ns, { profile: 'minimal', namespace: istioNs, revision: rev }));
  const first = await cli(['install', '-f', file, '-y']);
  t.is(first.code, 0, first.stderr);
  const tag = `istio-revision-tag-default-${istioNs}`;
  const hadTag = !!(await getJson(['mutatingwebhookconfiguration', tag]));
  // Adopted: an IstioOperator of the same name and namespace takes the install over.
  await startOperator(t, { namespaces: [ns] });
  await kubectlOk(['apply', '-f', '-'], iopYaml('quick', ns, { profile: 'minimal', namespace: istioNs, revision: rev }));
  await waitForStatus(ns, 'quick', 'HEALTHY');
  await kubectlOk(['delete', 'istiooperator', '-n', ns, 'quick', '--wait=true', '--timeout=90s']);
  // No webhook may be left calling the deleted istiod.
  const hooks = JSON.parse(await kubectlOk(['get', 'mutatingwebhookconfigurations,validatingwebhookconfigurations', '-o', 'json'])).items;
  const dangling = hooks.filter((h: any) =>
    (h.webhooks ?? []).some((w: any) => w.clientConfig?.service?.namespace === istioNs && w.failurePolicy === 'Fail'),
  );
  t.deepEqual(
    dangling.map((h: any) => h.metadata.name),
    [],
  );
  if (hadTag) t.falsy(await getJson(['mutatingwebhookconfiguration', tag]), 'the default tag went with the revision');
});

test.serial("two operator instances side by side: deleting one leaves the other's RBAC in place", async (t) => {
  const a = await createNamespace(t, 'op-a');
  const b = await createNamespace(t, 'op-b');
  const { operatorManifests } = await import('../../../operator/controller/selfmanifests.js');
  const rbac = (ns: string) =>
    operatorManifests({ namespace: ns, includeCRD: false } as any).filter((o) => /Role|ServiceAccount/.test(o.kind));
  const [ra, rb] = [rbac(a), rbac(b)];
  t.teardown(async () => {
    for (const o of [...ra, ...rb].filter((x) => x.kind.startsWith('Cluster')))
      await kubectl(['delete', o.kind.toLowerCase(), o.metadata.name, '--ignore-not-found']);
  });
  const names = (objs: any[]) => objs.filter((o) => o.kind.startsWith('Cluster')).map((o) => `${o.kind}/${o.metadata.name}`);
  t.deepEqual(
    names(ra).filter((n) => names(rb).includes(n)),
    [],
    'no cluster-scoped name is shared',
  );
  await kubectlOk(['apply', '--server-side', '-f', '-'], [...ra, ...rb].map((o) => yaml.dump(o)).join('---\n'));
  await kubectlOk(['delete', '-f', '-'], rb.map((o) => yaml.dump(o)).join('---\n'));
  for (const o of ra.filter((x) => x.kind.startsWith('Cluster')))
    t.truthy(await getJson([o.kind.toLowerCase(), o.metadata.name]), `${o.kind} ${o.metadata.name} survived`);
  const binding = await getJson(['clusterrolebinding', ra.find((o) => o.kind === 'ClusterRoleBinding')!.metadata.name]);
  t.deepEqual(
    binding.subjects.map((s: any) => s.namespace),
    [a],
  );
  void testKubeconfig;
});

test.serial('honest status: an operator that lost its rights for Deployments says so in the status and in /readyz', async (t) => {
  const ns = await createNamespace(t, 'iop-lost');
  const istioNs = await createNamespace(t, 'iop-lost-istio');
  const { startRestrictedOperator } = await import('./restricted.js');
  const op = await startRestrictedOperator(t, [ns], { healthAddr: '127.0.0.1:0' });
  const rev = uniqueName('l').slice(0, 10);
  await kubectlOk(['apply', '-f', '-'], iopYaml('cp', ns, { profile: 'minimal', namespace: istioNs, revision: rev }));
  await waitForStatus(ns, 'cp', 'HEALTHY');
  const ready = async () => (await fetch(`http://127.0.0.1:${op.mgr.ports.health}/readyz`)).status;
  t.is(await ready(), 200);
  // The rights for Deployments go (a ClusterRole edited by someone), then istiod is deleted.
  const role = op.clusterRbac[0]!;
  const cr = await getJson(['clusterrole', role]);
  cr.rules = cr.rules.filter((r: any) => !(r.resources ?? []).includes('deployments'));
  delete cr.metadata.resourceVersion;
  delete cr.metadata.managedFields;
  await kubectlOk(['replace', '-f', '-'], JSON.stringify(cr));
  await kubectlOk(['delete', 'deployment', '-n', istioNs, `istiod-${rev}`]);
  await kubectlOk(['annotate', 'istiooperator', '-n', ns, 'cp', `nudge=${Date.now()}`, '--overwrite']);
  const lost = await waitForStatus(ns, 'cp', (iop) => iop.status?.status === 'ERROR', 90_000);
  t.regex(lost.status.message, /forbidden/i);
  t.regex(lost.status.message, /deployments/);
  await waitFor('/readyz turns 503', async () => (await ready()) === 503, { timeoutMs: 60_000 });
});
