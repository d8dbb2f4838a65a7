// Node agents during a canary: one ztunnel per cluster serves every revision. Two installs of the same version
// never fight over it (the first owner keeps it, the second says so), removing the first hands it to the one that
// stays, and a newer version takes it over. ztunnel only (namespaced objects): the CNI agent's cluster-wide
// ClusterRoles are exercised by test/integration/apply/install.test.ts, and two files sharing them would race.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { cli } from '../apply/_util.js';
import { createNamespace, kubectl, uniqueName } from '../helpers/cluster.js';

function iop(t: ExecutionContext, ns: string, revision: string, tag: string): string {
  const doc = {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { name: `cp-${revision}`, namespace: ns },
    spec: {
      profile: 'minimal',
      namespace: ns,
      revision,
      tag,
      components: { ztunnel: { enabled: true } },
      values: { global: { istioNamespace: ns } },
    },
  };
  const file = path.join(os.tmpdir(), `${uniqueName(`agents-${revision}`)}.json`);
  fs.writeFileSync(file, JSON.stringify(doc));
  t.teardown(() => fs.rmSync(file, { force: true }));
  return file;
}

async function ztunnel(ns: string): Promise<{ owner: string; ca: string; rv: string }> {
  const r = await kubectl(['get', 'daemonset', '-n', ns, 'ztunnel', '-o', 'json']);
  const o = JSON.parse(r.stdout);
  const env = o.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
  return {
    owner: o.metadata.labels['install.operator.istio.io/owning-resource'],
    ca: env.find((e) => e.name === 'CA_ADDRESS')!.value!,
    rv: o.metadata.resourceVersion,
  };
}

test('one ztunnel for all revisions: same version keeps its owner, removal hands it over, a newer version takes it', async (t) => {
  const ns = await createNamespace(t, 'agents');
  const [a, b, c] = ['a', 'b', 'c'].map((x) => `${x}${uniqueName('r').slice(-6)}`) as [string, string, string];
  t.teardown(async () => {
    for (const rev of [a, b, c]) await cli(['uninstall', '--revision', rev, '--force', '-y']);
  });
  const install = async (file: string) => {
    const r = await cli(['install', '-f', file, '-y', '--wait=false']);
    t.is(r.code, 0, r.stderr + r.stdout);
    return r;
  };

  await install(iop(t, ns, a, '1.30.0'));
  const first = await ztunnel(ns);
  t.is(first.owner, `cp-${a}`);
  t.is(first.ca, `istiod-${a}.${ns}.svc:15012`);

  // Same version, second revision: ztunnel is left to its owner, and the install says why.
  const fileB = iop(t, ns, b, '1.30.0');
  const second = await install(fileB);
  t.regex(
    second.stderr,
    new RegExp(`note: DaemonSet ztunnel is managed by IstioOperator cp-${a} \\(revision ${a}\\) at the same version: left as is`),
  );
  t.deepEqual(await ztunnel(ns), first, 'not written at all');
  // ... and installing it again is still a no-op for ztunnel (no flip-flop between the two owners).
  await install(fileB);
  t.deepEqual(await ztunnel(ns), first);

  // The first revision goes: ztunnel is handed to the installation that stays, which then points it at its istiod.
  const un = await cli(['uninstall', '--revision', a, '-y']);
  t.is(un.code, 0, un.stderr + un.stdout);
  t.is((await ztunnel(ns)).owner, `cp-${b}`, 'handed over, not deleted');
  t.regex(
    un.stdout + un.stderr,
    new RegExp(
      `DaemonSet ${ns}/ztunnel: shared with IstioOperator ${ns}/cp-${b} \\(revision ${b}\\), which keeps it; its next install points it at istiod-${b}`,
    ),
  );
  await install(fileB);
  const handed = await ztunnel(ns);
  t.is(handed.ca, `istiod-${b}.${ns}.svc:15012`);

  // A newer version takes it over.
  await install(iop(t, ns, c, '1.31.0'));
  const newer = await ztunnel(ns);
  t.is(newer.owner, `cp-${c}`);
  t.is(newer.ca, `istiod-${c}.${ns}.svc:15012`);
});
