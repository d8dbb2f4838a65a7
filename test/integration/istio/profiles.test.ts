// The real istiod of each tested release, run from our install of each profile (default, demo, minimal, ambient):
// it becomes ready, runs with the mesh config we rendered (its /debug/mesh has every field of ours), serves the
// injection templates we rendered (its /debug/inject is our injector ConfigMap's), and its log has no problem with
// our mesh config, injector config or env (test/istio/logcheck.ts says what that means and why `error` alone is not
// enough). Last, per release, the proof that the log check can fail: the same istiod fed a broken mesh config
// becomes ready all the same, logs only a warning, and runs on Istio's defaults; the check reports exactly that.
//
// Each profile is installed as its own revision (`p-<profile>`) into its own namespace, so that no install takes
// the cluster-wide default tag (default.test.ts owns it). One istiod at a time: each install has its own
// self-signed root, and every istiod writes its root into every namespace.
import test from 'ava';
import yaml from 'js-yaml';
import { unifiedDiff } from '../../../operator/apply/textdiff.js';
import type { Istiod } from '../../istio/istiod.js';
import { configProblems } from '../../istio/logcheck.js';
import { testedReleases } from '../../istio/releases.js';
import { subsetMismatches } from '../../istio/subset.js';
import { client, debugJson, installIstio, istiodsStarted, logLines, logProblems, runIstiod, stopAll, type IstioInstall } from './_istio.js';

test.after.always(stopAll);

const PROFILES = ['default', 'demo', 'minimal', 'ambient'] as const;
const t0 = Date.now();

test.after(() => console.log(`profiles.test: ${istiodsStarted()} istiod processes started, ${((Date.now() - t0) / 1000).toFixed(1)} s`));

