// Over 500 lines by choice: one revisioned install per release, its steps sharing the istiod they start.
// A revisioned install and its istiod, per tested release: pods in a namespace labelled istio.io/rev=<revision>
// are injected by that revision's istiod through the API server; and the injection our render configures is
// compared with the one Istio's own installer configures for the same input, both run by the same istiod release.
//
// The comparison: our install takes the IstioOperator of Istio's `sidecar_template` golden case (with the hub and
// tag that golden was generated with); a second istiod process of the same release runs from the same Deployment
// but with the golden's injector `config` and `values` (only `revision` and `global.istioNamespace` set to this
// install's, since the golden is for istio-system without a revision). The same pod is POSTed to both.
import * as fs from 'node:fs';
import * as path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import { admissionReview, jsonDiff, patched, POD, postReview } from '../../istio/admission.js';
import type { Istiod } from '../../istio/istiod.js';
import { referenceDir, testedReleases } from '../../istio/releases.js';
import { uniqueName } from '../helpers/cluster.js';
import {
  appPod,
  client,
  containerNames,
  counter,
  installIstio,
  meshRoot,
  namespace,
  runIstiod,
  stopAll,
  type IstioInstall,
} from './_istio.js';

test.after.always(stopAll);

interface GoldenInjector {
  /** The IstioOperator the golden was generated from. */
  spec: Record<string, any>;
  config: string;
  values: Record<string, any>;
}

/** Istio's `sidecar_template` case for a release: its input and the injector ConfigMap istioctl rendered. */
function goldenInjector(release: string): GoldenInjector {
  // What the release's own istioctl renders (golden/live): Istio's vendored golden comes from its test's chart
  // snapshot, whose templates lag 1.29.6's (istioctl 1.29.6 ships 1.30's, less OTEL_RESOURCE_ATTRIBUTES).
  const dir = path.join(referenceDir(release), 'golden', 'live');
  const input = yaml.load(fs.readFileSync(path.join(dir, 'inputs', 'sidecar_template.yaml'), 'utf8')) as { spec: Record<string, any> };
  const docs = yaml.loadAll(fs.readFileSync(path.join(dir, 'outputs', 'sidecar_template.golden.yaml'), 'utf8')) as Array<Record<
    string,
    any
  > | null>;
  const cm = docs.find((d) => d?.kind === 'ConfigMap' && d.metadata?.name === 'istio-sidecar-injector');
  if (!cm) throw new Error(`${dir}/outputs/sidecar_template.golden.yaml has no istio-sidecar-injector ConfigMap`);
  return { spec: input.spec, config: cm.data.config as string, values: JSON.parse(cm.data.values as string) as Record<string, any> };
}

interface Fixture {
  inst: IstioInstall;
  ours: Istiod;
  istios: Istiod;
  golden: GoldenInjector;
}
const fixtures = new Map<string, Promise<Fixture>>();

/** With istio-cni, both configs as they are but for `pilot.cni.enabled`: two more istiods that serve nothing. */
const cniFixtures = new Map<string, Promise<{ ours: Istiod; istios: Istiod }>>();
function cniFixture(t: ExecutionContext, release: string): Promise<{ ours: Istiod; istios: Istiod }> {
  t.timeout(360_000, `starting two istiod ${release} with istio-cni injector values`);
  let f = cniFixtures.get(release);
  if (!f) {
    f = (async () => {
      const { inst, golden } = await fixture(t, release);
      const c = client();
      const cm = await c
        .request<{ data: { config: string; values: string } }>(
          'GET',
          `/api/v1/namespaces/${inst.namespace}/configmaps/istio-sidecar-injector-${inst.revision}`,
        )
        .finally(() => c.close());
      const withCni = (values: Record<string, any>) =>
        JSON.stringify({ ...values, pilot: { ...values.pilot, cni: { ...values.pilot?.cni, enabled: true } } }, null, 2);
      const ourValues = JSON.parse(cm!.data.values) as Record<string, any>;
      const istioValues = {
        ...golden.values,
        revision: inst.revision,
        global: { ...golden.values.global, istioNamespace: inst.namespace },
      };
      const [ours, istios] = await Promise.all([
        runIstiod(inst, { serve: false, injector: { config: cm!.data.config, values: withCni(ourValues) } }),
        runIstiod(inst, { serve: false, injector: { config: golden.config, values: withCni(istioValues) } }),
      ]);
      return { ours, istios };
    })();
    cniFixtures.set(release, f);
  }
  return f;
}

