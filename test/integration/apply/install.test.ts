// Install, re-install, change, prune and conflict behaviour of `istio-operator install` on a real apiserver.
// Serial: every install applies the shared Istio CRDs, and the no-op assertions must not see another
// install relabel them in between. Each test has its own namespace, owner name and revision.
import test from 'ava';
import { LABEL_COMPONENT, LABEL_OWNER, LABEL_REV } from '../../../operator/apply/owner.js';
import { canonical } from '../../../operator/apply/ssa.js';
import type { K8sObject } from '../../../operator/render/index.js';
import { createNamespace, kubectl } from '../helpers/cluster.js';
import { cleanupRevision, cli, iopFile, ownWrites, readAll, refs, rendered, versions, writesIn } from './_util.js';

/** Keys of the rendered objects whose content differs between two renders: what a change must write, and only that. */
function affected(a: K8sObject[], b: K8sObject[]): string[] {
  const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const before = new Map(a.map((o) => [key(o), canonical(o)]));
  return b.filter((o) => before.get(key(o)) !== canonical(o)).map(key).sort();
}

for (const profile of ['default', 'demo', 'minimal']) {
  test.serial(`${profile} profile installs from empty: every object present, ours, Deployments Available`, async (t) => {
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
      t.is(l?.metadata?.labels?.[LABEL_OWNER], inst.name, `${o.kind} ${o.metadata.name} owner label`);
      t.is(l?.metadata?.labels?.[LABEL_REV], inst.revision, `${o.kind} ${o.metadata.name} revision label`);
      t.truthy(l?.metadata?.labels?.[LABEL_COMPONENT], `${o.kind} ${o.metadata.name} component label`);
      t.true((l?.metadata?.managedFields ?? []).some((m: any) => m.manager === 'istio-operator' && m.operation === 'Apply'), 'applied server-side by istio-operator');
    });
    const deployments = live.filter((l) => l?.kind === 'Deployment');
    t.true(deployments.length > 0);
    for (const d of deployments) {
      t.true(d!.status.conditions.some((c: any) => c.type === 'Available' && c.status === 'True'), `${d!.metadata.name} Available`);
    }
    // CRDs may exist already (shared by every install in the cluster): those are configured, the rest created.
    const m = /(\d+) created, (\d+) configured, \d+ replaced, (\d+) unchanged/.exec(r.stdout);
    t.truthy(m, r.stdout);
    const total = Number(m![1]) + Number(m![2]) + Number(m![3]);
    t.true(total === objects.length || total === objects.length + 2, `summary covers every object (+ default tag): ${r.stdout}`);
  });
}

test.serial('same input again: zero writes, no resourceVersion changes, diff exits 0; one value change writes only that object', async (t) => {
  const ns = await createNamespace(t, 'ap-noop');
  const inst = iopFile(t, ns, 'default');
  cleanupRevision(t, inst.revision);
  t.is((await cli(['install', '-f', inst.file, '-y', '--wait=false'])).code, 0);
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

  // pilot replicaCount: the istiod Deployment, and the values ConfigMap that records the merged values.
  const set = ['--set', 'components.pilot.k8s.replicaCount=2'];
  const affected1 = affected(objects, rendered(inst.file, ['components.pilot.k8s.replicaCount=2']));
  t.true(affected1.includes(`Deployment/${ns}/istiod-${inst.revision}`));
  const d2 = await cli(['diff', '-f', inst.file, ...set]);
  t.is(d2.code, 1, d2.stderr);
  t.regex(d2.stdout, /# configure Deployment .*\/istiod-/);
  t.regex(d2.stdout, /-\s+replicas: 1\n\+\s+replicas: 2/);
  const changed = await cli(['install', '-f', inst.file, '-y', '--wait=false', ...set]);
  t.is(changed.code, 0, changed.stderr);
  t.is(ownWrites(changed.stdout), affected1.length, changed.stdout);
  t.regex(changed.stdout, new RegExp(`^configured Deployment ${ns}/istiod-${inst.revision}$`, 'm'));
  const after = await versions(objects);
  const moved = Object.keys(after).filter((k) => before[k] !== after[k]).sort();
  t.deepEqual(moved, affected1);

  // ingress service type: the gateway Service only.
  const set2 = [...set, '--set', 'components.ingressGateways[0].k8s.service.type=NodePort'];
  const affected2 = affected(rendered(inst.file, ['components.pilot.k8s.replicaCount=2']), rendered(inst.file, ['components.pilot.k8s.replicaCount=2', 'components.ingressGateways[0].k8s.service.type=NodePort']));
  t.true(affected2.includes(`Service/${ns}/istio-ingressgateway`));
  const changed2 = await cli(['install', '-f', inst.file, '-y', '--wait=false', ...set2]);
  t.is(changed2.code, 0, changed2.stderr);
  t.is(ownWrites(changed2.stdout), affected2.length, changed2.stdout);
  const after2 = await versions(objects);
  t.deepEqual(Object.keys(after).filter((k) => after[k] !== after2[k]).sort(), affected2);
});

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
  const pruned = r.stdout.split('\n').filter((l) => l.startsWith('pruned ')).map((l) => l.slice(7)).sort();
  t.deepEqual(pruned, egress.map((o) => `${o.kind} ${o.metadata.namespace ? o.metadata.namespace + '/' : ''}${o.metadata.name}`).sort());
  const liveEgress = await readAll(refs(egress));
  t.true(liveEgress.every((l) => !l || l.metadata.deletionTimestamp), 'egress objects gone');
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
  const patch = await kubectl(['patch', 'configmap', '-n', ns, cmName, '--field-manager', 'someone-else', '--type', 'merge', '-p', JSON.stringify({ data: { mesh: 'changed: true\n', theirs: 'kept' } })]);
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
  const sel = JSON.parse((await kubectl(['get', 'deployment', '-n', ns, 'istio-ingressgateway', '-o', 'jsonpath={.spec.selector.matchLabels}'])).stdout);
  t.is(sel.extra, 'yes');
});
