// Issue #18 item 5: `precheck` and `status` against the real API server: a cluster too old for the release (the
// version faked with --kubernetes-version, the rest real), a ServiceAccount without rights, an istioctl-style
// install already there, Gateway API CRDs absent then present; `status -o json` with an injected pod.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import { cli, iopFile } from './_util.js';
import { createNamespace, kubectl, testKubeconfig, uniqueName } from '../helpers/cluster.js';

const BLOCKED = 3;

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input !== undefined ? { input } : {});
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const precheckJson = async (args: string[], opts: Parameters<typeof cli>[1] = {}) => {
  const r = await cli(['precheck', ...args, '-o', 'json'], opts);
  return { ...r, report: r.stdout ? JSON.parse(r.stdout) : undefined };
};
const check = (report: any, name: string) => report.checks.filter((c: any) => c.name === name);

test('a cluster too old for the release (version faked) is a blocker with the release range as the reason; a supported one is not', async (t) => {
  const ns = await createNamespace(t, 'pc-old');
  const iop = iopFile(t, ns, 'minimal');
  const old = await cli(['precheck', '-f', iop.file, '--kubernetes-version', '1.25.3']);
  t.is(old.code, BLOCKED, old.stderr);
  t.regex(
    old.stdout,
    /✘ Kubernetes version: Istio 1\.30 needs Kubernetes 1\.32 or newer; the cluster runs 1\.25\.3 \(version given by --kubernetes-version; the cluster reports v1\.\d+/,
  );
  t.regex(old.stdout, /→ install an Istio release whose range includes it \(this one: 1\.32-1\.36\)/);
  t.regex(old.stdout, /blocker\(s\)/);
  const fine = await precheckJson(['-f', iop.file, '--kubernetes-version', '1.33']);
  t.is(fine.code, 0, fine.stdout + fine.stderr);
  t.is(check(fine.report, 'Kubernetes version')[0].severity, 'ok');
  t.is(check(fine.report, 'API server')[0].severity, 'ok');
  t.is(check(fine.report, 'Permissions')[0].severity, 'ok', JSON.stringify(check(fine.report, 'Permissions')));
  // 1.29 supports older clusters: the same faked version passes for it.
  const r129 = await precheckJson(['-f', iop.file, '--kubernetes-version', '1.31', '--release', '1.29']);
  t.is(check(r129.report, 'Kubernetes version')[0].severity, 'ok', JSON.stringify(r129.report));
});

test('missing permissions: a ServiceAccount without rights gets a blocker listing what it may not do', async (t) => {
  const ns = await createNamespace(t, 'pc-rbac');
  await ok(['create', 'serviceaccount', 'nobody', '-n', ns]);
  const token = (await ok(['create', 'token', 'nobody', '-n', ns, '--duration=10m'])).trim();
  const admin = yaml.load(fs.readFileSync(testKubeconfig(), 'utf8')) as any;
  const kc = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pc-')), 'kubeconfig');
  fs.writeFileSync(kc, yaml.dump({ ...admin, users: [{ name: admin.users[0].name, user: { token } }] }));
  const iop = iopFile(t, ns, 'minimal');
  const r = await precheckJson(['-f', iop.file], { kubeconfig: kc });
  t.is(r.code, BLOCKED, r.stderr);
  const perm = check(r.report, 'Permissions')[0];
  t.is(perm.severity, 'blocker');
  t.regex(perm.message, /user "admin" lacks \d+ of the \d+ permissions this install needs/);
  t.true(perm.details.includes(`create deployments.apps in namespace ${ns}`), perm.details.join('\n'));
  t.true(perm.details.includes('create clusterroles.rbac.authorization.k8s.io (cluster-wide)'), perm.details.join('\n'));
  t.true(perm.details.includes('create customresourcedefinitions.apiextensions.k8s.io (cluster-wide)'));
});

/** An istiod as `istioctl install` leaves it: Istio's owner labels, no inventory of ours. */
async function istioctlStyleInstall(t: ExecutionContext, ns: string, rev: string): Promise<void> {
  const labels = {
    app: 'istiod',
    'istio.io/rev': rev,
    'operator.istio.io/component': 'Pilot',
    'install.operator.istio.io/owning-resource': 'unknown',
    'install.operator.istio.io/owning-resource-namespace': ns,
    'operator.istio.io/version': '1.29.6',
  };
  const dep = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `istiod-${rev}`, namespace: ns, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'istiod', 'istio.io/rev': rev } },
      template: { metadata: { labels }, spec: { containers: [{ name: 'discovery', image: 'docker.io/istio/pilot:1.29.6' }] } },
    },
  };
  await ok(['apply', '--field-manager=istio-operator', '-f', '-'], JSON.stringify(dep));
  t.teardown(() => kubectl(['delete', 'deployment', '-n', ns, `istiod-${rev}`, '--ignore-not-found']).then(() => undefined));
}

