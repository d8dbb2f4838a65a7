import test from 'ava';
import { LABEL_OWNER_NAME, LABEL_REVISION } from '../../../operator/api/labels.js';
import { tagWebhookName } from '../../../operator/api/names.js';
import { cli, iopFile } from '../apply/_util.js';
import { createNamespace, kubectl } from '../helpers/cluster.js';

// The default revision tag belongs to the install that made it. In an Istio namespace other than istio-system
// its webhook is `istio-revision-tag-default-<namespace>` (render's name); a canary install in the same namespace
// must find that name and leave the tag alone. (It used to look for `istio-revision-tag-default`, found nothing,
// and took the tag over.)

async function tag(ns: string): Promise<Record<string, string> | undefined> {
  const r = await kubectl(['get', 'mutatingwebhookconfiguration', tagWebhookName('default', ns), '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout).metadata.labels as Record<string, string>) : undefined;
}

test('a canary in an Istio namespace other than istio-system leaves the default tag with its owner', async (t) => {
  const ns = await createNamespace(t, 'dtag');
  const stable = iopFile(t, ns, 'minimal', {}, '');
  const canary = iopFile(t, ns, 'minimal', {}, 'canary');
  // The default tag is cluster-wide (it selects istio-injection=enabled namespaces): remove it as soon as the
  // test is done, whatever happens.
  t.teardown(async () => {
    await cli(['uninstall', '-f', canary.file, '-y', '--force']);
    await cli(['uninstall', '-f', stable.file, '-y', '--force']);
  });

  const first = await cli(['install', '-f', stable.file, '-y']);
  t.is(first.code, 0, first.stderr);
  const before = await tag(ns);
  t.truthy(before, `the first install of the default revision made ${tagWebhookName('default', ns)}`);
  t.is(before![LABEL_REVISION], 'default');
  t.is(before![LABEL_OWNER_NAME], stable.name);

  // A dry run says what the install would write: the canary's own objects, never the default tag.
  const plan = await cli(['install', '-f', canary.file, '-y', '--dry-run']);
  t.is(plan.code, 0, plan.stderr);
  t.notRegex(plan.stdout, /istio-revision-tag-default/);

  const second = await cli(['install', '-f', canary.file, '-y']);
  t.is(second.code, 0, second.stderr);
  t.notRegex(second.stdout, /istio-revision-tag-default/);
  t.deepEqual(await tag(ns), before, 'the default tag still points at the default revision, owned by the first IstioOperator');
});
