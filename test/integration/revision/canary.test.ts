// The whole canary flow on the local control plane, through the real CLI: 1-29-0 installed and tagged prod,
// used by a namespace and by pods; 1-30-0 installed beside it; prod moved; pods replaced; 1-29-0 goes from in
// use to unused and is removed. At every step the live revision's objects keep their resourceVersions, and
// nothing of a removed revision is left behind. No istiod runs (no images), so no pod here is ever selected by
// an injection webhook: the "injected" pods live in an unlabelled namespace and carry the annotation only.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { KubeClient } from '../../../operator/apply/client.js';
import { listInventories, type Inventory } from '../../../operator/apply/inventory.js';
import { Resources, refString } from '../../../operator/apply/resources.js';
import { readUsage } from '../../../operator/revision/cluster.js';
import { isShared } from '../../../operator/apply/shared.js';
import { resolvedFrom } from '../../../operator/cli/install.js';
import { applyInstall, prepareInstall } from '../../../operator/install/workflow.js';
import { cli, versionOf } from '../apply/_util.js';
import { createNamespace, kubectl, testKubeconfig, uniqueName } from '../helpers/cluster.js';

function iop(t: ExecutionContext, ns: string, revision: string, tag: string, extra: Record<string, unknown> = {}): string {
  const doc = {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { name: `cp-${revision}`, namespace: ns },
    spec: {
      profile: 'minimal',
      namespace: ns,
      revision,
      tag,
      ...extra,
      values: { global: { istioNamespace: ns }, ...((extra.values as object) ?? {}) },
    },
  };
  const file = path.join(os.tmpdir(), `${uniqueName(`canary-${revision}`)}.json`);
  fs.writeFileSync(file, JSON.stringify(doc));
  t.teardown(() => fs.rmSync(file, { force: true }));
  return file;
}

async function inventoryOf(client: KubeClient, ns: string, rev: string): Promise<Inventory | undefined> {
  return (await listInventories(client)).find((i) => i.namespace === ns && i.owner.rev === rev);
}

/**
 * resourceVersion of every object of an inventory that belongs to that revision alone. Shared objects (CRDs, the
 * Base component) are excluded: they move forward to the newest revision by design (checked separately).
 */
async function versions(client: KubeClient, inv: Inventory): Promise<Map<string, string | undefined>> {
  const res = new Resources(client);
  const out = new Map<string, string | undefined>();
  for (const r of inv.objects) {
    if (r.kind === 'CustomResourceDefinition') continue;
    const o = await client.request<Record<string, any>>('GET', await res.path(r), { allow404: true });
    if (o && isShared(o as any)) continue;
    out.set(refString(r), versionOf(o));
  }
  return out;
}

function pod(ns: string, name: string, rev: string) {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, annotations: { 'istio.io/rev': rev, 'sidecar.istio.io/status': '{}' } },
    spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] },
  });
}

/**
 * Installs through the apply engine, without the `default` tag a first install adds (as istioctl does): the
 * default tag is cluster-wide, and other tests' namespaces labelled istio-injection=enabled must not land here.
 */
async function installRevision(client: KubeClient, file: string): Promise<void> {
  await applyInstall(client, await prepareInstall(client, resolvedFrom({ filename: [file], set: [] })), { defaultTag: false });
}

