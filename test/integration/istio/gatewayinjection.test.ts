// The east-west gateway as our render makes it (values.gateways.istio-ingressgateway.injectionTemplate: gateway, the
// input of Istio's gen-eastwest-gateway.sh, golden case multicluster/eastwest) is a pod that only istiod can finish:
// one istio-proxy container with image `auto`, the gateway's ports, two env vars and its secret volumes. Here the
// real istiod of each tested release, run from our install of a revision, fills it in through the API server (the
// revision's own webhook selects the pod by its istio.io/rev label), and it must come out as a full gateway proxy:
// the release's proxy image, `proxy router`, the east-west ports, the network and cluster metadata of the install,
// the network view the east-west input asks for, the agent's probe and volumes.
//
// And the same pod as istioctl renders it (the golden's Deployment) comes out of the same istiod the same: our render
// and istioctl's differ in what the injector leaves alone (labels), never in what the gateway runs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import { jsonDiff } from '../../istio/admission.js';
import type { Istiod } from '../../istio/istiod.js';
import { testedReleases } from '../../istio/releases.js';
import { renderInput, type Obj } from '../../golden/compare.js';
import { goldenInputsDir, goldenOutputsDir } from '../../helpers/fixtures.js';
import { uniqueName } from '../helpers/cluster.js';
import {
  client,
  counter,
  enterRelease,
  installIstio,
  istiodsStarted,
  logProblems,
  runIstiod,
  stopAll,
  type IstioInstall,
} from './_istio.js';

test.after.always(stopAll);
const t0 = Date.now();
test.after(() =>
  console.log(`gatewayinjection.test: ${istiodsStarted()} istiod processes started, ${((Date.now() - t0) / 1000).toFixed(1)} s`),
);

const GATEWAY = 'istio-eastwestgateway';
/** What a primary of a multi-network mesh sets (gen-eastwest-gateway.sh's --network, --cluster, --mesh). */
const MESH = { network: 'network1', clusterName: 'cluster1', meshID: 'mesh1' };
const globals = { network: MESH.network, meshID: MESH.meshID, multiCluster: { clusterName: MESH.clusterName } };

interface Fixture {
  inst: IstioInstall;
  istiod: Istiod;
  /** Our render of the east-west input for this install (its revision and namespace). */
  objects: Obj[];
  /** The proxy image istiod's injector values name. */
  proxyImage: string;
}
const fixtures = new Map<string, Promise<Fixture>>();

/**
 * A revision (so that its own webhook, not the cluster's default one, selects the gateway pod) with istiod only, and
 * its istiod running. The gateway is rendered apart, for the same revision and namespace: installed with istiod, its
 * Deployment's pods would be refused until istiod serves (failurePolicy Fail) and the install would wait for them.
 */
function fixture(t: ExecutionContext, release: string): Promise<Fixture> {
  t.timeout(300_000, `installing a revision and starting istiod ${release}`);
  let f = fixtures.get(release);
  if (!f) {
    f = (async () => {
      await enterRelease(release);
      const revision = `ew${uniqueName('x').slice(2, 8)}`;
      const inst = await installIstio(release, { profile: 'minimal', revision, spec: { values: { global: globals } } });
      const istiod = await runIstiod(inst);
      const input = yaml.load(fs.readFileSync(path.join(goldenInputsDir(release, 'multicluster'), 'eastwest.yaml'), 'utf8')) as Record<
        string,
        any
      >;
      input.spec = {
        ...input.spec,
        revision,
        tag: release,
        namespace: inst.namespace,
        values: { ...input.spec.values, global: { ...input.spec.values.global, ...globals, istioNamespace: inst.namespace } },
      };
      const { objects } = await renderInput({ files: [{ name: 'eastwest.yaml', text: JSON.stringify(input) }] }, release);
      const c = client();
      const cm = await c
        .request<{ data: { values: string } }>('GET', `/api/v1/namespaces/${inst.namespace}/configmaps/istio-sidecar-injector-${revision}`)
        .finally(() => c.close());
      const g = (JSON.parse(cm!.data.values) as { global: { hub: string; tag: string; proxy: { image: string } } }).global;
      return { inst, istiod, objects, proxyImage: `${g.hub}/${g.proxy.image}:${g.tag}` };
    })();
    fixtures.set(release, f);
  }
  return f;
}

/** The gateway Deployment's pod template as a Pod named `name` in `ns` (what its ReplicaSet would create). */
function podOf(deployment: Record<string, any>, name: string, ns: string, extraLabels: Record<string, string> = {}): Record<string, any> {
  const tpl = structuredClone(deployment.spec.template) as Record<string, any>;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...tpl.metadata, name, namespace: ns, labels: { ...tpl.metadata.labels, ...extraLabels } },
    spec: tpl.spec,
  };
}

