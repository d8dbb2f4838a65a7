// Install, re-install, change, prune and conflict behaviour of `istio-operator install` on a real apiserver.
// Serial: every install applies the shared Istio CRDs, and the no-op assertions must not see another
// install relabel them in between. Each test has its own namespace, owner name and revision.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';

import { canonical } from '../../../operator/apply/ssa.js';
import type { K8sObject } from '../../../operator/render/index.js';
import { createNamespace, kubectl, testKubeconfig } from '../helpers/cluster.js';
import { cleanupRevision, cli, iopFile, ownWrites, readAll, refs, rendered, versions, writesIn } from './_util.js';
import { LABEL_COMPONENT, LABEL_OWNER_NAME, LABEL_REVISION } from '../../../operator/api/labels.js';

/** Keys of the rendered objects whose content differs between two renders: what a change must write, and only that. */
function affected(a: K8sObject[], b: K8sObject[]): string[] {
  const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const before = new Map(a.map((o) => [key(o), canonical(o)]));
  return b
    .filter((o) => before.get(key(o)) !== canonical(o))
    .map(key)
    .sort();
}

const sets = (xs: string[]) => xs.flatMap((x) => ['--set', x]);
const keyOf = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
/** The inventory is written when the set of objects changes. */
/** Inventory writes of an install from objects `a` to `b`: one when the set changes or the recorded spec does (a --set). */
function inventoryWrites(a: K8sObject[], b: K8sObject[], specChanged = true): number {
  const x = a.map(keyOf).sort().join(',');
  return x === b.map(keyOf).sort().join(',') && !specChanged ? 0 : 1;
}

// ambient: the only test file installing the CNI agent, whose ClusterRoles have fixed names cluster-wide.
for (const profile of ['default', 'demo', 'minimal', 'ambient']) {
  test.serial(
    `${profile} profile installs from empty: every object present, ours, Deployments Available, DaemonSets rolled out`,
    async (t) => {
      const ns = await createNamespace(t, `ap-${profile}`);
      const inst = iopFile(t, ns, profile);
      cleanupRevision(t, inst.revision);
      const r = await cli(['install', '-f', inst.file, '-y', '--timeout', '2m']);
      t.is(r.code, 0, r.stderr + r.stdout);
      t.regex(r.stderr, /✔ Installation complete/);
      const objects = rendered(inst.file);
      const live = await readAll(refs(objects));
      objects.forEach((o, i) => {
        const l = live[i];
        t.truthy(l, `${o.kind} ${o.metadata.name} exists`);
        if (o.kind === 'CustomResourceDefinition') {
          // Shared by every install: we apply no one owner's identity (see operator/apply/owner.ts).
          const ours = (l?.metadata?.managedFields ?? []).find((m: any) => m.manager === 'istio-operator' && m.operation === 'Apply');
          t.falsy(
            ours?.fieldsV1?.['f:metadata']?.['f:labels']?.[`f:${LABEL_OWNER_NAME}`],
            `${o.metadata.name}: no owner label applied by us`,
          );
        } else {
          t.is(l?.metadata?.labels?.[LABEL_OWNER_NAME], inst.name, `${o.kind} ${o.metadata.name} owner label`);
          t.is(l?.metadata?.labels?.[LABEL_REVISION], inst.revision, `${o.kind} ${o.metadata.name} revision label`);
        }
        t.truthy(l?.metadata?.labels?.[LABEL_COMPONENT], `${o.kind} ${o.metadata.name} component label`);
        t.true(
          (l?.metadata?.managedFields ?? []).some((m: any) => m.manager === 'istio-operator' && m.operation === 'Apply'),
          'applied server-side by istio-operator',
        );
      });
      const deployments = live.filter((l) => l?.kind === 'Deployment');
      t.true(deployments.length > 0);
      for (const d of deployments) {
        t.true(
          d!.status.conditions.some((c: any) => c.type === 'Available' && c.status === 'True'),
          `${d!.metadata.name} Available`,
        );
      }
      // The node agents run on every node (the test cluster has one); --wait returned only once they did.
      const daemonSets = live.filter((l) => l?.kind === 'DaemonSet');
      t.is(daemonSets.length, profile === 'ambient' ? 2 : 0);
      for (const d of daemonSets) {
        t.true(
          d!.status.desiredNumberScheduled >= 1 && d!.status.numberAvailable === d!.status.desiredNumberScheduled,
          `${d!.metadata.name} rolled out: ${JSON.stringify(d!.status)}`,
        );
      }
      // CRDs may exist already (shared by every install in the cluster): those are configured, the rest created.
      const m = /(\d+) created, (\d+) configured, \d+ replaced, (\d+) unchanged/.exec(r.stdout);
      t.truthy(m, r.stdout);
      const total = Number(m![1]) + Number(m![2]) + Number(m![3]);
      // + the default tag when none existed: its webhook, the default validator and the istiod-revision-tag-default Service.
      t.true(total === objects.length || total === objects.length + 3, `summary covers every object (+ default tag): ${r.stdout}`);
    },
  );
}

