// The templates istiod renders into whole objects rather than into a pod: waypoint, kube-gateway and agentgateway.
// istiod's Gateway API deployment controller runs them for each Gateway it manages and applies what they make
// (ServiceAccount, Deployment, Service, HPA, PDB). Per tested release, that release's own controller code (compiled
// by test/istio/build.sh with a small harness, gateway-render.test) renders the same Gateways twice, offline: once
// from our injector config and once from Istio's (the `sidecar_template` live golden), both for istio-system without a
// revision, with the golden's hub and tag. The objects must be the same, field for field and in list order.
//
// Offline because through the API server the comparison cannot be made: the objects are applied by the leader of
// the revision's controllers, which two istiods of one revision (ours, Istio's config) would fight over, and the
// test cluster has no Gateway API CRDs. What runs is the release's own code: the template functions, the template
// input (ports from listeners, names, labels, infrastructure metadata), parametersRef overlays and the apply
// safeguards; only the API server behind it is a fake one, and the objects are compared as istiod sends them.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import { jsonDiff } from '../../istio/admission.js';
import { gatewayRenderBinary } from '../../istio/binaries.js';
import { referenceDir, testedReleases } from '../../istio/releases.js';
import { renderInput } from '../../golden/compare.js';

/** The Gateways (and the ConfigMap one of them takes parameters from) both configs are rendered for. */
const INPUTS: Array<Record<string, any>> = [
  // A Gateway API gateway with two listeners and the Gateway's own labels and annotations.
  {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: {
      name: 'ingress',
      namespace: 'apps',
      uid: '0b6f7d8e-1a2b-4c3d-8e9f-000000000001',
      labels: { team: 'shop' },
      annotations: { owner: 'shop-team' },
    },
    spec: {
      gatewayClassName: 'istio',
      listeners: [
        { name: 'http', port: 80, protocol: 'HTTP' },
        {
          name: 'https',
          port: 443,
          protocol: 'HTTPS',
          hostname: 'shop.example.com',
          tls: { mode: 'Terminate', certificateRefs: [{ name: 'shop-cert' }] },
        },
      ],
    },
  },
  // Infrastructure metadata (with a network: the gateway asks for that network's view), an address, and
  // parameters from a ConfigMap that ask for an HPA and a PDB (templates from 1.30 on).
  {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'edge-options', namespace: 'apps' },
    data: {
      deployment: 'spec:\n  replicas: 2\n',
      horizontalPodAutoscaler: 'spec:\n  minReplicas: 2\n  maxReplicas: 5\n',
      podDisruptionBudget: 'spec:\n  minAvailable: 1\n',
    },
  },
  {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'edge', namespace: 'apps', uid: '0b6f7d8e-1a2b-4c3d-8e9f-000000000002' },
    spec: {
      gatewayClassName: 'istio',
      addresses: [{ value: '10.9.8.7' }],
      infrastructure: {
        labels: { tier: 'edge', 'topology.istio.io/network': 'net2' },
        annotations: { note: 'from-infrastructure' },
        parametersRef: { group: '', kind: 'ConfigMap', name: 'edge-options' },
      },
      listeners: [{ name: 'tcp', port: 9000, protocol: 'TCP' }],
    },
  },
  // An ambient waypoint.
  {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: {
      name: 'waypoint',
      namespace: 'apps',
      uid: '0b6f7d8e-1a2b-4c3d-8e9f-000000000003',
      labels: { 'istio.io/waypoint-for': 'service' },
    },
    spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
  },
  // An east-west gateway (the waypoint template with the east-west controller label and a network).
  {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: {
      name: 'eastwest',
      namespace: 'istio-system',
      uid: '0b6f7d8e-1a2b-4c3d-8e9f-000000000004',
      labels: { 'topology.istio.io/network': 'net1' },
    },
    spec: {
      gatewayClassName: 'istio-east-west',
      listeners: [
        {
          name: 'mesh',
          port: 15008,
          protocol: 'HBONE',
          tls: { mode: 'Terminate', options: { 'gateway.istio.io/tls-terminate-mode': 'ISTIO_MUTUAL' } },
        },
      ],
    },
  },
  // An agentgateway (the template from 1.30 on: 1.29's istiod knows the class but Istio's 1.29 chart, like our
  // 1.29 render, has no template for it, so the controller only logs an error; left out for 1.29 below).
  {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'agent', namespace: 'apps', uid: '0b6f7d8e-1a2b-4c3d-8e9f-000000000005' },
    spec: { gatewayClassName: 'istio-agentgateway', listeners: [{ name: 'http', port: 8080, protocol: 'HTTP' }] },
  },
];

interface Applied {
  resource: string;
  object: Record<string, any>;
}
/** Objects the controller applied, by `<namespace>/<gateway>`, in the order it applied them. */
type Rendered = Record<string, Applied[]>;

