// Revision tags against the real istiod of each tested release: a pod in a namespace labelled istio.io/rev=<tag> is
// injected by the istiod of the revision the tag points at, through the API server (the tag's own webhook and
// Service), for a tag declared in spec.values.revisionTags and for one made by `istio-operator tag set`.
//
// "The right istiod": two revisions of the release run side by side in one Istio namespace (one mesh: the second
// istiod reads the self-signed CA the first one wrote), and each pod is counted by istiod's own injection metrics:
// the istiod the tag points at injects it, the other one is never called.
import test, { type ExecutionContext } from 'ava';
import type { Istiod } from '../../istio/istiod.js';
import { testedReleases } from '../../istio/releases.js';
import { cli } from '../apply/_util.js';
import { uniqueName, waitFor } from '../helpers/cluster.js';
import { appPod, client, containerNames, counter, enterRelease, installIstio, istiodsStarted, logProblems, meshRoot, namespace, onCleanup, runIstiod, stopAll, type IstioInstall } from './_istio.js';

test.after.always(stopAll);
const t0 = Date.now();
test.after(() => console.log(`revisiontag.test: ${istiodsStarted()} istiod processes started, ${((Date.now() - t0) / 1000).toFixed(1)} s`));

interface Side {
  inst: IstioInstall;
  istiod: Istiod;
}
interface Fixture {
  /** Revision `a` declares the tag `declared` in spec.values.revisionTags. */
  a: Side;
  b: Side;
  declared: string;
}
const fixtures = new Map<string, Promise<Fixture>>();

function fixture(t: ExecutionContext, release: string): Promise<Fixture> {
  t.timeout(300_000, `installing two revisions and starting two istiod ${release}`);
  let f = fixtures.get(release);
  if (!f) {
    f = (async () => {
      await enterRelease(release);
      const declared = uniqueName('decl');
      const a = await installIstio(release, { profile: 'minimal', revision: 'tag-a', spec: { values: { revisionTags: [declared] } } });
      const b = await installIstio(release, { profile: 'minimal', revision: 'tag-b', namespace: a.namespace });
      return { a: { inst: a, istiod: await runIstiod(a) }, b: { inst: b, istiod: await runIstiod(b) }, declared };
    })();
    fixtures.set(release, f);
  }
  return f;
}

const INJECTED = 'sidecar_injection_success_total';

/** Creates a pod in a fresh namespace labelled istio.io/rev=<label>; returns it and each istiod's injection count delta. */
async function podUnder(label: string, f: Fixture): Promise<{ pod: Record<string, any>; a: number; b: number }> {
  const ns = await namespace('tagged', { 'istio.io/rev': label });
  const before = { a: await counter(f.a.istiod, INJECTED), b: await counter(f.b.istiod, INJECTED) };
  const c = client();
  try {
    const pod = (await c.request<Record<string, any>>('POST', `/api/v1/namespaces/${ns}/pods`, { body: appPod('app', ns) }))!;
    return { pod, a: (await counter(f.a.istiod, INJECTED)) - before.a, b: (await counter(f.b.istiod, INJECTED)) - before.b };
  } finally {
    c.close();
  }
}

/** What istiod wrote into the pod: its sidecar, and the revision it injected for. */
function injectedFor(pod: Record<string, any>): { proxy: boolean; revision: string | undefined } {
  const names = containerNames(pod);
  const status = JSON.parse(pod.metadata?.annotations?.['sidecar.istio.io/status'] ?? '{}') as { revision?: string };
  return { proxy: [...names.containers, ...names.initContainers].includes('istio-proxy'), revision: status.revision };
}