test.serial(
  'same input again: zero writes, no resourceVersion changes, diff exits 0; one value change writes only that object',
  async (t) => {
    const ns = await createNamespace(t, 'ap-noop');
    // Without autoscaling, so that replicaCount is rendered into the Deployment (as Istio does).
    const inst = iopFile(t, ns, 'default', { values: { pilot: { autoscaleEnabled: false } } });
    cleanupRevision(t, inst.revision);
    // Waited for, so the Deployment controller's own metadata writes (the revision annotation) are done.
    t.is((await cli(['install', '-f', inst.file, '-y'])).code, 0);
    const objects = rendered(inst.file);
    const before = await versions(objects, { crds: true });

    const again = await cli(['install', '-f', inst.file, '-y', '--wait=false']);
    t.is(again.code, 0, again.stderr);
    t.is(writesIn(again.stdout), 0, again.stdout);
    t.regex(again.stdout, /0 created, 0 configured, 0 replaced, \d+ unchanged, 0 pruned/);
    t.deepEqual(await versions(objects, { crds: true }), before, 'no object changed');

    const diff = await cli(['diff', '-f', inst.file]);
    t.is(diff.code, 0, diff.stdout + diff.stderr);
    t.is(diff.stdout, '');

    // pilot replicaCount: exactly the objects whose rendered form changes (the istiod Deployment, the values
    // ConfigMap that records the merged values, and what replicas > 1 brings), plus one inventory update if
    // the set of objects changed.
    const set1 = ['components.pilot.k8s.replicaCount=2'];
    const objects1 = rendered(inst.file, set1);
    const affected1 = affected(objects, objects1);
    t.true(affected1.includes(`Deployment/${ns}/istiod-${inst.revision}`));
    const d2 = await cli(['diff', '-f', inst.file, ...sets(set1)]);
    t.is(d2.code, 1, d2.stderr);
    t.regex(d2.stdout, /# configure Deployment .*\/istiod-/);
    t.regex(d2.stdout, /-\s+replicas: 1\n\+\s+replicas: 2/);
    const changed = await cli(['install', '-f', inst.file, '-y', '--wait=false', ...sets(set1)]);
    t.is(changed.code, 0, changed.stderr);
    t.is(ownWrites(changed.stdout), affected1.length + inventoryWrites(objects, objects1), changed.stdout);
    t.regex(changed.stdout, new RegExp(`^configured Deployment ${ns}/istiod-${inst.revision}$`, 'm'));
    const after = await versions([...objects, ...objects1]);
    t.deepEqual(
      Object.keys(after)
        .filter((k) => before[k] !== after[k])
        .sort(),
      affected1,
    );

    // ingress service type: the gateway Service (and the values ConfigMap).
    const set2 = [...set1, 'components.ingressGateways[0].k8s.service.type=NodePort'];
    const objects2 = rendered(inst.file, set2);
    const affected2 = affected(objects1, objects2);
    t.true(affected2.includes(`Service/${ns}/istio-ingressgateway`));
    const changed2 = await cli(['install', '-f', inst.file, '-y', '--wait=false', ...sets(set2)]);
    t.is(changed2.code, 0, changed2.stderr);
    t.is(ownWrites(changed2.stdout), affected2.length + inventoryWrites(objects1, objects2), changed2.stdout);
    const after2 = await versions(objects2);
    t.deepEqual(
      Object.keys(after2)
        .filter((k) => after[k] !== after2[k])
        .sort(),
      affected2,
    );
  },
);

test.serial('disabling the egress gateway prunes exactly its objects; a look-alike user object survives', async (t) => {
  const ns = await createNamespace(t, 'ap-prune');
  const inst = iopFile(t, ns, 'demo');
  cleanupRevision(t, inst.revision);
  t.is((await cli(['install', '-f', inst.file, '-y', '--wait=false'])).code, 0);
  const all = rendered(inst.file);
  const egress = all.filter((o) => o.metadata.labels?.[LABEL_COMPONENT] === 'EgressGateways');
  t.true(egress.length >= 3, 'demo renders an egress gateway');
  // Same labels as ours, same namespace, but never installed by us.
  const lookalike = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'istio-egressgateway-user', namespace: ns, labels: { ...egress[0]!.metadata.labels } },
    data: { mine: 'yes' },
  };
  t.is((await kubectl(['apply', '-f', '-'], { input: JSON.stringify(lookalike) })).code, 0);
  const before = await versions(all);

  const off = ['--set', 'components.egressGateways[0].enabled=false'];
  const r = await cli(['install', '-f', inst.file, '-y', '--wait=false', ...off]);
  t.is(r.code, 0, r.stderr);
  const pruned = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('pruned '))
    .map((l) => l.slice(7))
    .sort();
  t.deepEqual(pruned, egress.map((o) => `${o.kind} ${o.metadata.namespace ? o.metadata.namespace + '/' : ''}${o.metadata.name}`).sort());
  const liveEgress = await readAll(refs(egress));
  t.true(
    liveEgress.every((l) => !l || l.metadata.deletionTimestamp),
    'egress objects gone',
  );
  const keep = all.filter((o) => !egress.includes(o));
  const after = await versions(keep);
  t.deepEqual(after, Object.fromEntries(Object.keys(after).map((k) => [k, before[k]])), 'nothing else changed');
  t.is(ownWrites(r.stdout), egress.length + 1, 'deletes plus one inventory update');
  const survivor = await kubectl(['get', 'configmap', '-n', ns, 'istio-egressgateway-user', '-o', 'jsonpath={.data.mine}']);
  t.is(survivor.stdout, 'yes');
});