/** A ConfigMap of the install, as the cluster has it. */
async function configMap(inst: IstioInstall, name: string): Promise<Record<string, string>> {
  const c = client();
  try {
    const cm = await c.request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${inst.namespace}/configmaps/${name}`);
    return cm?.data ?? {};
  } finally {
    c.close();
  }
}

const suffix = (inst: IstioInstall) => (inst.revision === 'default' ? '' : `-${inst.revision}`);

/** What must hold of any istiod we run from our install: it runs our mesh config and our templates, and logs no problem. */
async function checkIstiod(
  inst: IstioInstall,
  istiod: Istiod,
): Promise<{
  problems: string[];
  mesh: ReturnType<typeof subsetMismatches>;
  templates: { ours: string[]; istiod: string[]; differing: string[]; diffs: string };
}> {
  const ours = yaml.load((await configMap(inst, `istio${suffix(inst)}`)).mesh ?? '') as Record<string, unknown>;
  const active = await debugJson<Record<string, unknown>>(istiod, '/debug/mesh');
  const injector = yaml.load((await configMap(inst, `istio-sidecar-injector${suffix(inst)}`)).config ?? '') as {
    templates?: Record<string, string>;
  };
  const served = await debugJson<Record<string, string>>(istiod, '/debug/inject');
  const names = Object.keys(injector.templates ?? {}).sort();
  // js-yaml ends a block scalar with a line break even when the document does not (the last template of the config);
  // Go's YAML, which istiod uses, keeps none there. Compared without that one trailing line break.
  const text = (s: string | undefined) => s?.replace(/\n$/, '');
  return {
    problems: logProblems(istiod.log()),
    mesh: subsetMismatches(ours, active),
    templates: {
      ours: names,
      istiod: Object.keys(served).sort(),
      differing: names.filter((n) => text(served[n]) !== text(injector.templates![n])),
      diffs: names
        .filter((n) => served[n] !== undefined && text(served[n]) !== text(injector.templates![n]))
        .map((n) => {
          const a = text(injector.templates![n])!;
          const b = text(served[n])!;
          let i = 0;
          while (i < a.length && a[i] === b[i]) i++;
          const at = `first difference at character ${i} of ${a.length}/${b.length}: ours ${JSON.stringify(a.slice(Math.max(0, i - 40), i + 40))}, istiod ${JSON.stringify(b.slice(Math.max(0, i - 40), i + 40))}`;
          return `${unifiedDiff(a, b, `ours/${n}`, `istiod/${n}`)}\n${at}`;
        })
        .join('\n'),
    },
  };
}

for (const release of testedReleases()) {
  for (const profile of PROFILES) {
    test.serial(
      `${release} ${profile}: istiod becomes ready on our render, runs our mesh config and injection templates, logs no problem with them`,
      async (t) => {
        t.timeout(300_000, `installing the ${profile} profile and starting istiod ${release}`);
        const started = Date.now();
        const inst = await installIstio(release, { profile, revision: `p-${profile}` });
        const installed = Date.now();
        const istiod = await runIstiod(inst);
        t.teardown(async () => {
          await istiod.stop();
          await inst.remove();
        });
        t.log(
          `installed in ${installed - started} ms; istiod ${release} (pid ${istiod.pid}) ready in ${istiod.readyMs} ms; absent optional volumes: ${istiod.absentVolumes.join(', ') || 'none'}`,
        );
        const log = istiod.log();
        t.regex(log, /initializing mesh configuration/);
        t.regex(log, /initializing sidecar injector/);
        const r = await checkIstiod(inst, istiod);
        t.deepEqual(r.problems, [], `istiod ${release} logged problems with our ${profile} config`);
        t.deepEqual(r.mesh, [], 'fields of our mesh config that istiod does not run with');
        t.deepEqual(r.templates.istiod, r.templates.ours, 'the injection templates istiod serves are those of our injector ConfigMap');
        t.deepEqual(r.templates.differing, [], `templates whose text istiod serves differs from ours:\n${r.templates.diffs}`);
        const warnings = logLines(log, 'warn');
        if (warnings.length) t.log(`other warnings (not about our config):\n${warnings.join('\n')}`);
      },
    );
  }

  test.serial(
    `${release}: the log check catches a broken mesh config, which istiod only warns about and replaces by its defaults`,
    async (t) => {
      t.timeout(300_000, `installing the minimal profile and starting istiod ${release} twice`);
      const inst = await installIstio(release, { profile: 'minimal', revision: 'p-broken' });
      t.teardown(() => inst.remove());
      const mesh = (await configMap(inst, `istio-${inst.revision}`)).mesh ?? '';
      // A meshConfig field with a value of the wrong type, as a hand-edited ConfigMap or a render bug would write it,
      // in this install's mesh ConfigMap (istiod reads it through the API server; its Deployment mounts no copy).
      const broken = yaml.dump({ ...(yaml.load(mesh) as Record<string, unknown>), enableTracing: 'sometimes' });
      const c = client();
      await c
        .request('PATCH', `/api/v1/namespaces/${inst.namespace}/configmaps/istio-${inst.revision}`, {
          body: { data: { mesh: broken } },
          contentType: 'application/merge-patch+json',
        })
        .finally(() => c.close());
      const istiod = await runIstiod(inst, { serve: false });
      t.teardown(() => istiod.stop());
      const log = istiod.log();
      const problems = configProblems(log);
      t.log(
        `istiod ${release} became ready in ${istiod.readyMs} ms on the broken mesh config; the check reports:\n${problems.map((p) => `[${p.kind}] ${p.line}`).join('\n')}`,
      );
      t.deepEqual([...new Set(problems.map((p) => p.kind))], ['mesh config'], 'the broken mesh config is reported, and nothing else');
      t.regex(
        problems[0]?.line ?? '',
        /\twarn\tinvalid mesh config, using last known state: .*cannot unmarshal string into Go value of type bool/,
      );
      t.deepEqual(
        logLines(log, 'error').filter((l) => /mesh/.test(l)),
        [],
        'istiod logs no error about it: grepping for errors alone misses it',
      );
      // And it runs on defaults: fields we rendered are not what it uses.
      const notOurs = subsetMismatches(yaml.load(mesh), await debugJson(istiod, '/debug/mesh'));
      t.true(notOurs.length > 0, 'istiod runs a mesh config other than ours');
      t.log(
        `fields of our rendered mesh config istiod does not run with: ${notOurs.map((m) => `${m.path} (ours ${JSON.stringify(m.ours)}, istiod ${JSON.stringify(m.istiod)})`).join(', ')}`,
      );
    },
  );
}
