// istiod in a namespace of its own (`components.pilot.namespace`) is where our render and istioctl's part on
// purpose: istioctl writes istiod's ServiceAccount (with its Role and RoleBinding) into global.istioNamespace and its
// Deployment into the component's namespace (the live goldens' pilot_* cases; test/golden/cases.ts, PILOT_NAMESPACE).
// This proves on the local control plane which of the two works: from istioctl's objects the ReplicaSet controller
// cannot create one istiod pod (the ServiceAccount admission plugin finds no ServiceAccount in the pod's namespace),
// from ours it can. Only the ServiceAccount and the Deployment are applied: they are all a pod's creation needs.
import fs from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import { RELEASES } from '../../../operator/api/releases.js';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import { render, toYamlStream, type K8sObject } from '../../../operator/render/index.js';
import { fixturesDir } from '../../helpers/fixtures.js';
import { createNamespace, kubectl, waitFor } from '../helpers/cluster.js';

const CASE = 'pilot_override_values';

/** The ServiceAccount and Deployment named istiod, with the two namespaces of the case mapped to the test's. */
function istiodObjects(objects: K8sObject[], istioNs: string, pilotNs: string): K8sObject[] {
  const rename: Record<string, string> = { 'istio-system': istioNs, 'istio-control': pilotNs };
  return objects
    .filter((o) => (o.kind === 'ServiceAccount' || o.kind === 'Deployment') && o.metadata.name === 'istiod')
    .map((o) => ({ ...o, metadata: { ...o.metadata, namespace: rename[o.metadata.namespace ?? ''] ?? o.metadata.namespace } }));
}

async function apply(t: ExecutionContext, objects: K8sObject[]): Promise<void> {
  const r = await kubectl(['apply', '--server-side', '--field-manager=istio-operator-test', '-f', '-'], {
    input: toYamlStream(objects),
    timeoutMs: 60_000,
  });
  t.is(r.code, 0, r.stderr);
}

interface ReplicaSetList {
  items: Array<{ status?: { conditions?: Array<{ type: string; status: string; message?: string }> } }>;
}
interface PodList {
  items: Array<{ spec?: { serviceAccountName?: string } }>;
}

async function getJson<T>(args: string[]): Promise<T> {
  const r = await kubectl(['get', ...args, '-o', 'json']);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as T;
}

for (const r of RELEASES) {
  test(`${r.patch} components.pilot.namespace: istioctl's istiod gets no pod (its ServiceAccount is elsewhere), ours does`, async (t) => {
    const liveDir = path.join(fixturesDir, 'istio', 'releases', r.patch, 'golden', 'live');
    const golden = yaml.loadAll(fs.readFileSync(path.join(liveDir, 'outputs', `${CASE}.golden.yaml`), 'utf8')) as K8sObject[];
    const input = fs.readFileSync(path.join(liveDir, 'inputs', `${CASE}.yaml`), 'utf8');

    // istioctl's: the ServiceAccount in the Istio namespace, the Deployment in istiod's.
    const [aIstio, aPilot] = [await createNamespace(t, 'pilotns-istio'), await createNamespace(t, 'pilotns-control')];
    const theirs = istiodObjects(golden.filter(Boolean), aIstio, aPilot);
    t.deepEqual(theirs.map((o) => `${o.kind}:${o.metadata.namespace}`).sort(), [`Deployment:${aPilot}`, `ServiceAccount:${aIstio}`]);
    await apply(t, theirs);
    const failure = await waitFor(
      "istioctl's istiod ReplicaSet to report that it cannot create pods",
      async () =>
        (await getJson<ReplicaSetList>(['replicasets', '-n', aPilot, '-l', 'app=istiod'])).items
          .flatMap((rs) => rs.status?.conditions ?? [])
          .find((c) => c.type === 'ReplicaFailure' && c.status === 'True'),
      { timeoutMs: 60_000 },
    );
    t.regex(failure.message ?? '', /serviceaccount "istiod" not found/);
    t.is((await getJson<PodList>(['pods', '-n', aPilot, '-l', 'app=istiod'])).items.length, 0);

    // Ours, from the same input: both in istiod's namespace, and the ReplicaSet creates its pods.
    const [bIstio, bPilot] = [await createNamespace(t, 'pilotns-istio'), await createNamespace(t, 'pilotns-control')];
    const { install } = resolveIstioOperator({ files: [{ name: `${CASE}.yaml`, text: input }], release: r.line });
    const ours = istiodObjects(render(install).objects, bIstio, bPilot);
    t.deepEqual(ours.map((o) => `${o.kind}:${o.metadata.namespace}`).sort(), [`Deployment:${bPilot}`, `ServiceAccount:${bPilot}`]);
    await apply(t, ours);
    const pods = await waitFor(
      'our istiod ReplicaSet to create its pods',
      async () => {
        const items = (await getJson<PodList>(['pods', '-n', bPilot, '-l', 'app=istiod'])).items;
        return items.length ? items : undefined;
      },
      { timeoutMs: 60_000 },
    );
    t.true(pods.every((p) => p.spec?.serviceAccountName === 'istiod'));
  });
}