test.serial('another field manager changes one of our fields and one of theirs: install restores ours, keeps theirs', async (t) => {
  const ns = await createNamespace(t, 'ap-conflict');
  const inst = iopFile(t, ns, 'minimal');
  cleanupRevision(t, inst.revision);
  t.is((await cli(['install', '-f', inst.file, '-y', '--wait=false'])).code, 0);
  const cmName = `istio-${inst.revision}`;
  const ours = (await kubectl(['get', 'configmap', '-n', ns, cmName, '-o', 'jsonpath={.data.mesh}'])).stdout;
  t.true(ours.length > 0);
  const patch = await kubectl([
    'patch',
    'configmap',
    '-n',
    ns,
    cmName,
    '--field-manager',
    'someone-else',
    '--type',
    'merge',
    '-p',
    JSON.stringify({ data: { mesh: 'changed: true\n', theirs: 'kept' } }),
  ]);
  t.is(patch.code, 0, patch.stderr);
  const dep = `istiod-${inst.revision}`;
  const p2 = await kubectl(['annotate', 'deployment', '-n', ns, dep, 'example.com/theirs=kept', '--field-manager', 'someone-else']);
  t.is(p2.code, 0, p2.stderr);

  const diff = await cli(['diff', '-f', inst.file]);
  t.is(diff.code, 1);
  t.regex(diff.stdout, /-\s+mesh: \|?-?\s*\n?\s*changed: true|changed: true/);
  const r = await cli(['install', '-f', inst.file, '-y', '--wait=false']);
  t.is(r.code, 0, r.stderr);
  t.is(ownWrites(r.stdout), 1, r.stdout);
  const cm = JSON.parse((await kubectl(['get', 'configmap', '-n', ns, cmName, '-o', 'json'])).stdout);
  t.is(cm.data.mesh, ours, 'our field restored');
  t.is(cm.data.theirs, 'kept', 'their field kept');
  const d = JSON.parse((await kubectl(['get', 'deployment', '-n', ns, dep, '-o', 'json'])).stdout);
  t.is(d.metadata.annotations['example.com/theirs'], 'kept');
  t.is((await cli(['diff', '-f', inst.file])).code, 0, 'in sync afterwards');
});

