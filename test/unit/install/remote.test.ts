import test from 'ava';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import type { K8sObject } from '../../../operator/api/types.js';
import { componentReadiness, judgeObject, type Live } from '../../../operator/apply/objectready.js';
import type { ObjectRef } from '../../../operator/apply/resources.js';
import { describeRemote, remoteHint, remoteOf } from '../../../operator/install/remote.js';
import { render } from '../../../operator/render/index.js';

// Build 3 of issue #19, without a cluster: which installs are remotes and what they point at (from what the render
// gives), and readiness judged by kind against live objects, for whatever objects the render gives.

function rendered(sets: string[]) {
  const { install } = resolveIstioOperator({ sets });
  return { install, objects: render(install).objects };
}
const REMOTE = ['profile=remote', 'values.global.multiCluster.clusterName=c2', 'values.global.network=net2', 'values.global.meshID=mesh1'];

/** A Look whose live objects are the given ones (by kind/ns/name); anything else is absent. */
function lookOf(live: any[], cached = false) {
  const key = (r: ObjectRef) => `${r.kind}/${r.namespace ?? ''}/${r.name}`;
  const m = new Map(
    live.map((o) => [key({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace }), o]),
  );
  const gets: string[] = [];
  return {
    gets,
    look: {
      ...(cached ? { cached: (r: ObjectRef): Live => m.get(key(r)) } : {}),
      get: async (r: ObjectRef): Promise<Live> => {
        gets.push(key(r));
        return m.get(key(r));
      },
    },
  };
}

/** The live form of rendered objects: what a successful apply leaves (webhooks as rendered, the EndpointSlice as given). */
const asLive = (objects: K8sObject[]) => objects.map((o) => structuredClone(o) as Record<string, any>);

test('a remote with an IP remotePilotAddress: its status names the primary, cluster, network and injection path', (t) => {
  const { install, objects } = rendered([
    ...REMOTE,
    'values.global.remotePilotAddress=192.0.2.10',
    'values.istiodRemote.injectionPath=/inject/cluster/c2/net/net2',
  ]);
  const r = remoteOf(install, objects);
  t.deepEqual(r, {
    clusterName: 'c2',
    network: 'net2',
    meshID: 'mesh1',
    remotePilotAddress: '192.0.2.10',
    injection: 'Service istio-system/istiod/inject/cluster/c2/net/net2',
  });
  t.regex(
    describeRemote(r!),
    /remote cluster c2 \(network net2, mesh mesh1\) served by the primary's istiod at 192\.0\.2\.10, no istiod of its own; sidecar injection: Service istio-system\/istiod\/inject/,
  );
  t.is(remoteHint(r!), undefined);
});