const find = (objs: Obj[], kind: string, name: string) =>
  objs.find((o) => o.kind === kind && o.metadata.name === name) as Record<string, any> | undefined;
const proxyOf = (pod: Record<string, any>) => (pod.spec.containers as Array<Record<string, any>>).find((c) => c.name === 'istio-proxy')!;
const envOf = (c: Record<string, any>) =>
  Object.fromEntries((c.env ?? []).map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom]));
const names = (xs: Array<{ name: string }> | undefined) => (xs ?? []).map((x) => x.name);

/** The gateway's ServiceAccount, which the API server wants to exist before it takes a pod that runs as it. */
async function ensureServiceAccount(f: Fixture): Promise<void> {
  const sa = find(f.objects, 'ServiceAccount', `${GATEWAY}-service-account`);
  if (!sa) throw new Error(`our render has no ServiceAccount ${GATEWAY}-service-account`);
  const c = client();
  try {
    await c.request('POST', `/api/v1/namespaces/${f.inst.namespace}/serviceaccounts`, { body: sa }).catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
  } finally {
    c.close();
  }
}

/** POSTs a pod (server-side dry run with `dryRun`: the webhooks still run, nothing is stored). */
async function create(pod: Record<string, any>, dryRun = false): Promise<Record<string, any>> {
  const c = client();
  try {
    return (await c.request<Record<string, any>>('POST', `/api/v1/namespaces/${pod.metadata.namespace}/pods`, {
      body: pod,
      ...(dryRun ? { query: { dryRun: 'All' } } : {}),
    }))!;
  } finally {
    c.close();
  }
}

/**
 * How the injected pods of our render and of istioctl's golden differ (the same for every release), and why: only
 * what the injector leaves as the pod had it, and none of it changes what runs. Everything istiod makes of the pod
 * (containers, volumes, security contexts, annotations) is the same. The test fails on any other difference and on
 * a listed one that went away.
 */
const KNOWN_DIFFERENCES: Record<string, string> = {
  // `istioctl manifest generate` writes owning-resource `unknown` (golden case OWNER_UNKNOWN); `istioctl install`
  // and we write the IstioOperator's name.
  '.labels.install.operator.istio.io/owning-resource': 'owner: `unknown` in manifest generate',
  // The golden is rendered without a revision; the chart's canonical revision is the revision when there is one
  // (istioctl renders our value too for a revision: checked against istioctl itself, not kept as a golden).
  '.labels.service.istio.io/canonical-revision': 'the golden has no revision',
  // The golden is rendered for istio-system, where the chart adds Helm-2 era labels; this install's namespace is
  // another one (several test meshes share the cluster), where neither istioctl nor we add them.
  '.labels.heritage': 'istio-system only',
  '.labels.chart': 'istio-system only',
  // Helm's bookkeeping, which the golden comparison ignores too (test/golden/compare.ts HELM_KEYS).
  '.labels.release': 'Helm bookkeeping',
  '.labels.app.kubernetes.io/instance': 'Helm bookkeeping',
  '.labels.app.kubernetes.io/managed-by': 'Helm bookkeeping',
  '.labels.app.kubernetes.io/version': 'Helm bookkeeping',
  '.labels.helm.sh/chart': 'Helm bookkeeping',
  // The chart prints node affinity with null terms when no arch or nodeSelector is set (`nodeAffinity: {}` once
  // stored); we print no affinity: to the scheduler both say nothing.
  '.spec.affinity': 'empty node affinity',
};