/** Runs a release's gateway-render.test on one injector config. */
async function renderGateways(release: string, dir: string, who: string, config: string, values: string): Promise<Rendered> {
  const bin = await gatewayRenderBinary(release);
  const files = {
    config: path.join(dir, `${who}-config`),
    values: path.join(dir, `${who}-values`),
    gateways: path.join(dir, 'gateways.yaml'),
    out: path.join(dir, `${who}.json`),
  };
  fs.writeFileSync(files.config, config);
  fs.writeFileSync(files.values, values);
  const minor = Number(release.split('.')[1]);
  const inputs = INPUTS.filter((o) => minor >= 30 || o.spec?.gatewayClassName !== 'istio-agentgateway');
  fs.writeFileSync(files.gateways, inputs.map((o) => yaml.dump(o, { lineWidth: -1 })).join('---\n'));
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    ISTIO_OPERATOR_INJECTOR_CONFIG: files.config,
    ISTIO_OPERATOR_INJECTOR_VALUES: files.values,
    ISTIO_OPERATOR_GATEWAYS: files.gateways,
    ISTIO_OPERATOR_RENDER_OUT: files.out,
  };
  const child = spawn(bin, ['-test.run', '^TestOperatorRender$', '-test.count=1'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) throw new Error(`${bin} (${who}'s config) exited ${code}:\n${log.split('\n').slice(-40).join('\n')}`);
  // The controller logs template errors and goes on without the objects: an error line is a failure.
  const errors = log.split('\n').filter((l) => /\terror\t/.test(l));
  if (errors.length) throw new Error(`istio ${release}'s deployment controller on ${who}'s config logged errors:\n${errors.join('\n')}`);
  return JSON.parse(fs.readFileSync(files.out, 'utf8')) as Rendered;
}

interface Fixture {
  ours: Rendered;
  istio: Rendered;
}
const fixtures = new Map<string, Promise<Fixture>>();