test("a remote with an injection URL names it; an unset clusterName is called out as Istio's default", (t) => {
  const { install, objects } = rendered(['profile=remote', 'values.istiodRemote.injectionURL=https://istiod.primary.example:15017/inject']);
  const r = remoteOf(install, objects)!;
  t.is(r.injection, 'URL https://istiod.primary.example:15017/inject');
  t.is(r.clusterName, 'Kubernetes');
  t.regex(describeRemote(r), /Kubernetes \(Istio's default: set values\.global\.multiCluster\.clusterName/);
  t.regex(describeRemote(r), /no primary address \(values\.global\.remotePilotAddress is not set\)/);
  t.is(remoteHint(r), undefined, 'a URL is a backend of its own');
});

test('an install with its own istiod is no remote', (t) => {
  for (const profile of ['default', 'minimal']) {
    const { install, objects } = rendered([`profile=${profile}`, 'values.global.multiCluster.clusterName=c1']);
    t.is(remoteOf(install, objects), undefined, profile);
  }
});

test('a remote HEALTHY as applied: no Deployment expected; the webhook and its istiod Service and endpoints are judged', async (t) => {
  const { objects } = rendered([...REMOTE, 'values.global.remotePilotAddress=192.0.2.10']);
  t.false(
    objects.some((o) => o.kind === 'Deployment'),
    'the render has no istiod',
  );
  const judgedKinds = [
    ...new Set(
      objects.filter((o) => ['Service', 'Endpoints', 'EndpointSlice', 'MutatingWebhookConfiguration'].includes(o.kind)).map((o) => o.kind),
    ),
  ].sort();
  t.true(judgedKinds.includes('MutatingWebhookConfiguration') && judgedKinds.includes('Service'), judgedKinds.join());
  const { look } = lookOf(asLive(objects));
  const r = await componentReadiness(objects, look);
  t.true(
    Object.values(r).every((c) => c.ready),
    JSON.stringify(r),
  );

  // The primary's istiod writes the injector's caBundle into a remote: not a difference readiness sees.
  const live = asLive(objects);
  for (const o of live.filter((x) => x.kind === 'MutatingWebhookConfiguration'))
    for (const w of o.webhooks) w.clientConfig.caBundle = 'Y2E=';
  t.true(Object.values(await componentReadiness(objects, lookOf(live).look)).every((c) => c.ready));
});

test('missing or different live objects are not ready, saying which and why; the cache is confirmed by a read', async (t) => {
  const { objects } = rendered([...REMOTE, 'values.global.remotePilotAddress=192.0.2.10']);
  // The primary's address is an EndpointSlice beside the selectorless istiod Service, as istioctl renders it.
  const live = asLive(objects).filter((o) => o.kind !== 'EndpointSlice');
  const { look, gets } = lookOf(live, true);
  const r = await componentReadiness(objects, look);
  t.false(r.Pilot!.ready);
  t.falsy(r.Pilot!.stuck, 'the operator re-applies what is missing: waiting, not stuck');
  t.regex(r.Pilot!.message!, /EndpointSlice istio-system\/istiod not found/);
  t.true(gets.includes('EndpointSlice/istio-system/istiod'), 'a cache miss is confirmed by a GET');

  const moved = asLive(objects);
  const ep = moved.find((o) => o.kind === 'EndpointSlice')!;
  ep.endpoints[0].addresses = ['192.0.2.99'];
  const hook = moved.find((o) => o.kind === 'MutatingWebhookConfiguration')!;
  hook.webhooks[0].clientConfig = { url: 'https://elsewhere:15017/inject' };
  const r2 = await componentReadiness(objects, lookOf(moved).look);
  t.regex(r2.Pilot!.message!, /EndpointSlice istio-system\/istiod does not list address 192\.0\.2\.10/);
  t.regex(r2.Pilot!.message!, /calls URL https:\/\/elsewhere:15017\/inject, not Service istio-system\/istiod\/inject/);
});

test('a remote that names no primary: its injector calls a Service that exists nowhere, which is stuck, with the values that fix it', async (t) => {
  const { install, objects } = rendered(['profile=remote']);
  t.false(
    objects.some((o) => o.kind === 'Service'),
    'no address: the render gives no istiod Service',
  );
  const r = await componentReadiness(objects, lookOf(asLive(objects)).look);
  t.false(r.Pilot!.ready);
  t.true(r.Pilot!.stuck);
  t.regex(
    r.Pilot!.message!,
    /webhook \S+sidecar-injector\.istio\.io calls Service istio-system\/istiod, which does not exist and this install does not create it/,
  );
  t.regex(remoteHint(remoteOf(install, objects)!)!, /values\.global\.remotePilotAddress/);
});

test('a selectorless Service with no endpoints behind a webhook that fails closed is stuck; endpoints someone else made count', async (t) => {
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'hook', namespace: 'x', labels: { 'operator.istio.io/component': 'Pilot' } },
    spec: { ports: [{ port: 443 }] },
  };
  const hook = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'h', labels: { 'operator.istio.io/component': 'Pilot' } },
    webhooks: [{ name: 'a.example', failurePolicy: 'Fail', clientConfig: { service: { name: 'hook', namespace: 'x', path: '/p' } } }],
  };
  const objects = [svc, hook] as K8sObject[];
  const r = await componentReadiness(objects, lookOf(asLive(objects)).look);
  t.true(r.Pilot!.stuck);
  t.regex(r.Pilot!.message!, /Service x\/hook, which has no selector and no endpoints/);
  const theirs = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'hook', namespace: 'x' },
    subsets: [{ addresses: [{ ip: '192.0.2.1' }], ports: [{ port: 15017 }] }],
  };
  t.true((await componentReadiness(objects, lookOf([...asLive(objects), theirs]).look)).Pilot!.ready);
  // failurePolicy Ignore: the API server admits what it cannot check, nothing waits on the backend.
  const ignoring = structuredClone(hook);
  ignoring.webhooks[0]!.failurePolicy = 'Ignore';
  t.true((await componentReadiness([svc, ignoring] as K8sObject[], lookOf(asLive([svc, ignoring] as K8sObject[])).look)).Pilot!.ready);
});

