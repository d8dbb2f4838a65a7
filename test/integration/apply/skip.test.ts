// install()'s `skip`/`onApplied`/`namespaceExists`: what the controller uses to apply only what it does not
// already know to be live as rendered (operator/controller/memo.ts), through the one install sequence.
import test from 'ava';
import { writesOf } from '../../../operator/apply/client.js';
import { install } from '../../../operator/apply/install.js';
import { readInventory } from '../../../operator/apply/inventory.js';
import { ownerOf } from '../../../operator/api/owner.js';
import { refKey, refOf } from '../../../operator/apply/resources.js';
import type { ObjectResult } from '../../../operator/apply/ssa.js';
import { createNamespace } from '../helpers/cluster.js';
import { cleanupRevision, client, iopFile, rendered } from './_util.js';

test.serial('skipped objects cost no request, stay unchanged and in the inventory; only the others are applied', async (t) => {
  const ns = await createNamespace(t, 'ap-skip');
  const inst = iopFile(t, ns, 'minimal');
  cleanupRevision(t, inst.revision);
  const objects = rendered(inst.file);
  const owner = ownerOf({ name: inst.name, namespace: ns }, inst.revision);
  const c = client();
  t.teardown(() => c.close());

  const applied: ObjectResult[] = [];
  const first = await install(c, objects, { owner, namespace: ns, defaultTag: false, onApplied: (_o, r) => applied.push(r) });
  t.is(first.skipped, 0);
  t.is(applied.length, objects.length, 'onApplied once per applied object');
  t.true(applied.every((r) => !!r.after?.metadata?.resourceVersion));

  // Everything known: no request but the inventory read.
  const noop = await install(c, objects, {
    owner,
    namespace: ns,
    defaultTag: false,
    namespaceExists: true,
    skip: () => true,
    onApplied: () => t.fail('nothing is applied'),
  });
  t.is(noop.skipped, objects.length);
  t.is(writesOf(noop.counts), 0);
  t.is(noop.counts.get + noop.counts.list + noop.counts.dryRun, 1, JSON.stringify(noop.counts));
  t.true(noop.results.every((r) => r.outcome === 'unchanged'));
  t.deepEqual(noop.pruned, []);

  // One object changed, the rest known: only it is applied, nothing is pruned, the inventory keeps them all.
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === `istio-${inst.revision}`)!;
  const edited = objects.map((o) => (o === cm ? { ...o, data: { ...(o as any).data, extra: 'x' } } : o));
  const seen: string[] = [];
  const one = await install(c, edited, {
    owner,
    namespace: ns,
    defaultTag: false,
    namespaceExists: true,
    skip: (o) => o.kind !== 'ConfigMap' || o.metadata.name !== cm.metadata.name,
    onApplied: (o) => seen.push(refKey(refOf(o))),
  });
  t.deepEqual(seen, [refKey(refOf(cm))]);
  t.is(one.skipped, objects.length - 1);
  t.is(writesOf(one.counts), 1, JSON.stringify(one.counts));
  t.deepEqual(one.pruned, []);
  const inv = await readInventory(c, ns, owner);
  t.is(inv?.objects.length, objects.length);
});