/** The tag's webhook, once istiod (of the revision it names) patched the mesh root into it. */
async function tagWebhookPatched(tag: string, inst: IstioInstall): Promise<Record<string, any>> {
  const root = Buffer.from(await meshRoot(inst)).toString('base64');
  const c = client();
  try {
    return await waitFor(`the webhook of tag ${tag} with istiod's caBundle`, async () => {
      const list = await c.request<{ items: Array<Record<string, any>> }>('GET', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', { query: { labelSelector: `istio.io/tag=${tag}` } });
      const hook = list?.items.find((m) => m.metadata.labels?.['istio.io/rev'] === inst.revision);
      return hook && hook.webhooks.every((w: Record<string, any>) => w.clientConfig.caBundle === root) ? hook : undefined;
    });
  } finally {
    c.close();
  }
}

/** The revisions whose istiod the webhook's Services select (`istio.io/rev` of each Service's selector). */
async function selectedRevisions(hook: Record<string, any>): Promise<string[]> {
  const c = client();
  try {
    const revs = new Set<string>();
    for (const w of hook.webhooks as Array<Record<string, any>>) {
      const s = w.clientConfig.service as { name: string; namespace: string };
      const svc = await c.request<Record<string, any>>('GET', `/api/v1/namespaces/${s.namespace}/services/${s.name}`);
      revs.add(`${svc?.spec?.selector?.app === 'istiod' ? '' : 'not istiod: '}${svc?.spec?.selector?.['istio.io/rev']}`);
    }
    return [...revs];
  } finally {
    c.close();
  }
}

for (const release of testedReleases()) {
  test.serial(`${release}: a tag declared in spec.values.revisionTags: its namespace's pods are injected by the istiod of that revision, not the other`, async (t) => {
    const f = await fixture(t, release);
    t.deepEqual(await selectedRevisions(await tagWebhookPatched(f.declared, f.a.inst)), ['tag-a'], "the tag's webhook calls a Service of tag-a's istiod");
    const r = await podUnder(f.declared, f);
    t.deepEqual(injectedFor(r.pod), { proxy: true, revision: 'tag-a' });
    t.deepEqual({ a: r.a, b: r.b }, { a: 1, b: 0 }, 'injections counted by each istiod');
  });

  test.serial(`${release}: a tag made by \`istio-operator tag set\`, then moved: new pods follow it from one istiod to the other`, async (t) => {
    const f = await fixture(t, release);
    const tag = uniqueName('set');
    onCleanup(async () => void (await cli(['tag', 'remove', tag, '--force', '-y'])));
    const set = await cli(['tag', 'set', tag, '--revision', 'tag-b', '-y']);
    t.is(set.code, 0, set.stderr);
    t.deepEqual(await selectedRevisions(await tagWebhookPatched(tag, f.b.inst)), ['tag-b'], "the tag's webhook calls a Service of tag-b's istiod");
    const first = await podUnder(tag, f);
    t.deepEqual(injectedFor(first.pod), { proxy: true, revision: 'tag-b' });
    t.deepEqual({ a: first.a, b: first.b }, { a: 0, b: 1 }, 'injections counted by each istiod, tag -> tag-b');

    const moved = await cli(['tag', 'set', tag, '--revision', 'tag-a', '--overwrite', '-y']);
    t.is(moved.code, 0, moved.stderr);
    t.regex(moved.stdout, new RegExp(`tag ${tag} -> revision tag-a \\(was tag-b\\)`));
    t.deepEqual(await selectedRevisions(await tagWebhookPatched(tag, f.a.inst)), ['tag-a'], "the moved tag's webhook calls a Service of tag-a's istiod");
    const second = await podUnder(tag, f);
    t.deepEqual(injectedFor(second.pod), { proxy: true, revision: 'tag-a' });
    t.deepEqual({ a: second.a, b: second.b }, { a: 1, b: 0 }, 'injections counted by each istiod, tag -> tag-a');
  });

  test.serial(`${release}: both istiods' logs have no problem`, async (t) => {
    const f = await fixture(t, release);
    t.deepEqual(logProblems(f.a.istiod.log()), [], 'tag-a');
    t.deepEqual(logProblems(f.b.istiod.log()), [], 'tag-b');
  });
}