/** Our injector ConfigMap and Istio's for the `sidecar_template` case, each rendered into objects by the release. */
function fixture(t: ExecutionContext, release: string): Promise<Fixture> {
  t.timeout(300_000, `rendering Gateways with istio ${release}'s deployment controller`);
  let f = fixtures.get(release);
  if (!f) {
    f = (async () => {
      // What the release's own istioctl renders (golden/live): Istio's vendored golden of the case comes from its
      // test's chart snapshot, which lags some releases' templates.
      const golden = path.join(referenceDir(release), 'golden', 'live');
      const docs = yaml.loadAll(fs.readFileSync(path.join(golden, 'outputs', 'sidecar_template.golden.yaml'), 'utf8')) as Array<Record<
        string,
        any
      > | null>;
      const theirs = docs.find((d) => d?.kind === 'ConfigMap' && d.metadata?.name === 'istio-sidecar-injector');
      if (!theirs) throw new Error(`${golden}/outputs/sidecar_template.golden.yaml has no istio-sidecar-injector ConfigMap`);
      const global = (JSON.parse(theirs.data.values as string) as { global: { hub: string; tag: string } }).global;
      const input = [
        { name: 'sidecar_template.yaml', text: fs.readFileSync(path.join(golden, 'inputs', 'sidecar_template.yaml'), 'utf8') },
      ];
      const rendered = await renderInput({ files: input, sets: [`hub=${global.hub}`, `tag=${global.tag}`] }, release);
      const ours = rendered.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'istio-sidecar-injector') as unknown as
        { data: Record<string, string> } | undefined;
      if (!ours) throw new Error('our render of sidecar_template has no istio-sidecar-injector ConfigMap');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gateway-render-${release}-`));
      try {
        const [o, i] = await Promise.all([
          renderGateways(release, dir, 'ours', ours.data.config!, ours.data.values!),
          renderGateways(release, dir, 'istio', theirs.data.config as string, theirs.data.values as string),
        ]);
        return { ours: o, istio: i };
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    })();
    fixtures.set(release, f);
  }
  return f;
}

/** Differences between our objects and Istio's that are known and justified, per release and Gateway. */
// istioctl 1.31.0-rc.0's waypoint and kube-gateway templates write the workload-socket volume as `emptyDir:` with no
// value, so istiod 1.31.0-rc.0 deploys a volume without a source; ours keep `emptyDir: {}`, as 1.30's templates and
// Istio's own 1.31 test snapshot have it.
const WORKLOAD_SOCKET = ['[1].object.spec.template.spec.volumes[name=workload-socket].emptyDir'];
const KNOWN_DIFFERENCES: Record<string, Record<string, string[]>> = {
  '1.31.0-rc.0': {
    'apps/ingress': WORKLOAD_SOCKET,
    'apps/edge': WORKLOAD_SOCKET,
    'apps/waypoint': WORKLOAD_SOCKET,
    'istio-system/eastwest': WORKLOAD_SOCKET,
  },
};

const byKind = (objs: Applied[] | undefined, kind: string) => (objs ?? []).find((o) => o.object.kind === kind)?.object;
const envOf = (deployment: Record<string, any> | undefined): Record<string, unknown> =>
  Object.fromEntries(
    (deployment?.spec?.template?.spec?.containers?.[0]?.env ?? []).map((e: { name: string; value?: string; valueFrom?: unknown }) => [
      e.name,
      e.value ?? e.valueFrom,
    ]),
  );

/**
 * Per Gateway: what Istio's own render shows for the release (`minor`), so that "no difference" means the path was
 * walked. `expected`: the kinds it applies, in order.
 */
const GATEWAYS: Array<{
  key: string;
  kinds: (minor: number) => string[];
  shows: (t: ExecutionContext, objs: Applied[], minor: number) => void;
}> = [
  {
    key: 'apps/ingress',
    kinds: () => ['ServiceAccount', 'Deployment', 'Service'],
    shows: (t, objs) => {
      // Every tested release's templates (istioctl 1.29.6's too: golden/live) own the objects by Gateway API v1.
      t.is(byKind(objs, 'Deployment')?.metadata.ownerReferences[0].apiVersion, 'gateway.networking.k8s.io/v1');
      t.deepEqual(
        byKind(objs, 'Service')?.spec.ports.map((p: { appProtocol: string }) => p.appProtocol),
        ['tcp', 'http', 'https'],
      );
    },
  },
  {
    key: 'apps/edge',
    kinds: () => ['ServiceAccount', 'Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget'],
    shows: (t, objs) => {
      t.is(envOf(byKind(objs, 'Deployment')).ISTIO_META_REQUESTED_NETWORK_VIEW, 'net2');
      t.is(byKind(objs, 'Deployment')?.spec.replicas, 2, 'the deployment overlay of the parameters applied');
      t.is(byKind(objs, 'Service')?.spec.loadBalancerIP, '10.9.8.7');
    },
  },
  {
    key: 'apps/waypoint',
    kinds: () => ['ServiceAccount', 'Deployment', 'Service'],
    shows: (t, objs) => {
      t.is(byKind(objs, 'Deployment')?.spec.template.spec.terminationGracePeriodSeconds, undefined);
      t.true(!!envOf(byKind(objs, 'Deployment')).TRUST_DOMAIN);
    },
  },
  {
    key: 'istio-system/eastwest',
    kinds: () => ['ServiceAccount', 'Deployment', 'Service'],
    shows: (t, objs) => {
      // The pods' label (the controller sets the Deployment's own to its controller whatever the template says).
      t.is(byKind(objs, 'Deployment')?.spec.template.metadata.labels['gateway.istio.io/managed'], 'istio.io-eastwest-controller');
      t.is(envOf(byKind(objs, 'Deployment')).ISTIO_META_REQUESTED_NETWORK_VIEW, 'net1');
    },
  },
  {
    key: 'apps/agent',
    kinds: (minor) => (minor >= 30 ? ['ServiceAccount', 'Deployment', 'Service'] : []),
    shows: (t, objs, minor) => {
      if (minor < 30) return;
      t.is(byKind(objs, 'Deployment')?.spec.template.spec.containers[0].name, 'agentgateway');
      t.is(!!envOf(byKind(objs, 'Deployment')).CA_ADDRESS, minor >= 30);
    },
  },
];

for (const release of testedReleases()) {
  const minor = Number(release.split('.')[1]);
  for (const g of GATEWAYS) {
    test(`${release}: the objects istiod deploys for Gateway ${g.key} are the same from our injector config and from Istio's`, async (t) => {
      const { ours, istio } = await fixture(t, release);
      const kinds = (objs: Applied[] | undefined) => (objs ?? []).map((o) => o.object.kind as string);
      t.deepEqual(kinds(istio[g.key]), g.kinds(minor), "the kinds Istio's config makes");
      g.shows(t, istio[g.key] ?? [], minor);
      t.deepEqual(kinds(ours[g.key]), kinds(istio[g.key]), 'the same objects, in the same order');
      const diff = jsonDiff(ours[g.key] ?? [], istio[g.key] ?? []);
      t.log(
        `${diff.length} difference(s) (${release}, ${g.key}):\n${diff.map((d) => `${d.path}\n    ours:  ${JSON.stringify(d.left)}\n    Istio: ${JSON.stringify(d.right)}`).join('\n') || '(none)'}`,
      );
      t.deepEqual(
        diff.map((d) => d.path),
        KNOWN_DIFFERENCES[release]?.[g.key] ?? [],
        'differences that are not in KNOWN_DIFFERENCES (or listed ones that went away)',
      );
    });
  }
  test(`${release}: Istio's config deploys nothing for other Gateways than these`, async (t) => {
    const { ours, istio } = await fixture(t, release);
    t.deepEqual(
      Object.keys(istio).sort(),
      GATEWAYS.map((g) => g.key)
        .filter((k) => istio[k])
        .sort(),
    );
    t.deepEqual(Object.keys(ours).sort(), Object.keys(istio).sort());
  });
}
