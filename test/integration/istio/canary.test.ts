// Over 500 lines by choice: one canary story per release pair, its steps sharing the istiods they start.
// A canary upgrade across Istio releases with the real istiod of each (issue #14's "Done when", issue #15's canary):
// revision 1-30-3 (tag 1.30.3) and then revision 1-31-0 (tag 1.31.0-rc.0) in one Istio namespace, each served by the
// istiod binary of its own release. For each pair of consecutive tested releases:
//   1. what we applied for the two revisions differs exactly as the two releases' goldens differ
//      (test/istio/releasediff.ts defines "exactly": istiod's Deployment and the injector ConfigMap by path, the
//      injection templates by what they read from istiod and the names they write, ClusterRoles by permission);
//   2. the CRDs live in the cluster are the newer release's, as rendered for it;
//   3. a revision tag moved from one revision to the other moves which istiod injects new pods, each pod getting its
//      own release's proxy, counted by the two istiods' injection metrics;
//   4. `istio-operator uninstall --revision 1-30-3` is refused while a namespace and a pod use it, and removes it,
//      and nothing of the other revision, once they moved;
//   5. the operator does the same from two IstioOperators: both HEALTHY with their own release in status, the older
//      one's deletion blocked while in use (ACTION_REQUIRED, saying who), then carried out.
// Revisions are installed without the release annotation: the tag alone picks the release, as in a user's file. The
// input is Istio's own `pilot_default` golden input (with the Base component for the CRDs), so that our objects and
// the goldens come from the same IstioOperator.
import fs from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import semver from 'semver';
import { RELEASES } from '../../../operator/api/releases.js';
import { KubeClient } from '../../../operator/apply/client.js';
import { Resources, refOf, refString } from '../../../operator/apply/resources.js';
import { sharedBody } from '../../../operator/apply/owner.js';
import { isShared } from '../../../operator/apply/shared.js';
import type { Istiod } from '../../istio/istiod.js';
import { compareDeltas, releaseDelta, type Obj, type Side } from '../../istio/releasediff.js';
import { referenceDir, testedReleases } from '../../istio/releases.js';
import { subsetMismatches } from '../../istio/subset.js';
import { cli } from '../apply/_util.js';
import { deleteIop, ensureCRD, getJson, iopYaml, kubectlOk, waitForStatus } from '../controller/harness.js';
import { testKubeconfig, uniqueName, waitFor } from '../helpers/cluster.js';
import {
  client,
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
  startOperatorIn,
} from './_istio.js';

test.before(ensureCRD);
test.after.always(stopAll);
const t0 = Date.now();
test.after(() => console.log(`canary.test: ${istiodsStarted()} istiod processes started, ${((Date.now() - t0) / 1000).toFixed(1)} s`));

/**
 * Consecutive tested releases, oldest first (1.29.6 → 1.30.3, 1.30.3 → 1.31.0-rc.0). With a single tested release
 * (ISTIO_OPERATOR_TEST_ISTIO_RELEASES), a canary still needs two: that one and its neighbour in the catalog.
 */
const PAIRS: Array<[string, string]> = (() => {
  const sorted = [...testedReleases()].sort((a, b) => semver.compare(a, b));
  if (sorted.length === 1) {
    const catalog = RELEASES.map((r) => r.patch);
    const i = catalog.indexOf(sorted[0]!);
    const other = catalog[i + 1] ?? catalog[i - 1];
    if (other) {
      sorted.push(other);
      sorted.sort((a, b) => semver.compare(a, b));
    }
  }
  return sorted.slice(1).map((b, i) => [sorted[i]!, b]);
})();

/** `1.30.3` → `1-30-3`, `1.31.0-rc.0` → `1-31-0`: the revision names of Istio's canary guide. */
const revisionOf = (release: string) => release.split('-')[0]!.replace(/\./g, '-');