async function ok(t: ExecutionContext, args: string[]): Promise<string> {
  const r = await cli(args);
  t.is(r.code, 0, `istio-operator ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

test('canary upgrade 1-29-0 -> 1-30-0: tag, move, replace pods, guarded removal, nothing of the live revision touched', async (t) => {
  const client = KubeClient.fromOptions({ kubeconfig: testKubeconfig() });
  t.teardown(() => client.close());
  const ns = await createNamespace(t, 'canary-istio');
  const apps = await createNamespace(t, 'canary-apps');
  const shop = await createNamespace(t, 'canary-shop');
  t.teardown(async () => {
    // Leave nothing behind even when an assertion failed halfway.
    for (const rev of ['1-30-0', '1-29-0']) await cli(['uninstall', '--revision', rev, '--force', '-y']);
    await cli(['tag', 'remove', 'prod', '--force', '-y']);
  });

  // 1. The running revision, tagged prod.
  await installRevision(client, iop(t, ns, '1-29-0', '1.29.0'));
  await ok(t, ['tag', 'set', 'prod', '--revision', '1-29-0', '-y']);
  const hook = await client.request<Record<string, any>>(
    'GET',
    `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/istio-revision-tag-prod-${ns}`,
  );
  t.is(hook?.metadata.labels['istio.io/rev'], '1-29-0');
  t.is(hook?.metadata.labels['istio.io/tag'], 'prod');
  t.deepEqual(
    hook?.webhooks.map((w: any) => w.clientConfig.service.name),
    ['istiod-1-29-0', 'istiod-1-29-0'],
  );
  const tagSvc = await client.request<Record<string, any>>('GET', `/api/v1/namespaces/${ns}/services/istiod-revision-tag-prod`);
  t.deepEqual(tagSvc?.spec.selector, { app: 'istiod', 'istio.io/rev': '1-29-0' });
  const listed = await ok(t, ['tag', 'list']);
  t.regex(listed, /^prod\s+1-29-0\s+-\s+tag set$/m);

  // Negative: a tag named like a revision.
  const clash = await cli(['tag', 'set', '1-29-0', '--revision', '1-29-0', '-y']);
  t.is(clash.code, 1);
  t.regex(clash.stderr, /tag "1-29-0" has the name of an installed revision/);

  // 2. Users: a namespace on the tag, pods on the revision.
  await kubectl(['label', 'namespace', shop, 'istio.io/rev=prod']);
  for (const n of ['a', 'b']) t.is((await kubectl(['apply', '-f', '-'], { input: pod(apps, `old-${n}`, '1-29-0') })).code, 0);
  const inUse = await readUsage(client, '1-29-0');
  t.true(inUse.inUse);
  t.true(inUse.namespaces.includes(shop));
  t.deepEqual(
    inUse.pods.filter((p) => p.startsWith(`${apps}/`)),
    [`${apps}/old-a`, `${apps}/old-b`],
  );
  t.deepEqual(inUse.tags, ['prod']);

  // Negative: upgrade plan across three minors.
  const far = await cli(['upgrade', 'plan', '--to', '1.32.0', '--istio-namespace', ns]);
  t.is(far.code, 1);
  t.regex(far.stderr, /1\.29\.0 → 1\.32\.0 crosses 3 minor versions; Istio supports canary upgrades across at most 2/);
  const plan = await ok(t, ['upgrade', 'plan', '--to', '1.30.0', '--istio-namespace', ns]);
  t.regex(plan, /revision: 1-30-0/);
  // The running revision's profile and settings, from its inventory, not the default profile's.
  t.regex(plan, /profile: minimal/);
  t.regex(plan, new RegExp(`istioNamespace: ${ns}`));
  t.notRegex(plan, /tag: 1\.29\.0/);
  t.regex(plan, /ingressGateways: \[\]/);
  t.regex(plan, /\$ istio-operator tag set prod --revision 1-30-0 --overwrite/);
  t.regex(plan, /\$ istio-operator uninstall --revision 1-29-0/);

  const oldInv = (await inventoryOf(client, ns, '1-29-0'))!;
  t.truthy(oldInv);
  const oldVersions = await versions(client, oldInv);
  t.true([...oldVersions.values()].every(Boolean));

  // 3. The canary beside it: nothing of 1-29-0 changes.
  await installRevision(client, iop(t, ns, '1-30-0', '1.30.0'));
  t.deepEqual(await versions(client, oldInv), oldVersions, 'installing 1-30-0 touched 1-29-0');
  const newInv = (await inventoryOf(client, ns, '1-30-0'))!;
  const crds = newInv.objects.filter((o) => o.kind === 'CustomResourceDefinition');
  for (const c of crds.slice(0, 3)) {
    const live = await client.request<Record<string, any>>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${c.name}`);
    const v = live?.metadata.labels?.['operator.istio.io/version'] ?? '';
    t.false(v.startsWith('1.29'), `CRD ${c.name} at ${v} after the 1.30.0 install`);
  }

  // The older revision applied again (a resync, a re-run): it never downgrades a shared object, nor touches 1-30-0.
  const newBefore = await versions(client, newInv);
  const readerBefore = (
    await client.request<Record<string, any>>('GET', `/api/v1/namespaces/${ns}/serviceaccounts/istio-reader-service-account`)
  )?.metadata.resourceVersion;
  const again = await prepareInstall(client, resolvedFrom({ filename: [iop(t, ns, '1-29-0', '1.29.0')], set: [] }));
  const { apply: re } = await applyInstall(client, again, { defaultTag: false });
  t.true(
    re.sharedNotes.some((n) => /newer than this revision's 1\.29\.0: left as is/.test(n)),
    re.sharedNotes.join('\n'),
  );
  // Only its inventory is rewritten (it no longer lists the shared objects it left alone); nothing else.
  t.deepEqual(
    re.results.filter((r) => r.outcome !== 'unchanged').map((r) => refString(r.ref)),
    [],
  );
  t.deepEqual(re.pruned, []);
  t.true(re.writes <= 1, `re-applying 1-29-0 made ${re.writes} writes`);
  t.deepEqual(await versions(client, newInv), newBefore);
  t.is(
    (await client.request<Record<string, any>>('GET', `/api/v1/namespaces/${ns}/serviceaccounts/istio-reader-service-account`))?.metadata
      .resourceVersion,
    readerBefore,
  );
  for (const c of crds.slice(0, 3)) {
    const live = await client.request<Record<string, any>>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${c.name}`);
    t.false((live?.metadata.labels?.['operator.istio.io/version'] ?? '').startsWith('1.29'), `CRD ${c.name} downgraded`);
  }

  // Shared base objects moved forward to the newest revision's owner (so removing 1-29-0 cannot take them).
  const reader = await client.request<Record<string, any>>('GET', `/api/v1/namespaces/${ns}/serviceaccounts/istio-reader-service-account`);
  t.is(reader?.metadata.labels['install.operator.istio.io/owning-resource'], 'cp-1-30-0');
  t.is(reader?.metadata.labels['operator.istio.io/version'], '1.30.0');

  // Negative: removal refused while a namespace (through the tag) and pods use it.
  const refused = await cli(['uninstall', '--revision', '1-29-0', '-y']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, new RegExp(`${shop}`));
  t.regex(refused.stderr, new RegExp(`${apps}/old-a`));
  t.regex(refused.stderr, /refusing to remove a revision in use/);

  // 4. Move prod: refused without --overwrite, then moved.
  const noOverwrite = await cli(['tag', 'set', 'prod', '--revision', '1-30-0', '-y']);
  t.is(noOverwrite.code, 1);
  t.regex(noOverwrite.stderr, /tag "prod" points at revision 1-29-0; pass --overwrite to move it to 1-30-0/);
  const moved = await ok(t, ['tag', 'set', 'prod', '--revision', '1-30-0', '--overwrite', '-y']);
  t.regex(moved, /tag prod -> revision 1-30-0 \(was 1-29-0\)/);
  t.regex(moved, new RegExp(`kubectl rollout restart deployment -n ${shop}`));
  const hook2 = await client.request<Record<string, any>>(
    'GET',
    `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/istio-revision-tag-prod-${ns}`,
  );
  t.is(hook2?.metadata.labels['istio.io/rev'], '1-30-0');
  t.deepEqual(
    hook2?.webhooks.map((w: any) => w.clientConfig.service.name),
    ['istiod-1-30-0', 'istiod-1-30-0'],
  );
  t.deepEqual(await versions(client, oldInv), oldVersions, 'moving the tag touched 1-29-0');

  // Only the pods are left on 1-29-0 now.
  const podsOnly = await readUsage(client, '1-29-0');
  t.true(podsOnly.inUse);
  t.false(podsOnly.namespaces.includes(shop));
  t.deepEqual(podsOnly.tags, []);
  const stillPods = await cli(['uninstall', '--revision', '1-29-0', '-y']);
  t.is(stillPods.code, 1);
  t.regex(stillPods.stderr, new RegExp(`${apps}/old-b`));

  // 5. Pods replaced by 1-30-0 ones.
  const newVersions = await versions(client, newInv);
  t.is((await kubectl(['delete', 'pod', '-n', apps, 'old-a', 'old-b', '--grace-period=0', '--force', '--wait=true'])).code, 0);
  for (const n of ['a', 'b']) t.is((await kubectl(['apply', '-f', '-'], { input: pod(apps, `new-${n}`, '1-30-0') })).code, 0);
  const status = await ok(t, ['upgrade', 'status', '--istio-namespace', ns]);
  t.regex(status, /Not in use \(can be removed\): 1-29-0/);
  t.regex(status, /^1-30-0\s+1\.30\.0\s+prod\s/m);
  const unused = await readUsage(client, '1-29-0');
  t.false(unused.inUse, JSON.stringify(unused));

  // 6. The old revision removed; the live one untouched; nothing of 1-29-0 left.
  const removed = await ok(t, ['uninstall', '--revision', '1-29-0', '-y']);
  t.regex(removed, /removed Deployment .*istiod-1-29-0/);
  t.deepEqual(await versions(client, newInv), newVersions, 'removing 1-29-0 touched 1-30-0');
  t.falsy(await inventoryOf(client, ns, '1-29-0'));
  const res = new Resources(client);
  const kept = new Set(newInv.objects.map(refString));
  for (const r of oldInv.objects) {
    // Shared objects (CRDs, Base) belong to 1-30-0 now; everything else of 1-29-0 must be gone.
    if (kept.has(refString(r))) continue;
    const o = await client.request('GET', await res.path(r), { allow404: true });
    t.falsy(o, `${refString(r)} left behind`);
  }
  for (const kind of ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations']) {
    const left = await client.request<{ items: any[] }>('GET', `/apis/admissionregistration.k8s.io/v1/${kind}`, {
      query: { labelSelector: 'istio.io/rev=1-29-0' },
    });
    t.deepEqual(
      left?.items.map((i) => i.metadata.name),
      [],
      `${kind} still pointing at 1-29-0`,
    );
  }
  const crdLeft = await client.request<{ items: any[] }>('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
    query: {
      labelSelector: `install.operator.istio.io/owning-resource=cp-1-29-0,install.operator.istio.io/owning-resource-namespace=${ns}`,
    },
  });
  t.deepEqual(
    crdLeft?.items.map((i) => i.metadata.name),
    [],
    'CRDs still labelled with the removed owner',
  );
  t.truthy(
    await client.request('GET', `/api/v1/namespaces/${ns}/serviceaccounts/istio-reader-service-account`, { allow404: true }),
    'shared istio-reader-service-account removed with 1-29-0',
  );
  for (const c of crds)
    t.truthy(
      await client.request('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${c.name}`, { allow404: true }),
      `CRD ${c.name} removed`,
    );
});