for (const release of testedReleases()) {
  test.serial(
    `${release}: our east-west gateway's pod is injected by the revision's istiod with the gateway template and comes out a full gateway proxy`,
    async (t) => {
      const f = await fixture(t, release);
      const { inst, istiod } = f;
      const dep = find(f.objects, 'Deployment', GATEWAY);
      if (!dep) return t.fail(`our render has no Deployment ${GATEWAY}`);
      // What our render hands the injector: a placeholder, not a proxy.
      const mine = proxyOf(dep.spec.template);
      t.is(mine.image, 'auto');
      t.is(mine.args, undefined);
      t.is(dep.spec.template.metadata.annotations['inject.istio.io/templates'], 'gateway');
      t.is(dep.spec.template.metadata.labels['istio.io/rev'], inst.revision);

      await ensureServiceAccount(f);
      const before = await counter(istiod, 'sidecar_injection_success_total');
      const pod = await create(podOf(dep, `${GATEWAY}-ours`, inst.namespace));
      t.is(await counter(istiod, 'sidecar_injection_success_total'), before + 1, "the revision's istiod injected it");
      const status = JSON.parse(pod.metadata.annotations?.['sidecar.istio.io/status'] ?? '{}') as { revision?: string };
      t.is(status.revision, inst.revision);
      t.deepEqual(names(pod.spec.containers), ['istio-proxy'], 'still one container: the gateway');
      t.deepEqual(names(pod.spec.initContainers), [], 'a gateway redirects no traffic: no istio-init');

      const proxy = proxyOf(pod);
      t.is(proxy.image, f.proxyImage, "the injector's proxy image instead of `auto`");
      t.deepEqual(proxy.args?.slice(0, 2), ['proxy', 'router']);
      t.deepEqual(
        (proxy.ports as Array<{ containerPort: number }>).map((p) => p.containerPort).sort((a, b) => a - b),
        [15012, 15017, 15021, 15090, 15443],
        'the east-west ports (k8s.service.ports) and the metrics port',
      );
      const env = envOf(proxy);
      t.like(env, {
        ISTIO_META_REQUESTED_NETWORK_VIEW: MESH.network, // the east-west input's k8s.env
        ISTIO_META_NETWORK: MESH.network,
        ISTIO_META_CLUSTER_ID: MESH.clusterName,
        ISTIO_META_MESH_ID: MESH.meshID,
        ISTIO_META_UNPRIVILEGED_POD: 'true',
        ISTIO_META_WORKLOAD_NAME: `${GATEWAY}-ours`,
      });
      t.is(env.ISTIO_META_ROUTER_MODE, undefined, 'no router mode: neither the chart nor the gateway template of these releases sets one');
      t.is(env.CA_ADDR, `istiod-${inst.revision}.${inst.namespace}.svc:15012`, "certificates from the revision's istiod");
      t.regex(
        JSON.stringify(env.PROXY_CONFIG ?? ''),
        new RegExp(`istiod-${inst.revision}\\.${inst.namespace}\\.svc:15012`),
        "discovery from the revision's istiod",
      );
      t.is(proxy.readinessProbe?.httpGet?.port, 15021, "the agent's readiness probe");
      t.like(proxy.resources, { limits: { cpu: '2', memory: '1Gi' } }, "the gateway's own resources kept");
      const mounts = names(proxy.volumeMounts);
      for (const m of ['ingressgateway-certs', 'ingressgateway-ca-certs', 'istio-envoy', 'istio-token', 'workload-socket', 'istio-data'])
        t.true(mounts.includes(m), `mount ${m}: ${mounts.join(', ')}`);
      t.deepEqual(logProblems(istiod.log()), [], 'istiod logged problems');
    },
  );

  test.serial(`${release}: istioctl's east-west gateway pod (the golden) and ours come out of the same istiod the same`, async (t) => {
    const f = await fixture(t, release);
    const { inst } = f;
    await ensureServiceAccount(f);
    const golden = (
      yaml.loadAll(fs.readFileSync(path.join(goldenOutputsDir(release, 'multicluster'), 'eastwest.golden.yaml'), 'utf8')) as Array<Record<
        string,
        any
      > | null>
    ).find((o) => o?.kind === 'Deployment' && o.metadata?.name === GATEWAY);
    if (!golden) return t.fail('the golden has no east-west Deployment');
    const dep = find(f.objects, 'Deployment', GATEWAY)!;
    // The golden is for the default revision: pointed at this install's revision as our render points its pod, so
    // that the same webhook selects it. One pod name for both (dry run: nothing is stored), as it shows in the env.
    const name = `${GATEWAY}-7c9d8f6b5-abcde`;
    const [ours, theirs] = [
      await create(podOf(dep, name, inst.namespace), true),
      await create(podOf(golden, name, inst.namespace, { 'istio.io/rev': inst.revision }), true),
    ];
    for (const p of [ours, theirs])
      t.is(JSON.parse(p.metadata.annotations['sidecar.istio.io/status'] ?? '{}').revision, inst.revision, 'injected');
    const relevant = (p: Record<string, any>) =>
      JSON.parse(
        JSON.stringify({ labels: p.metadata.labels, annotations: p.metadata.annotations, spec: p.spec }).replace(
          /kube-api-access-[a-z0-9]{5}/g,
          'kube-api-access-xxxxx',
        ),
      );
    const diff = jsonDiff(relevant(ours), relevant(theirs));
    t.log(
      `${release}: ${diff.length} difference(s), ours vs istioctl's:\n${diff.map((d) => `  ${d.path}: ${JSON.stringify(d.left)} | ${JSON.stringify(d.right)}`).join('\n') || '  (none)'}`,
    );
    t.deepEqual(
      diff.map((d) => d.path).sort(),
      Object.keys(KNOWN_DIFFERENCES).sort(),
      'differences that are not in KNOWN_DIFFERENCES (or listed ones that went away)',
    );
  });
}