/** Istio's `pilot_default` golden case of a release: its input spec and what the release's own istioctl renders for it
 *  (golden/live, scripts/live-goldens.sh; Istio's vendored golden of the case comes from its test's chart snapshot,
 *  which lags some releases' charts). */
function goldenCase(release: string): { spec: Record<string, any>; output: Obj[] } {
  const dir = path.join(referenceDir(release), 'golden', 'live');
  const input = yaml.load(fs.readFileSync(path.join(dir, 'inputs', 'pilot_default.yaml'), 'utf8')) as { spec: Record<string, any> };
  const output = (
    yaml.loadAll(fs.readFileSync(path.join(dir, 'outputs', 'pilot_default.golden.yaml'), 'utf8')) as Array<Obj | null>
  ).filter((o): o is Obj => !!o);
  return { spec: input.spec, output };
}

/** Our IstioOperator spec for a release: the golden input, the release's tag, and the Base component (the CRDs). */
function canarySpec(release: string): Record<string, any> {
  const { spec } = goldenCase(release);
  return { ...spec, tag: release, components: { ...spec.components, base: { enabled: true } } };
}

/**
 * Lines of the delta that are known to differ from the goldens' and wait for a fix elsewhere, per pair, each with the
 * reason. The test fails on any other line, and on a listed one that went away, so this list stays the truth.
 */
const KNOWN_DIFFERENCES: Record<string, { onlyOurs: string[]; onlyGolden: string[]; why: string }> = {
  '1.30.3->1.31.0-rc.0': {
    onlyOurs: [],
    onlyGolden: [
      'ConfigMap istio-sidecar-injector template agentgateway-waypoint: added',
      'ConfigMap istio-sidecar-injector template gateway: + name GODEBUG',
      'ConfigMap istio-sidecar-injector template gateway: text changed',
      'ConfigMap istio-sidecar-injector template kube-gateway: text changed',
      'ConfigMap istio-sidecar-injector template sidecar: + name GODEBUG',
      'ConfigMap istio-sidecar-injector template waypoint: text changed',
    ],
    why:
      "istioctl 1.31.0-rc.0's charts have injection changes that Istio's vendored 1.31 goldens (its test's chart snapshot) do not, and " +
      'that we do not render yet: the agentgateway-waypoint template, GODEBUG=fips140=only for compliancePolicy fips-140-3 (sidecar, gateway), ' +
      "a Gateway's Service ports taking their protocol (kube-gateway), and emptyDir volumes written with their fields (kube-gateway, waypoint)",
  },
};

interface Revision {
  release: string;
  inst: IstioInstall;
  istiod: Istiod;
}
interface Fixture {
  key: string;
  ns: string;
  old: Revision;
  new: Revision;
  /** Istio's CRDs live before anything was installed, and right after the older revision was (name → object). */
  crdsBefore: Map<string, Record<string, any>>;
  crdsAfterOld: Map<string, Record<string, any>>;
  /** Namespaces of application pods this file made (the users of a revision), and the tags it set. */
  apps: string[];
  tags: string[];
}
const fixtures = new Map<string, Promise<Fixture>>();