test('an existing istioctl-style install of the same revision is a blocker naming istioctl; another revision is only noted', async (t) => {
  const ns = await createNamespace(t, 'pc-istioctl');
  const rev = `pc${uniqueName('x').slice(2, 8)}`;
  await istioctlStyleInstall(t, ns, rev);
  const same = iopFile(t, ns, 'minimal', {}, rev);
  const r = await cli(['precheck', '-f', same.file]);
  t.is(r.code, BLOCKED, r.stderr);
  t.regex(
    r.stdout,
    new RegExp(
      `✘ Existing control planes: istiod ${ns}/istiod-${rev} \\(revision ${rev}, Istio 1\\.29\\.6\\) installed by istioctl install has the revision this install would write`,
    ),
  );
  t.regex(r.stdout, /→ install as a canary with another revision \(--revision\), or uninstall it with istioctl uninstall first/);
  const other = await precheckJson(['-f', same.file, '--revision', `${rev}-b`]);
  const planes = check(other.report, 'Existing control planes').filter((c: any) => c.message.includes(`${ns}/istiod-${rev}`));
  t.is(planes.length, 1);
  t.is(planes[0].severity, 'info');
  t.regex(planes[0].message, /another revision, it can run beside this one/);
});

test('status -o json lists an istioctl-style install with its proxies per revision and their versions', async (t) => {
  const ns = await createNamespace(t, 'st-json');
  const rev = `st${uniqueName('x').slice(2, 8)}`;
  await istioctlStyleInstall(t, ns, rev);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'app',
      namespace: ns,
      labels: { 'istio.io/rev': rev },
      annotations: { 'sidecar.istio.io/status': JSON.stringify({ revision: rev, containers: ['istio-proxy'] }) },
    },
    spec: {
      containers: [
        { name: 'app', image: 'example/app:1' },
        { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.29.6' },
      ],
    },
  };
  await ok(['apply', '-f', '-'], JSON.stringify(pod));
  const r = await cli(['status', '-o', 'json']);
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const mine = report.installs.find((i: any) => i.revision === rev);
  t.truthy(mine, r.stdout);
  t.like(mine, { installer: 'istioctl', owner: 'istioctl install', version: '1.29.6', release: '1.29', istioNamespace: ns, tags: [] });
  t.deepEqual(mine.proxies, { revision: rev, versions: { '1.29.6': 1 }, pods: 1 });
  t.true(['HEALTHY', 'RECONCILING'].includes(mine.health));
  const asYaml = await cli(['status', '-o', 'yaml']);
  t.is(asYaml.code, 0);
  t.deepEqual((yaml.load(asYaml.stdout) as any).installs.find((i: any) => i.revision === rev).proxies, mine.proxies);
  const text = await cli(['status']);
  t.regex(text.stdout, new RegExp(`istioctl install\\s+${rev}\\s+1\\.29\\s+1\\.29\\.6\\s+\\S+\\s+${ns}\\s+-\\s+1 \\(1×1\\.29\\.6\\)`));
});

const gatewayCrd = (plural: string, kind: string) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: {
    name: `${plural}.gateway.networking.k8s.io`,
    annotations: {
      'api-approved.kubernetes.io': 'https://github.com/kubernetes-sigs/gateway-api/pull/3328',
      'gateway.networking.k8s.io/bundle-version': 'v1.3.0',
      'gateway.networking.k8s.io/channel': 'standard',
    },
  },
  spec: {
    group: 'gateway.networking.k8s.io',
    names: { plural, kind, singular: kind.toLowerCase(), listKind: `${kind}List` },
    scope: plural === 'gatewayclasses' ? 'Cluster' : 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
    ],
  },
});

test.serial('Gateway API CRDs: absent is reported as such, present with their bundle version and channel', async (t) => {
  const ns = await createNamespace(t, 'pc-gwapi');
  const iop = iopFile(t, ns, 'minimal');
  const before = await precheckJson(['-f', iop.file]);
  const absent = check(before.report, 'Gateway API CRDs')[0];
  t.is(absent.severity, 'info');
  t.regex(absent.message, /^absent: /);
  const crds = [
    gatewayCrd('gatewayclasses', 'GatewayClass'),
    gatewayCrd('gateways', 'Gateway'),
    gatewayCrd('httproutes', 'HTTPRoute'),
    gatewayCrd('grpcroutes', 'GRPCRoute'),
    gatewayCrd('referencegrants', 'ReferenceGrant'),
  ];
  t.teardown(() =>
    kubectl(['delete', 'crd', ...crds.map((c) => c.metadata.name), '--ignore-not-found', '--wait=false']).then(() => undefined),
  );
  await ok(['apply', '-f', '-'], crds.map((c) => JSON.stringify(c)).join('\n'));
  const after = await precheckJson(['-f', iop.file]);
  const present = check(after.report, 'Gateway API CRDs')[0];
  t.is(present.severity, 'ok', JSON.stringify(present));
  t.is(present.message, 'present: bundle version v1.3.0, channel standard');
  await ok(['delete', 'crd', 'grpcroutes.gateway.networking.k8s.io']);
  const partial = check((await precheckJson(['-f', iop.file])).report, 'Gateway API CRDs')[0];
  t.is(partial.severity, 'warning');
  t.regex(partial.message, /missing grpcroutes/);
});

test('precheck: an unreachable API server is one blocker, and nothing else is tried', async (t) => {
  const ns = uniqueName('pc-down');
  const iop = iopFile(t, ns, 'minimal');
  const kc = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pc-')), 'kubeconfig');
  fs.writeFileSync(
    kc,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [{ name: 'u', user: { token: 'x' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  const r = await precheckJson(['-f', iop.file], { kubeconfig: kc });
  t.is(r.code, BLOCKED);
  t.deepEqual(
    r.report.checks.map((c: any) => [c.name, c.severity]),
    [['API server', 'blocker']],
  );
  t.regex(r.report.checks[0].message, /cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:1: connection refused/);
});