function fixture(t: ExecutionContext, release: string): Promise<Fixture> {
  t.timeout(360_000, `installing a revision and starting two istiod ${release}`);
  let f = fixtures.get(release);
  if (!f) {
    f = (async () => {
      const golden = goldenInjector(release);
      const revision = `r${uniqueName('x').slice(2, 10)}`;
      const spec = { ...golden.spec, hub: golden.values.global.hub, tag: golden.values.global.tag };
      const inst = await installIstio(release, { profile: 'default', revision, spec });
      const ours = await runIstiod(inst);
      const values = { ...golden.values, revision, global: { ...golden.values.global, istioNamespace: inst.namespace } };
      const istios = await runIstiod(inst, { serve: false, injector: { config: golden.config, values: JSON.stringify(values, null, 2) } });
      return { inst, ours, istios, golden };
    })();
    fixtures.set(release, f);
  }
  return f;
}

/**
 * Two namespaces per release for the comparison: one labelled for the revision (the AdmissionReview's namespace)
 * and a plain one, which no injector selects, where the API server shows what it would store (dry run).
 */
const cmpNamespaces = new Map<string, Promise<{ ns: string; plain: string }>>();
function comparisonNamespaces(inst: IstioInstall): Promise<{ ns: string; plain: string }> {
  let p = cmpNamespaces.get(inst.release);
  if (!p) {
    p = (async () => ({ ns: await namespace('cmp', { 'istio.io/rev': inst.revision }), plain: await namespace('cmp-plain') }))();
    cmpNamespaces.set(inst.release, p);
  }
  return p;
}

/**
 * Differences between the pod our injector config makes and the one Istio's makes, per release and pod case, that
 * are known and justified. The test fails on any other difference, and on a listed one that went away, so this list
 * stays the truth. Empty: every case gives the same stored pod, for every release.
 */
const KNOWN_DIFFERENCES: Record<string, Record<string, string[]>> = {};

const APP_IMAGE = 'registry.k8s.io/pause:3.10';

/**
 * A pod that walks more of the injection template than a bare one: probes (rewritten to the agent), resources,
 * two containers with ports, and the per-pod proxy annotations users set most.
 */
function richPod(ns: string): Record<string, any> {
  const probe = { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 5 };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'rich',
      namespace: ns,
      labels: { app: 'shop', version: 'v2' },
      annotations: {
        'sidecar.istio.io/proxyCPU': '200m',
        'sidecar.istio.io/proxyMemory': '256Mi',
        'proxy.istio.io/config': '{"holdApplicationUntilProxyStarts": true}',
        'traffic.sidecar.istio.io/excludeOutboundPorts': '5432',
      },
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: APP_IMAGE,
          ports: [{ containerPort: 8080, name: 'http' }],
          readinessProbe: probe,
          livenessProbe: probe,
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
        },
        { name: 'worker', image: APP_IMAGE, ports: [{ containerPort: 9090, name: 'grpc-metrics' }] },
      ],
    },
  };
}

/** A one-container pod with `annotations` (and `labels`, `spec` fields) over the plain app pod. */
function podWith(
  name: string,
  ns: string,
  opts: {
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    spec?: Record<string, any>;
    metadata?: Record<string, any>;
  },
): Record<string, any> {
  const pod = appPod(name, ns, opts.labels);
  return {
    ...pod,
    metadata: { ...pod.metadata, ...(opts.metadata ?? {}), annotations: opts.annotations ?? {} },
    spec: { ...pod.spec, ...(opts.spec ?? {}) },
  };
}

/**
 * The pods each release's injection is compared on: each one takes a path through a template that the others do
 * not (the comment says which). Sidecar pods get the golden's default templates (sidecar + its credential-volume);
 * the others select a template by annotation, as users and Istio's gateway charts do.
 */