async function liveCrds(names: string[]): Promise<Map<string, Record<string, any>>> {
  const c = client();
  try {
    const out = new Map<string, Record<string, any>>();
    for (const n of names) {
      const crd = await c.request<Record<string, any>>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${n}`, {
        allow404: true,
      });
      if (crd) out.set(n, crd);
    }
    return out;
  } finally {
    c.close();
  }
}

/** The CRDs of a release, by name, from its crd-all.gen.yaml. */
function crdNames(release: string): string[] {
  const text = fs.readFileSync(path.join(referenceDir(release), 'crds', 'crd-all.gen.yaml'), 'utf8');
  return (yaml.loadAll(text) as Array<Obj | null>)
    .filter((o): o is Obj => o?.kind === 'CustomResourceDefinition')
    .map((o) => o.metadata.name)
    .sort();
}

const crdsOf = (objects: Obj[] | undefined) =>
  new Map((objects ?? []).filter((o) => o.kind === 'CustomResourceDefinition').map((o) => [o.metadata.name, o]));

function fixture(t: ExecutionContext, pair: [string, string]): Promise<Fixture> {
  t.timeout(420_000, `installing ${pair.join(' and ')} and starting their istiods`);
  const key = pair.join('->');
  let f = fixtures.get(key);
  if (!f) {
    f = (async () => {
      await enterRelease(key);
      const [a, b] = pair;
      const ns = await namespace('istio-canary');
      const names = [...new Set([...crdNames(a), ...crdNames(b)])];
      const crdsBefore = await liveCrds(names);
      const oldInst = await installIstio(a, {
        profile: 'empty',
        revision: revisionOf(a),
        namespace: ns,
        spec: canarySpec(a),
        releaseByTagOnly: true,
      });
      const crdsAfterOld = await liveCrds(names);
      const oldIstiod = await runIstiod(oldInst);
      const newInst = await installIstio(b, {
        profile: 'empty',
        revision: revisionOf(b),
        namespace: ns,
        spec: canarySpec(b),
        releaseByTagOnly: true,
      });
      const newIstiod = await runIstiod(newInst);
      return {
        key,
        ns,
        old: { release: a, inst: oldInst, istiod: oldIstiod },
        new: { release: b, inst: newInst, istiod: newIstiod },
        crdsBefore,
        crdsAfterOld,
        apps: [],
        tags: [],
      };
    })();
    fixtures.set(key, f);
  }
  return f;
}

const side = (r: Revision): Side => ({
  objects: r.inst.objects as Obj[],
  revision: r.inst.revision,
  namespace: r.inst.namespace,
  hub: String(canarySpec(r.release).hub),
  tag: r.release,
});
function goldenSide(release: string): Side {
  const g = goldenCase(release);
  return { objects: g.output, revision: '', namespace: 'istio-system', hub: String(g.spec.hub), tag: String(g.spec.tag) };
}

/** Makes a namespace use no revision: its istio.io/rev label removed, its pods deleted (and gone). */
async function stopUsing(ns: string): Promise<void> {
  const c = client();
  try {
    await c.request('PATCH', `/api/v1/namespaces/${ns}`, {
      body: { metadata: { labels: { 'istio.io/rev': null } } },
      contentType: 'application/merge-patch+json',
    });
    await c.request('DELETE', `/api/v1/namespaces/${ns}/pods`, { query: { gracePeriodSeconds: '0' } });
    await waitFor(
      `no pod left in ${ns}`,
      async () => (await c.request<{ items: unknown[] }>('GET', `/api/v1/namespaces/${ns}/pods`))!.items.length === 0,
      { timeoutMs: 60_000 },
    );
  } finally {
    c.close();
  }
}

/** resourceVersion of every object of an install that is its revision's alone (not the shared CRDs and Base). */
async function ownVersions(objects: Obj[]): Promise<Map<string, string | undefined>> {
  const c = KubeClient.fromOptions({ kubeconfig: testKubeconfig() });
  try {
    const res = new Resources(c);
    const out = new Map<string, string | undefined>();
    for (const o of objects) {
      if (isShared(o as never)) continue;
      const ref = refOf(o as never);
      const live = await c.request<Record<string, any>>('GET', await res.path(ref), { allow404: true });
      out.set(refString(ref), live?.metadata?.resourceVersion);
    }
    return out;
  } finally {
    c.close();
  }
}

for (const pair of PAIRS) {
  const [a, b] = pair;
  const ra = revisionOf(a);
  const rb = revisionOf(b);

  test.serial(`${a} -> ${b}: revisions ${ra} and ${rb} in one namespace, each served by its own release's istiod`, async (t) => {
    const f = await fixture(t, pair);
    for (const r of [f.old, f.new]) {
      const header = r.istiod.log().split('\n')[0]!;
      t.true(
        header.startsWith(`$ `) && header.includes(`/istio-${r.release}/pilot-discovery `),
        `istiod of ${r.inst.revision} runs the ${r.release} binary: ${header.slice(0, 120)}`,
      );
      t.deepEqual(logProblems(r.istiod.log()), [], `istiod ${r.release}`);
      const dep = await getJson(['deployment', '-n', f.ns, r.inst.istiod]);
      t.regex(
        dep.spec.template.spec.containers[0].image,
        new RegExp(`/pilot:${r.release.replace(/\./g, '\\.')}$`),
        'the Deployment runs the release asked for by tag',
      );
    }
    t.log(`istiod ${a} ready in ${f.old.istiod.readyMs} ms, istiod ${b} in ${f.new.istiod.readyMs} ms`);
  });

  test.serial(
    `${a} -> ${b}: the two istiod Deployments, injector ConfigMaps and ClusterRoles differ exactly as the two releases' goldens differ`,
    async (t) => {
      const f = await fixture(t, pair);
      // What we compare is what we applied, and it is what the cluster has.
      for (const r of [f.old, f.new]) {
        for (const o of (r.inst.objects as Obj[]).filter(
          (x) =>
            ['Deployment', 'ClusterRole'].includes(x.kind) ||
            (x.kind === 'ConfigMap' && x.metadata.name.startsWith('istio-sidecar-injector')),
        )) {
          const live = await getJson([
            o.kind.toLowerCase(),
            ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []),
            o.metadata.name,
          ]);
          t.truthy(live, `${o.kind} ${o.metadata.name} is live`);
          t.deepEqual(
            subsetMismatches(
              o.kind === 'ConfigMap' ? o.data : (o.spec ?? o.rules),
              o.kind === 'ConfigMap' ? live?.data : (live?.spec ?? live?.rules),
            ),
            [],
            `${o.kind} ${o.metadata.name} live as applied`,
          );
        }
      }
      const ours = releaseDelta(side(f.old), side(f.new));
      const golden = releaseDelta(goldenSide(a), goldenSide(b));
      const cmp = compareDeltas(ours, golden);
      const known = KNOWN_DIFFERENCES[f.key] ?? { onlyOurs: [], onlyGolden: [], why: '' };
      t.log(
        `${a} -> ${b}: ${golden.length} changes between the goldens, ${ours.length} between our revisions, ${ours.length - cmp.onlyOurs.length} in common:\n${ours
          .filter((l) => !cmp.onlyOurs.includes(l))
          .map((l) => `  ${l.slice(0, 200)}`)
          .join('\n')}`,
      );
      if (cmp.onlyOurs.length || cmp.onlyGolden.length)
        t.log(
          `known differences (${known.why || 'none listed'}):\n  only ours: ${cmp.onlyOurs.join('\n  ') || '-'}\n  only the goldens': ${cmp.onlyGolden.join('\n  ') || '-'}`,
        );
      t.deepEqual(
        cmp.onlyOurs,
        known.onlyOurs,
        'changes between our revisions that the goldens do not have (or listed ones that went away)',
      );
      t.deepEqual(
        cmp.onlyGolden,
        known.onlyGolden,
        'changes between the goldens that our revisions do not have (or listed ones that went away)',
      );
    },
  );

  test.serial(
    `${a} -> ${b}: the CRDs live in the cluster are ${b}'s, as rendered for it (or a newer release's that were there: forward only)`,
    async (t) => {
      const f = await fixture(t, pair);
      const oldCrds = crdsOf(f.old.inst.objects as Obj[]);
      const newCrds = crdsOf(f.new.inst.objects as Obj[]);
      const fixtureNames = crdNames(b);
      t.deepEqual([...newCrds.keys()].sort(), fixtureNames, `the ${b} render installs exactly the CRDs of ${b}'s crd-all.gen.yaml`);
      const live = await liveCrds(fixtureNames);
      t.deepEqual([...live.keys()].sort(), fixtureNames, 'all of them are live');
      // Shared objects move forward only: right after the older revision, they were its CRDs, unless newer ones were there.
      const newerBefore = [...f.crdsBefore.values()].some(
        (c) =>
          semver.valid(c.metadata.labels?.['operator.istio.io/version']) && semver.gt(c.metadata.labels!['operator.istio.io/version']!, a),
      );
      if (!newerBefore) {
        for (const [n, o] of oldCrds) {
          t.deepEqual(
            subsetMismatches(
              { labels: sharedBody(o).metadata.labels, spec: o.spec },
              { labels: f.crdsAfterOld.get(n)?.metadata.labels, spec: f.crdsAfterOld.get(n)?.spec },
            ),
            [],
            `after ${ra}: ${n} as applied for ${a}`,
          );
          t.is(f.crdsAfterOld.get(n)?.metadata.labels?.['operator.istio.io/version'], a, `after ${ra}: ${n} is labelled ${a}`);
        }
      } else t.log(`CRDs newer than ${a} were live before the test, so ${ra} left them as they were (forward only)`);
      const istio = new Map(
        (yaml.loadAll(fs.readFileSync(path.join(referenceDir(b), 'crds', 'crd-all.gen.yaml'), 'utf8')) as Array<Obj | null>)
          .filter((o): o is Obj => !!o)
          .map((o) => [o.metadata.name, o]),
      );
      const versionsOf = (o: Obj | Record<string, any> | undefined) =>
        (o?.spec?.versions ?? []).map(
          (v: Record<string, unknown>) => `${v.name}${v.served ? ' served' : ''}${v.storage ? ' storage' : ''}`,
        );
      // Shared objects move forward only: CRDs newer than ${b} already live (an earlier file installed a newer release) stay.
      const newest = [...f.crdsBefore.values()]
        .map((c) => c.metadata.labels?.['operator.istio.io/version'] as string | undefined)
        .filter((v): v is string => !!semver.valid(v))
        .sort(semver.compare)
        .at(-1);
      if (newest && semver.gt(newest, b)) {
        t.log(`CRDs of ${newest} were live before the test, newer than ${b}: left as they were (forward only)`);
        for (const [n, l] of live)
          t.is(
            l.metadata.labels?.['operator.istio.io/version'],
            f.crdsBefore.get(n)?.metadata.labels?.['operator.istio.io/version'] ?? newest,
            `${n} stays at ${newest}`,
          );
        return;
      }
      const sameSpec: string[] = [];
      for (const [n, o] of newCrds) {
        const l = live.get(n)!;
        // As applied: a CRD's body carries no owner (apply/owner.ts sharedBody), since every revision shares it.
        t.deepEqual(
          subsetMismatches({ labels: sharedBody(o).metadata.labels, spec: o.spec }, { labels: l.metadata.labels, spec: l.spec }),
          [],
          `${n}: labels and spec as rendered for ${b}`,
        );
        t.is(l.metadata.labels?.['operator.istio.io/version'], b, `${n} is labelled ${b}`);
        t.deepEqual(versionsOf(l), versionsOf(istio.get(n)), `${n}: the versions ${b} serves and stores`);
        if (JSON.stringify(oldCrds.get(n)?.spec) === JSON.stringify(o.spec)) sameSpec.push(n);
      }
      // Our CRDs keep `spec` schemaless (x-kubernetes-preserve-unknown-fields), so schema changes between releases (1.31's
      // DestinationRule zoneAwareLbSetting, say) are not rendered: the two renders differ in their labels only. Said, not failed.
      if (sameSpec.length)
        t.log(
          `CRDs whose ${a} and ${b} renders have the same spec (schemaless under spec), told apart by their labels only: ${sameSpec.length} of ${newCrds.size}`,
        );
      t.truthy(live.get(fixtureNames.find((n) => n.startsWith('trafficextensions.'))!), 'TrafficExtension is live');
    },
  );

  test.serial(`${a} -> ${b}: a tag moved from ${ra} to ${rb} moves which istiod injects new pods`, async (t) => {
    const f = await fixture(t, pair);
    const tag = uniqueName('canary');
    f.tags.push(tag);
    onCleanup(async () => void (await cli(['tag', 'remove', tag, '--force', '-y'])));
    const istiods = { [ra]: f.old.istiod, [rb]: f.new.istiod };
    const ns = await namespace('shop', { 'istio.io/rev': tag });
    f.apps.push(ns);
    const set = await cli(['tag', 'set', tag, '--revision', ra, '-y']);
    t.is(set.code, 0, set.stderr);
    t.deepEqual(await selectedRevisions(await tagWebhookPatched(tag, f.old.inst)), [ra]);
    const before = await createCounted(ns, 'before', istiods);
    t.like(injectedFor(before.pod), { proxy: true, revision: ra });
    t.regex(injectedFor(before.pod).image ?? '', new RegExp(`:${a.replace(/\./g, '\\.')}$`), `the proxy of ${a}`);
    t.deepEqual(before.injected, { [ra]: 1, [rb]: 0 });

    const moved = await cli(['tag', 'set', tag, '--revision', rb, '--overwrite', '-y']);
    t.is(moved.code, 0, moved.stderr);
    t.regex(moved.stdout, new RegExp(`Restart the workloads of 1 namespace\\(s\\) labelled istio.io/rev=${tag}`));
    t.deepEqual(await selectedRevisions(await tagWebhookPatched(tag, f.new.inst)), [rb]);
    const after = await createCounted(ns, 'after', istiods);
    t.like(injectedFor(after.pod), { proxy: true, revision: rb });
    t.regex(injectedFor(after.pod).image ?? '', new RegExp(`:${b.replace(/\./g, '\\.')}$`), `the proxy of ${b}`);
    t.deepEqual(after.injected, { [ra]: 0, [rb]: 1 });
    t.log(
      `tag ${tag}: pod 'before' injected by istiod ${a} (${injectedFor(before.pod).image}), pod 'after' by istiod ${b} (${injectedFor(after.pod).image})`,
    );
  });

  test.serial(
    `${a} -> ${b}: uninstall --revision ${ra} is refused while a namespace and a pod use it, and removes only ${ra} after`,
    async (t) => {
      const f = await fixture(t, pair);
      const c = client();
      t.teardown(() => c.close());
      const users = await namespace('users', { 'istio.io/rev': ra });
      f.apps.push(users);
      const pod = await createCounted(users, 'app', { [ra]: f.old.istiod, [rb]: f.new.istiod });
      t.deepEqual(pod.injected, { [ra]: 1, [rb]: 0 });
      const refused = await cli(['uninstall', '--revision', ra, '-y']);
      t.is(refused.code, 1, `${refused.stdout}${refused.stderr}`);
      t.regex(refused.stderr, new RegExp(`Namespace ${users}\\b`));
      t.regex(refused.stderr, new RegExp(`Pod ${users}/app\\b`));
      t.regex(refused.stderr, /refusing to remove a revision in use/);
      t.log(`refused:\n${refused.stderr.trim()}`);
      t.truthy(await getJson(['deployment', '-n', f.ns, f.old.inst.istiod]), `${ra} is still installed`);

      // Move the users, as the canary guide says: relabel the namespace, restart its pods (here: delete; the new one lands on rb).
      await c.request('PATCH', `/api/v1/namespaces/${users}`, {
        body: { metadata: { labels: { 'istio.io/rev': rb } } },
        contentType: 'application/merge-patch+json',
      });
      const onOld = async () => {
        const out: string[] = [];
        for (const n of f.apps) {
          const pods = (await c.request<{ items: Array<Record<string, any>> }>('GET', `/api/v1/namespaces/${n}/pods`))!.items;
          out.push(...pods.filter((p) => injectedFor(p).revision === ra).map((p) => `${n}/${p.metadata.name}`));
        }
        return out;
      };
      const podsOnOld = await onOld();
      t.log(`pods injected by ${ra}: ${podsOnOld.join(', ')}`);
      for (const p of podsOnOld)
        await c.request('DELETE', `/api/v1/namespaces/${p.split('/')[0]}/pods/${p.split('/')[1]}`, { query: { gracePeriodSeconds: '0' } });
      await waitFor(`no pod left on ${ra}`, async () => (await onOld()).length === 0);
      const keep = await ownVersions(f.new.inst.objects as Obj[]);
      const removed = await cli(['uninstall', '--revision', ra, '-y']);
      t.is(removed.code, 0, removed.stderr);
      t.regex(removed.stdout, /\d+ removed/);
      await f.old.istiod.stop();
      t.falsy(await getJson(['deployment', '-n', f.ns, f.old.inst.istiod]), `${ra}'s istiod is gone`);
      t.deepEqual(await ownVersions(f.new.inst.objects as Obj[]), keep, `nothing of ${rb} was touched`);
      const moved = await createCounted(users, 'app', { [rb]: f.new.istiod });
      t.like(injectedFor(moved.pod), { proxy: true, revision: rb });
      t.deepEqual(moved.injected, { [rb]: 1 });
      t.deepEqual(logProblems(f.new.istiod.log()), [], `istiod ${b} after ${ra} went`);
    },
  );

  test.serial(`${a} -> ${b}: the operator does the same from two IstioOperators, one per revision`, async (t) => {
    t.timeout(420_000, 'two IstioOperators, two istiods, a blocked then completed deletion');
    const f = await fixture(t, pair);
    // The CLI's revisions go first, with their users and tags: the same revision names are about to be installed again,
    // in another namespace, and a revision is known by its name alone (istio.io/rev says no namespace).
    await f.new.istiod.stop();
    await f.new.inst.remove();
    await f.old.inst.remove();
    for (const tag of f.tags) await cli(['tag', 'remove', tag, '--force', '-y']);
    for (const n of f.apps) await stopUsing(n);

    const ns = await namespace('canary-iops');
    const istioNs = await namespace('istio-canary-op');
    const { mgr } = await startOperatorIn(ns);
    const iops = { [ra]: `canary-${ra}`, [rb]: `canary-${rb}` };
    for (const [rev, release] of [
      [ra, a],
      [rb, b],
    ] as const) {
      onCleanup(() => deleteIop(ns, iops[rev]!, 120_000));
      await kubectlOk(
        ['apply', '-f', '-'],
        iopYaml(iops[rev]!, ns, {
          ...canarySpec(release),
          profile: 'empty',
          namespace: istioNs,
          revision: rev,
          values: { global: { istioNamespace: istioNs } },
        }),
      );
    }
    const status: Record<string, any> = {};
    for (const [rev, release] of [
      [ra, a],
      [rb, b],
    ] as const) {
      status[rev] = await waitForStatus(ns, iops[rev]!, 'HEALTHY', 120_000).catch(async (e: Error) => {
        throw new Error(`${e.message}; its status: ${JSON.stringify((await getJson(['istiooperator', '-n', ns, iops[rev]!]))?.status)}`);
      });
      t.like(
        status[rev].status.istio,
        { release: release.split('.').slice(0, 2).join('.'), version: release },
        `${iops[rev]} reports its release`,
      );
    }
    const inst = (rev: string, release: string): IstioInstall => ({
      release,
      namespace: istioNs,
      revision: rev,
      istiod: `istiod-${rev}`,
      file: '',
      remove: async () => {},
    });
    const istiods = { [ra]: await runIstiod(inst(ra, a)), [rb]: await runIstiod(inst(rb, b)) };
    const users = await namespace('op-users', { 'istio.io/rev': ra });
    // Before the IstioOperators' deletion (cleanups run newest first): nothing may use a revision then.
    onCleanup(() => stopUsing(users));
    const pod = await createCounted(users, 'app', istiods);
    t.deepEqual(pod.injected, { [ra]: 1, [rb]: 0 }, `the operator's ${ra} is served by istiod ${a}`);

    await kubectlOk(['delete', 'istiooperator', '-n', ns, iops[ra]!, '--wait=false']);
    const blocked = await waitForStatus(ns, iops[ra]!, (i) => i.status?.status === 'ACTION_REQUIRED');
    t.log(`${iops[ra]} deletion: ${blocked.status.message}`);
    t.regex(blocked.status.message, /^deletion blocked: /);
    t.regex(blocked.status.message, new RegExp(`revision ${ra} is in use by .*${users}`));
    t.regex(blocked.status.message, new RegExp(`${users}/app`));
    t.is(blocked.status.conditions.find((x: any) => x.type === 'InUse')?.status, 'True');
    t.truthy(await getJson(['deployment', '-n', istioNs, `istiod-${ra}`]), 'the control plane stays while used');

    const c = client();
    t.teardown(() => c.close());
    await c.request('PATCH', `/api/v1/namespaces/${users}`, {
      body: { metadata: { labels: { 'istio.io/rev': rb } } },
      contentType: 'application/merge-patch+json',
    });
    await c.request('DELETE', `/api/v1/namespaces/${users}/pods/app`, { query: { gracePeriodSeconds: '0' } });
    await waitFor('the pod gone', async () => !(await c.request('GET', `/api/v1/namespaces/${users}/pods/app`, { allow404: true })));
    // A blocked deletion is looked at again every 30 s; a nudge stands in for the timer.
    await kubectlOk(['annotate', 'istiooperator', '-n', ns, iops[ra]!, 'test/nudge=1']);
    await deleteIop(ns, iops[ra]!, 90_000);
    await istiods[ra]!.stop();
    t.falsy(await getJson(['deployment', '-n', istioNs, `istiod-${ra}`]), `${ra} removed once unused`);
    const reader = await getJson(['serviceaccount', '-n', istioNs, 'istio-reader-service-account']);
    t.is(
      reader?.metadata.labels['install.operator.istio.io/owning-resource'],
      iops[rb],
      'the Base ServiceAccount both rendered stays, with the remaining IstioOperator',
    );
    const remaining = await waitForStatus(ns, iops[rb]!, 'HEALTHY');
    t.like(remaining.status.istio, { version: b });
    // Who uses rb changed (the namespace moved to it) without an event the operator reacts to: its next reconcile
    // brings the status's InUse condition up to date (one status write, no object), then it settles to 0 writes.
    const inUse = (i: any) => i.status.conditions.find((x: any) => x.type === 'InUse')?.message;
    const before = inUse(remaining);
    const forced = [];
    for (let i = 0; i < 3; i++) {
      mgr.queue.add(`${ns}/${iops[rb]}`);
      await mgr.queue.idle();
      forced.push(mgr.history.filter((h) => h.key === `${ns}/${iops[rb]}`).at(-1)!.result);
    }
    const after = inUse(await getJson(['istiooperator', '-n', ns, iops[rb]!]));
    t.log(
      `${iops[rb]}: forced reconciles wrote ${forced.map((r) => r.writes).join(', ')} (objects changed: ${forced.flatMap((r) => r.changed ?? []).join(', ') || 'none'}); InUse: "${before}" -> "${after}"`,
    );
    t.deepEqual(
      forced.flatMap((r) => r.changed ?? []),
      [],
      'no object applied',
    );
    t.deepEqual(
      forced.map((r) => r.writes),
      before === after ? [0, 0, 0] : [1, 0, 0],
      `${iops[rb]} settles to 0 writes`,
    );
    t.regex(after ?? '', new RegExp(`revision ${rb} is in use by 1 namespace \\(${users}\\)`));
    const again = await createCounted(users, 'app', { [rb]: istiods[rb]! });
    t.deepEqual(again.injected, { [rb]: 1 });
    t.deepEqual(logProblems(istiods[rb]!.log()), []);
  });
}