test('EndpointSlice and ExternalName are judged by kind, as a render may give them', (t) => {
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'istiod-1', namespace: 'istio-system', labels: { 'kubernetes.io/service-name': 'istiod' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['192.0.2.10'] }],
    ports: [
      { name: 'tcp-istiod', port: 15012 },
      { name: 'tcp-webhook', port: 15017 },
    ],
  } as unknown as K8sObject;
  t.true(judgeObject(slice, structuredClone(slice) as Live).ready);
  const notReady = structuredClone(slice) as any;
  notReady.endpoints[0].conditions = { ready: false };
  t.regex(judgeObject(slice, notReady).why!, /does not list address 192\.0\.2\.10/);
  t.regex(judgeObject(slice, undefined).why!, /EndpointSlice istio-system\/istiod-1 not found/);
  const ext = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'istiod', namespace: 'istio-system' },
    spec: { type: 'ExternalName', externalName: 'istiod.primary.example' },
  } as unknown as K8sObject;
  t.true(judgeObject(ext, structuredClone(ext) as Live).ready);
  t.regex(
    judgeObject(ext, { ...ext, spec: { type: 'ExternalName', externalName: 'old.example' } }).why!,
    /does not name istiod\.primary\.example yet/,
  );
});

test('a workload that is not ready: its pods say why, listed only then (stuck image pull vs unschedulable)', async (t) => {
  const { objects } = rendered(['profile=minimal']);
  const dep = objects.find((o) => o.kind === 'Deployment')!;
  const live = asLive(objects).map((o) =>
    o.kind === 'Deployment' ? { ...o, status: { observedGeneration: 0, replicas: 1, availableReplicas: 0 } } : o,
  );
  const listed: string[] = [];
  const withPods = (pods: any[]) => ({
    ...lookOf(live).look,
    pods: async (ns: string, selector: string) => (listed.push(`${ns} ${selector}`), pods),
  });
  const pull = {
    metadata: { name: 'istiod-1' },
    status: {
      containerStatuses: [{ name: 'discovery', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } } }],
    },
  };
  const r = await componentReadiness(objects, withPods([pull]));
  t.true(r.Pilot!.stuck);
  t.regex(
    r.Pilot!.message!,
    new RegExp(`Deployment istio-system/${dep.metadata.name}: 0/1 available; pod istiod-1 container discovery: ImagePullBackOff`),
  );
  t.deepEqual(listed, ['istio-system istio=pilot'], "by the Deployment's own selector");
  const pending = {
    metadata: { name: 'istiod-2' },
    status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' }] },
  };
  const r2 = await componentReadiness(objects, withPods([pending]));
  t.falsy(r2.Pilot!.stuck, 'a node may come');
  t.regex(r2.Pilot!.message!, /pod istiod-2: Unschedulable: 0\/1 nodes are available/);
  listed.length = 0;
  const ready = asLive(objects).map((o) =>
    o.kind === 'Deployment'
      ? { ...o, status: { observedGeneration: 1, updatedReplicas: 1, conditions: [{ type: 'Available', status: 'True' }] } }
      : o,
  );
  t.true((await componentReadiness(objects, { ...lookOf(ready).look, pods: async () => (listed.push('x'), []) })).Pilot!.ready);
  t.deepEqual(listed, [], 'a ready install lists no pods');
});
