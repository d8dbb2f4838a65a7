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
import { uniqueName } from '../helpers/cluster.js';
import {
  createCounted,
  enterRelease,
  injectedFor,
  installIstio,
  istiodsStarted,
  logProblems,
  namespace,
  onCleanup,
  runIstiod,
  selectedRevisions,
  stopAll,
  tagWebhookPatched,
  type IstioInstall,
} from './_istio.js';

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

/** Creates a pod in a fresh namespace labelled istio.io/rev=<label>; returns it and each istiod's injection count delta. */
async function podUnder(label: string, f: Fixture): Promise<{ pod: Record<string, any>; a: number; b: number }> {
  const ns = await namespace('tagged', { 'istio.io/rev': label });
  const r = await createCounted(ns, 'app', { a: f.a.istiod, b: f.b.istiod });
  return { pod: r.pod, a: r.injected.a!, b: r.injected.b! };
}

for (const release of testedReleases()) {
  test.serial(
    `${release}: a tag declared in spec.values.revisionTags: its namespace's pods are injected by the istiod of that revision, not the other`,
    async (t) => {
      const f = await fixture(t, release);
      t.deepEqual(
        await selectedRevisions(await tagWebhookPatched(f.declared, f.a.inst)),
        ['tag-a'],
        "the tag's webhook calls a Service of tag-a's istiod",
      );
      const r = await podUnder(f.declared, f);
      t.like(injectedFor(r.pod), { proxy: true, revision: 'tag-a' });
      t.deepEqual({ a: r.a, b: r.b }, { a: 1, b: 0 }, 'injections counted by each istiod');
    },
  );

  test.serial(
    `${release}: a tag made by \`istio-operator tag set\`, then moved: new pods follow it from one istiod to the other`,
    async (t) => {
      const f = await fixture(t, release);
      const tag = uniqueName('set');
      onCleanup(async () => void (await cli(['tag', 'remove', tag, '--force', '-y'])));
      const set = await cli(['tag', 'set', tag, '--revision', 'tag-b', '-y']);
      t.is(set.code, 0, set.stderr);
      t.deepEqual(
        await selectedRevisions(await tagWebhookPatched(tag, f.b.inst)),
        ['tag-b'],
        "the tag's webhook calls a Service of tag-b's istiod",
      );
      const first = await podUnder(tag, f);
      t.like(injectedFor(first.pod), { proxy: true, revision: 'tag-b' });
      t.deepEqual({ a: first.a, b: first.b }, { a: 0, b: 1 }, 'injections counted by each istiod, tag -> tag-b');

      const moved = await cli(['tag', 'set', tag, '--revision', 'tag-a', '--overwrite', '-y']);
      t.is(moved.code, 0, moved.stderr);
      t.regex(moved.stdout, new RegExp(`tag ${tag} -> revision tag-a \\(was tag-b\\)`));
      t.deepEqual(
        await selectedRevisions(await tagWebhookPatched(tag, f.a.inst)),
        ['tag-a'],
        "the moved tag's webhook calls a Service of tag-a's istiod",
      );
      const second = await podUnder(tag, f);
      t.like(injectedFor(second.pod), { proxy: true, revision: 'tag-a' });
      t.deepEqual({ a: second.a, b: second.b }, { a: 1, b: 0 }, 'injections counted by each istiod, tag -> tag-a');
    },
  );

  test.serial(`${release}: both istiods' logs have no problem`, async (t) => {
    const f = await fixture(t, release);
    t.deepEqual(logProblems(f.a.istiod.log()), [], 'tag-a');
    t.deepEqual(logProblems(f.b.istiod.log()), [], 'tag-b');
  });
}