test.serial('istiod switching its validating webhook to failurePolicy Fail is not undone by the next install', async (t) => {
  const ns = await createNamespace(t, 'ap-runtime');
  const inst = iopFile(t, ns, 'minimal');
  cleanupRevision(t, inst.revision);
  t.is((await cli(['install', '-f', inst.file, '-y', '--wait=false'])).code, 0);
  const vwc = rendered(inst.file).find((o) => o.kind === 'ValidatingWebhookConfiguration')!;
  const hooks = vwc.webhooks as Array<{ name: string; failurePolicy?: string }>;
  t.is(hooks[0]!.failurePolicy, 'Ignore');
  // What istiod's webhook controller does once it serves (an update under its own manager name).
  const live = JSON.parse((await kubectl(['get', 'validatingwebhookconfiguration', vwc.metadata.name, '-o', 'json'])).stdout);
  live.webhooks = live.webhooks.map((w: any) => ({ ...w, failurePolicy: 'Fail' }));
  delete live.metadata.managedFields;
  t.is((await kubectl(['replace', '--field-manager', 'pilot-discovery', '-f', '-'], { input: JSON.stringify(live) })).code, 0);
  const r = await cli(['install', '-f', inst.file, '-y', '--wait=false']);
  t.is(r.code, 0, r.stderr);
  t.is(ownWrites(r.stdout), 0, r.stdout);
  const after = JSON.parse((await kubectl(['get', 'validatingwebhookconfiguration', vwc.metadata.name, '-o', 'json'])).stdout);
  t.true(after.webhooks.every((w: any) => w.failurePolicy === 'Fail'));
});

test.serial('a change to an immutable field is a clear error; --force replaces that object only', async (t) => {
  const ns = await createNamespace(t, 'ap-immutable');
  const inst = iopFile(t, ns, 'default');
  cleanupRevision(t, inst.revision);
  t.is((await cli(['install', '-f', inst.file, '-y', '--wait=false'])).code, 0);
  const label = ['--set', 'components.ingressGateways[0].label.extra=yes'];
  const r = await cli(['install', '-f', inst.file, '-y', '--wait=false', ...label]);
  t.is(r.code, 2, r.stdout);
  t.regex(r.stderr, new RegExp(`Deployment ${ns}/istio-ingressgateway: cannot change immutable field.*spec\\.selector.*--force`));
  const forced = await cli(['install', '-f', inst.file, '-y', '--wait=false', '--force', ...label]);
  t.is(forced.code, 0, forced.stderr);
  t.regex(forced.stdout, new RegExp(`^replaced Deployment ${ns}/istio-ingressgateway$`, 'm'));
  const sel = JSON.parse(
    (await kubectl(['get', 'deployment', '-n', ns, 'istio-ingressgateway', '-o', 'jsonpath={.spec.selector.matchLabels}'])).stdout,
  );
  t.is(sel.extra, 'yes');
});

test.serial('uninstall --revision R removes R only, and refuses while a namespace or a revision tag still uses R', async (t) => {
  const ns1 = await createNamespace(t, 'ap-un1');
  const ns2 = await createNamespace(t, 'ap-un2');
  const r1 = iopFile(t, ns1, 'minimal');
  const r2 = iopFile(t, ns2, 'minimal');
  cleanupRevision(t, r1.revision);
  cleanupRevision(t, r2.revision);
  t.is((await cli(['install', '-f', r1.file, '-y', '--wait=false'])).code, 0);
  t.is((await cli(['install', '-f', r2.file, '-y', '--wait=false'])).code, 0);
  const o1 = rendered(r1.file).filter((o) => o.kind !== 'CustomResourceDefinition');
  const o2 = rendered(r2.file);
  const v2 = await versions(o2);

  const user = await createNamespace(t, 'ap-user', { 'istio.io/rev': r1.revision });
  const refused = await cli(['uninstall', '--revision', r1.revision, '-y']);
  t.is(refused.code, 1, refused.stdout);
  t.regex(refused.stderr, new RegExp(`Namespace ${user}: labelled istio.io/rev=${r1.revision}`));
  t.true((await readAll(refs(o1))).every(Boolean), 'nothing removed when refused');

  // A revision tag (not ours) pointing at R1 is a user too.
  const tagName = `istio-revision-tag-t${r1.revision}`;
  t.teardown(async () => void (await kubectl(['delete', 'mutatingwebhookconfiguration', tagName, '--ignore-not-found'])));
  const tag = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: tagName, labels: { 'istio.io/tag': `t${r1.revision}`, 'istio.io/rev': r1.revision } },
    webhooks: [],
  };
  t.is((await kubectl(['apply', '-f', '-'], { input: JSON.stringify(tag) })).code, 0);
  const refused2 = await cli(['uninstall', '--revision', r1.revision, '-y']);
  t.is(refused2.code, 1);
  t.regex(refused2.stderr, new RegExp(`Tag t${r1.revision}: revision tag points at ${r1.revision}`));

  const r = await cli(['uninstall', '--revision', r1.revision, '-y', '--force']);
  t.is(r.code, 0, r.stderr);
  const gone = await readAll(refs(o1));
  t.deepEqual(
    o1.filter((_, i) => gone[i] && !gone[i]!.metadata.deletionTimestamp).map((o) => `${o.kind}/${o.metadata.name}`),
    [],
    'every R1 object removed',
  );
  t.deepEqual(await versions(o2), v2, 'R2 untouched');
  const crds = await readAll(refs(o2.filter((o) => o.kind === 'CustomResourceDefinition')));
  t.true(crds.every(Boolean), 'CRDs kept');
  t.is((await cli(['uninstall', '--revision', r1.revision, '-y'])).code, 0, 'idempotent');

  // -f FILE removes what that IstioOperator installed.
  const byFile = await cli(['uninstall', '-f', r2.file, '-y']);
  t.is(byFile.code, 0, byFile.stderr);
  const gone2 = await readAll(refs(o2.filter((o) => o.kind !== 'CustomResourceDefinition')));
  t.true(gone2.every((l) => !l || l.metadata.deletionTimestamp));
});