/** A container of a pod (containers or init containers), its env var values and its mount names. */
function container(pod: Record<string, any>, name: string): Record<string, any> | undefined {
  return [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])].find((c: { name: string }) => c.name === name);
}
function envOf(pod: Record<string, any>, name: string): Record<string, any> {
  return Object.fromEntries(
    (container(pod, name)?.env ?? []).map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom]),
  );
}
const names = (xs: Array<{ name: string }> | undefined) => (xs ?? []).map((x) => x.name);

interface PodCase {
  name: string;
  pod: (ns: string) => Record<string, any>;
  /**
   * What Istio's own injection of the case shows for the release (`minor`: 29, 30, 31): proof that the case walks
   * the path it is there for, so that "no difference" means something.
   */
  shows: (t: ExecutionContext, pod: Record<string, any>, minor: number) => void;
  /** Also compared with istio-cni on (the validator instead of istio-init, the redirect settings as annotations). */
  cni?: { shows: (t: ExecutionContext, pod: Record<string, any>, minor: number) => void };
}

const POD_CASES: PodCase[] = [
  {
    name: 'rich',
    pod: richPod,
    shows: (t, pod) => {
      t.truthy(envOf(pod, 'istio-proxy').ISTIO_KUBE_APP_PROBERS, 'probes rewritten to the agent');
      t.deepEqual(
        container(pod, 'istio-proxy')?.lifecycle?.postStart?.exec?.command,
        ['pilot-agent', 'wait'],
        'the application held until the proxy is ready',
      );
      t.true(
        names(container(pod, 'istio-proxy')?.volumeMounts).includes('application-credentials'),
        "the golden's credential-volume template applied too",
      );
    },
    cni: {
      shows: (t, pod) => {
        t.deepEqual(names(pod.spec.initContainers), ['istio-validation'], 'istio-cni redirects; the init container only validates');
        t.is(
          pod.metadata.annotations['sidecar.istio.io/interceptionMode'],
          'REDIRECT',
          'the redirect settings as annotations for the CNI agent',
        );
      },
    },
  },
  // TPROXY: NET_ADMIN for the proxy, which runs as root; istio-init's -u and the validator's IDs (1.30: 1337).
  {
    name: 'tproxy',
    pod: (ns) => podWith('tproxy', ns, { annotations: { 'sidecar.istio.io/interceptionMode': 'TPROXY' } }),
    shows: (t, pod) =>
      t.true(container(pod, 'istio-proxy')?.securityContext?.capabilities?.add?.includes('NET_ADMIN'), 'the proxy gets NET_ADMIN'),
    cni: { shows: (t, pod) => t.is(container(pod, 'istio-validation')?.securityContext?.runAsUser, 1337) },
  },
  // The proxy as a native sidecar (init container, restartPolicy Always, preStop drain), in every tested release.
  // Only the sidecar template: the golden's credential-volume template adds a `containers` entry named istio-proxy,
  // which with a native sidecar makes a second, image-less istio-proxy (whichever config; the API server refuses it).
  {
    name: 'native-on',
    pod: (ns) =>
      podWith('native-on', ns, { annotations: { 'sidecar.istio.io/nativeSidecar': 'true', 'inject.istio.io/templates': 'sidecar' } }),
    shows: (t, pod) => t.true(names(pod.spec.initContainers).includes('istio-proxy'), 'istio-proxy is a native sidecar'),
  },
  {
    name: 'native-off',
    pod: (ns) =>
      podWith('native-off', ns, {
        annotations: { 'sidecar.istio.io/nativeSidecar': 'false', 'proxy.istio.io/config': '{"holdApplicationUntilProxyStarts": true}' },
      }),
    shows: (t, pod) => t.true(names(pod.spec.containers).includes('istio-proxy'), 'istio-proxy is a container'),
  },
  // The user's volumes and mounts for the proxy (JSON in annotations), after Istio's own.
  {
    name: 'user-volume',
    pod: (ns) =>
      podWith('user-volume', ns, {
        annotations: {
          'sidecar.istio.io/userVolume': JSON.stringify({
            'extra-certs': { secret: { secretName: 'extra', optional: true } },
            scratch: { emptyDir: {} },
          }),
          'sidecar.istio.io/userVolumeMount': JSON.stringify({
            'extra-certs': { mountPath: '/etc/extra', readOnly: true },
            scratch: { mountPath: '/scratch' },
          }),
        },
      }),
    shows: (t, pod) =>
      t.deepEqual(names(container(pod, 'istio-proxy')?.volumeMounts).slice(-2), ['extra-certs', 'scratch'], 'the user mounts come last'),
  },
  // No redirection and an init container of the pod's own: kept (Istio's older templates dropped the pod's init containers).
  {
    name: 'no-interception',
    pod: (ns) =>
      podWith('no-interception', ns, {
        annotations: { 'sidecar.istio.io/interceptionMode': 'NONE' },
        spec: { initContainers: [{ name: 'setup', image: APP_IMAGE }] },
      }),
    shows: (t, pod) => t.true(names(pod.spec.initContainers).includes('setup'), "the pod's init container kept"),
    cni: { shows: (t, pod) => t.deepEqual(names(pod.spec.initContainers), ['setup'], 'no validator without redirection') },
  },
  // Per-pod knobs: interfaces, ports, bootstrap override, log levels, the proxy image, the workload-name label,
  // low ports without root, core dumps (no enable-core-dump init container any more), a Deployment's pod (owner env).
  {
    name: 'knobs',
    pod: (ns) =>
      podWith('knobs-7d9f8c6b5-x2x4z', ns, {
        labels: { 'service.istio.io/workload-name': 'shop-api', 'pod-template-hash': '7d9f8c6b5' },
        metadata: {
          generateName: 'knobs-7d9f8c6b5-',
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'ReplicaSet',
              name: 'knobs-7d9f8c6b5',
              uid: '6c1b7a52-56a2-4d7e-9d7a-0a6a1f0f7a11',
              controller: true,
            },
          ],
        },
        annotations: {
          'traffic.sidecar.istio.io/kubevirtInterfaces': 'net1',
          'istio.io/reroute-virtual-interfaces': 'net2',
          'traffic.sidecar.istio.io/excludeInterfaces': 'eth9',
          'traffic.sidecar.istio.io/includeOutboundPorts': '443,8443',
          'traffic.sidecar.istio.io/excludeInboundPorts': '9999',
          'sidecar.istio.io/bootstrapOverride': 'my-bootstrap',
          'sidecar.istio.io/logLevel': 'debug',
          'sidecar.istio.io/agentLogLevel': 'default:debug',
          'sidecar.istio.io/proxyImage': 'example.com/istio/proxyv2:custom',
          'sidecar.istio.io/capNetBindService': 'true',
          'sidecar.istio.io/enableCoreDump': 'true',
          'sidecar.istio.io/proxyCPULimit': '2',
          'sidecar.istio.io/proxyMemoryLimit': '1Gi',
          'kubectl.kubernetes.io/default-container': 'app',
        },
      }),
    shows: (t, pod) => {
      const init = container(pod, 'istio-init');
      const env = envOf(pod, 'istio-proxy');
      t.false(names(pod.spec.initContainers).includes('enable-core-dump'), 'no enable-core-dump');
      t.is(init?.args?.[init.args.indexOf('-k') + 1], 'net2', 'reroute-virtual-interfaces wins');
      t.is(env.ISTIO_META_WORKLOAD_NAME, 'shop-api', 'the workload-name label');
      t.is(env.ISTIO_META_OWNER, `kubernetes://apis/apps/v1/namespaces/${pod.metadata.namespace}/deployments/knobs`);
      t.is(env.ISTIO_BOOTSTRAP_OVERRIDE, '/etc/istio/custom-bootstrap/custom_bootstrap.json');
      t.is(env.ISTIO_CPU_LIMIT?.resourceFieldRef?.divisor, '1', 'divisor "1" (istiod writes none as "0")');
      t.is(pod.metadata.annotations['kubectl.kubernetes.io/default-container'], 'app');
    },
    cni: {
      shows: (t, pod) => {
        t.is(
          pod.metadata.annotations['traffic.sidecar.istio.io/excludeInboundPorts'],
          '9999,15020',
          'the status port added for the CNI agent',
        );
        t.false(names(pod.spec.initContainers).includes('enable-core-dump'));
      },
    },
  },
  // A gateway Deployment's pod as Istio's gateway chart makes it: one container named istio-proxy, image `auto`.
  {
    name: 'gateway',
    pod: (ns) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'gateway',
        namespace: ns,
        labels: { app: 'ingress', istio: 'ingressgateway' },
        annotations: { 'inject.istio.io/templates': 'gateway' },
      },
      spec: { containers: [{ name: 'istio-proxy', image: 'auto', ports: [{ containerPort: 8080, name: 'http' }] }] },
    }),
    shows: (t, pod) => {
      t.not(container(pod, 'istio-proxy')?.image, 'auto', 'image auto replaced');
      t.true(container(pod, 'istio-proxy')?.args?.includes('router'));
    },
  },
  // A gateway pod with a helper container: kubectl's default container annotations (Istio's older templates: only for exactly one).
  {
    name: 'gateway-two',
    pod: (ns) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'gateway-two',
        namespace: ns,
        labels: { app: 'egress' },
        annotations: { 'inject.istio.io/templates': 'gateway', 'sidecar.istio.io/bootstrapOverride': 'gw-bootstrap' },
      },
      spec: {
        containers: [
          { name: 'istio-proxy', image: 'auto' },
          { name: 'helper', image: APP_IMAGE },
          { name: 'helper2', image: APP_IMAGE },
        ],
      },
    }),
    shows: (t, pod) => {
      t.is(pod.metadata.annotations['kubectl.kubernetes.io/default-container'], 'helper', 'default container for more than one');
      t.true(!!envOf(pod, 'istio-proxy').ISTIO_BOOTSTRAP_OVERRIDE, 'bootstrap override on gateways');
    },
  },
  {
    name: 'grpc-agent',
    pod: (ns) => podWith('grpc-agent', ns, { annotations: { 'inject.istio.io/templates': 'grpc-agent' } }),
    shows: (t, pod) => t.is(envOf(pod, 'istio-proxy').DISABLE_ENVOY, 'true'),
  },
  // Without a status port the grpc-agent template also leaves out the agent's resources and mounts (as Istio's does).
  {
    name: 'grpc-agent-no-status',
    pod: (ns) =>
      podWith('grpc-agent-no-status', ns, {
        annotations: { 'inject.istio.io/templates': 'grpc-agent', 'status.sidecar.istio.io/port': '0' },
      }),
    shows: (t, pod) => t.is(container(pod, 'istio-proxy')?.volumeMounts, undefined, 'no agent mounts without a status port'),
  },
  {
    name: 'grpc-simple',
    pod: (ns) => podWith('grpc-simple', ns, { annotations: { 'inject.istio.io/templates': 'grpc-simple' } }),
    shows: (t, pod) => t.true(names(pod.spec.initContainers).includes('grpc-bootstrap-init')),
  },
];