test('rollback: removing the newer revision hands the shared objects it took over back to the one that stays', async (t) => {
  const client = KubeClient.fromOptions({ kubeconfig: testKubeconfig() });
  t.teardown(() => client.close());
  const ns = await createNamespace(t, 'rollback-istio');
  t.teardown(async () => {
    await cli(['uninstall', '--revision', 'rb-1-30-0', '--force', '-y']);
    await cli(['uninstall', '--revision', 'rb-1-29-0', '--force', '-y']);
  });
  await installRevision(client, iop(t, ns, 'rb-1-29-0', '1.29.0'));
  await installRevision(client, iop(t, ns, 'rb-1-30-0', '1.30.0'));
  const saPath = `/api/v1/namespaces/${ns}/serviceaccounts/istio-reader-service-account`;
  t.is(
    (await client.request<Record<string, any>>('GET', saPath))?.metadata.labels['install.operator.istio.io/owning-resource'],
    'cp-rb-1-30-0',
  );
  const out = await ok(t, ['uninstall', '--revision', 'rb-1-30-0', '-y']);
  t.regex(
    out,
    /kept ServiceAccount .*istio-reader-service-account: shared with IstioOperator .*cp-rb-1-29-0 \(revision rb-1-29-0\), which keeps it/,
  );
  const sa = await client.request<Record<string, any>>('GET', saPath, { allow404: true });
  t.is(sa?.metadata.labels['install.operator.istio.io/owning-resource'], 'cp-rb-1-29-0');
  t.is(sa?.metadata.labels['istio.io/rev'], 'rb-1-29-0');
  t.falsy(await client.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/istiod-rb-1-30-0`, { allow404: true }));
  // And 1-29-0, removed in turn, takes it with it: nothing orphaned.
  await ok(t, ['uninstall', '--revision', 'rb-1-29-0', '-y']);
  t.falsy(await client.request('GET', saPath, { allow404: true }));
});

test('declarative tag: spec.values.revisionTags installs the tag with the revision, tag list shows who manages it, removal takes it along', async (t) => {
  const client = KubeClient.fromOptions({ kubeconfig: testKubeconfig() });
  t.teardown(() => client.close());
  const ns = await createNamespace(t, 'decl-istio');
  t.teardown(async () => void (await cli(['uninstall', '--revision', 'decl-1-30-0', '--force', '-y'])));
  await installRevision(client, iop(t, ns, 'decl-1-30-0', '1.30.0', { values: { revisionTags: ['decl-stable'] } }));
  const hookPath = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/istio-revision-tag-decl-stable-${ns}`;
  const hook = await client.request<Record<string, any>>('GET', hookPath);
  t.is(hook?.metadata.labels['istio.io/rev'], 'decl-1-30-0');
  t.is(hook?.metadata.labels['install.operator.istio.io/owning-resource'], 'cp-decl-1-30-0');
  const list = await ok(t, ['tag', 'list']);
  t.regex(list, new RegExp(`^decl-stable\\s+decl-1-30-0\\s+-\\s+IstioOperator ${ns}/cp-decl-1-30-0$`, 'm'));
  // Its own tag does not keep the revision in use by existing; a namespace selecting it would.
  t.false((await readUsage(client, 'decl-1-30-0', { exceptOwner: { name: 'cp-decl-1-30-0', namespace: ns } })).inUse);
  const user = await createNamespace(t, 'decl-user', { 'istio.io/rev': 'decl-stable' });
  const refused = await cli(['uninstall', '--revision', 'decl-1-30-0', '-y']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, new RegExp(`Namespace ${user}: labelled istio.io/rev=decl-stable \\(tag decl-stable -> decl-1-30-0\\)`));
  await kubectl(['label', 'namespace', user, 'istio.io/rev-']);
  await ok(t, ['uninstall', '--revision', 'decl-1-30-0', '-y']);
  t.falsy(await client.request('GET', hookPath, { allow404: true }));
  t.falsy(await client.request('GET', `/api/v1/namespaces/${ns}/services/istiod-revision-tag-decl-stable`, { allow404: true }));
});