test.serial('RBAC-forbidden: a clear error naming verb, resource and user; nothing is written', async (t) => {
  const ns = await createNamespace(t, 'ap-rbac');
  const inst = iopFile(t, ns, 'minimal');
  cleanupRevision(t, inst.revision);
  const sa = 'limited';
  const role = `ap-rbac-${ns}`;
  const setup = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: role },
      // Everything an install needs except RBAC objects.
      rules: [
        {
          apiGroups: ['', 'apps', 'apiextensions.k8s.io', 'admissionregistration.k8s.io', 'autoscaling', 'policy'],
          resources: ['*'],
          verbs: ['*'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: role },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: ns }],
    },
  ];
  t.teardown(async () => {
    await kubectl(['delete', 'clusterrole,clusterrolebinding', role, '--ignore-not-found']);
  });
  t.is((await kubectl(['apply', '-f', '-'], { input: setup.map((o) => JSON.stringify(o)).join('\n---\n') })).code, 0);
  const token = (await kubectl(['create', 'token', sa, '-n', ns])).stdout.trim();
  t.truthy(token);
  const kc = yaml.load(fs.readFileSync(testKubeconfig(), 'utf8')) as any;
  kc.users = [{ name: 'limited-user', user: { token } }];
  kc.contexts[0].context.user = 'limited-user';
  const kcFile = path.join(os.tmpdir(), `${ns}-kubeconfig`);
  fs.writeFileSync(kcFile, yaml.dump(kc));
  t.teardown(() => fs.rmSync(kcFile, { force: true }));

  const r = await cli(['install', '-f', inst.file, '-y', '--wait=false'], { kubeconfig: kcFile });
  t.not(r.code, 0, r.stdout);
  // Every object is planned (read, server dry-run) before the first write: the missing rights surface there.
  t.regex(r.stderr, /nothing was written; \d+ object\(s\) cannot be applied/);
  t.regex(r.stderr, /forbidden: user "limited-user" may not (create|get|patch)[^\n]*clusterroles\.rbac\.authorization\.k8s\.io/);
  t.regex(r.stderr, new RegExp(`system:serviceaccount:${ns}:${sa}`));
  t.regex(r.stderr, /grant that permission \(RBAC\)/);
  const all = rendered(inst.file).filter((o) => o.kind !== 'CustomResourceDefinition');
  t.true(all.length > 0);
  t.true(
    (await readAll(refs(all))).every((l) => !l),
    'nothing of the install exists',
  );
});

test.serial('readiness timeout names the Deployment that is not Available and its conditions', async (t) => {
  const ns = await createNamespace(t, 'ap-timeout');
  const inst = iopFile(t, ns, 'minimal');
  cleanupRevision(t, inst.revision);
  // No node matches: the pod stays Pending and the Deployment never becomes Available.
  const r = await cli([
    'install',
    '-f',
    inst.file,
    '-y',
    '--timeout',
    '4s',
    '--set',
    'components.pilot.k8s.nodeSelector.no-such-node=true',
  ]);
  t.is(r.code, 2, r.stdout);
  t.regex(r.stderr, /- waiting for Istiod: Deployment /, 'plain progress lines off a TTY');
  t.regex(r.stderr, new RegExp(`timed out after 4s waiting for:\\n  Deployment ${ns}/istiod-${inst.revision}: .*Available=False`));
  // The pod's own reason, from the scheduler.
  t.regex(r.stderr, /pod istiod-[^:]+: Unschedulable: 0\/\d+ nodes are available/);
});