/** The pod as the API server would store it (server-side dry run in a namespace no injector selects). */
async function stored(pod: Record<string, any>, ns: string): Promise<Record<string, any>> {
  const c = client();
  try {
    const body = { ...pod, metadata: { ...pod.metadata, namespace: ns } };
    const out = (await c.request<Record<string, any>>('POST', `/api/v1/namespaces/${ns}/pods`, { body, query: { dryRun: 'All' } }))!;
    const { uid: _u, creationTimestamp: _c, managedFields: _m, ...metadata } = out.metadata;
    return { ...out, metadata: { ...metadata, namespace: pod.metadata.namespace } };
  } finally {
    c.close();
  }
}

/** The API server adds the ServiceAccount token volume under a random name. */
function sameTokenVolumeName(pod: Record<string, any>): Record<string, any> {
  return JSON.parse(JSON.stringify(pod).replace(/kube-api-access-[a-z0-9]{5}/g, 'kube-api-access-xxxxx')) as Record<string, any>;
}

for (const release of testedReleases()) {
  test.serial(
    `${release}: a pod in a namespace labelled istio.io/rev=<revision> is injected by that revision's istiod through the API server`,
    async (t) => {
      const { inst, ours, istios } = await fixture(t, release);
      const ns = await namespace('rev', { 'istio.io/rev': inst.revision });
      const c = client();
      t.teardown(() => c.close());
      const before = {
        ours: await counter(ours, 'sidecar_injection_success_total'),
        istios: await counter(istios, 'sidecar_injection_success_total'),
      };
      const pod = await c.request<Record<string, any>>('POST', `/api/v1/namespaces/${ns}/pods`, { body: appPod('app', ns) });
      const names = containerNames(pod!);
      t.true([...names.containers, ...names.initContainers].includes('istio-proxy'), JSON.stringify(names));
      t.true(names.initContainers.includes('istio-init'), JSON.stringify(names));
      t.is(JSON.parse(pod!.metadata.annotations?.['sidecar.istio.io/status'] ?? '{}').revision, inst.revision, 'injected for the revision');
      t.is(await counter(ours, 'sidecar_injection_success_total'), before.ours + 1, 'the revision’s istiod injected it');
      t.is(await counter(istios, 'sidecar_injection_success_total'), before.istios, 'the istiod that serves no Service was not called');
    },
  );

  const variants = POD_CASES.flatMap((c) => [{ c, cni: false, shows: c.shows }, ...(c.cni ? [{ c, cni: true, shows: c.cni.shows }] : [])]);
  for (const { c, cni, shows } of variants) {
    const key = cni ? `${c.name} (istio-cni)` : c.name;
    test.serial(
      `${release}: pod "${key}" injected with our injector config and with Istio's own (sidecar_template golden) by the same istiod is the same pod`,
      async (t) => {
        const { inst } = await fixture(t, release);
        const { ours, istios } = cni ? await cniFixture(t, release) : await fixture(t, release);
        const { ns, plain } = await comparisonNamespaces(inst);
        const tls = { caPem: await meshRoot(inst), serverName: `${inst.istiod}.${inst.namespace}.svc` };
        // What the API server sends a webhook: the pod with its defaults and the ServiceAccount admission applied.
        const pod = await stored(c.pod(ns), plain);
        const review = admissionReview(pod, ns, POD);
        const [a, b] = await Promise.all([
          postReview(ours.ports.https, '/inject', review, tls),
          postReview(istios.ports.https, '/inject', review, tls),
        ]);
        t.true(a.allowed, `our config: ${JSON.stringify(a.status)}`);
        t.true(b.allowed, `Istio's config: ${JSON.stringify(b.status)}`);
        t.truthy(b.patch, "Istio's config injected nothing: the case tests nothing");
        const ourPod = patched(pod, a);
        const istioPod = patched(pod, b);
        shows(t, istioPod, Number(release.split('.')[1]));
        const show = (diff: ReturnType<typeof jsonDiff>) =>
          diff.map((d) => `${d.path}\n    ours:  ${JSON.stringify(d.left)}\n    Istio: ${JSON.stringify(d.right)}`).join('\n') || '(none)';
        t.log(`as patched by istiod: ${show(jsonDiff(ourPod, istioPod))}`);
        // What the API server stores (defaults applied, e.g. a volume without a source is an emptyDir): what users get.
        // Metadata the injection writes (labels, annotations) and the spec; not the API server's own (uid, times).
        const relevant = (p: Record<string, any>) => ({ labels: p.metadata.labels, annotations: p.metadata.annotations, spec: p.spec });
        const diff = jsonDiff(
          relevant(sameTokenVolumeName(await stored(ourPod, plain))),
          relevant(sameTokenVolumeName(await stored(istioPod, plain))),
        );
        t.log(
          `${diff.length} difference(s) between the pod injected with our config and with Istio's (${release}, ${key}), as stored:\n${show(diff)}`,
        );
        t.deepEqual(
          diff.map((d) => d.path),
          KNOWN_DIFFERENCES[release]?.[key] ?? [],
          'differences that are not in KNOWN_DIFFERENCES (or listed ones that went away)',
        );
      },
    );
  }
}
