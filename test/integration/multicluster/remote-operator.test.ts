// Issue #19, Build 3: the operator in a remote cluster. An IstioOperator with profile `remote` installs no istiod:
// the cluster's injector webhook and its `istiod` Service lead to a primary's istiod elsewhere. It is HEALTHY when
// those are in place (no Deployment is waited for), its status names the primary, the cluster and the injection
// target, and a remote that leads nowhere, or whose objects the API server refuses, is not HEALTHY and says why.
// kstatus (the real library) must agree with each state.
//
// On the shared cluster each test has its own Istio namespace and revision, so its cluster-wide webhooks select
// nothing of another test; the last test runs a default-revision remote in istio-system, as Istio's guides install
// one, on a second control plane of its own.
import test from 'ava';
import { argoHealth } from '../../helpers/argo-health.js';
import { kstatus } from '../../kstatus/kstatus.js';
import { createNamespace, kubectl, uniqueName, waitFor } from '../helpers/cluster.js';
import { startSecondCluster } from '../helpers/secondcluster.js';
import {
  CRD_FILE,
  deleteIop,
  ensureCRD,
  getJson,
  iopYaml,
  kubectlOk,
  ownedObjects,
  startOperator,
  waitForStatus,
} from '../controller/harness.js';

test.before(async () => {
  await ensureCRD();
  kstatus([]); // build the reader first (cached): a failure to build fails here, saying why
});

const PRIMARY = '192.0.2.10'; // TEST-NET-1: an address no test machine routes, as a primary in another network
const cond = (iop: any, type: string) => iop.status.conditions.find((c: any) => c.type === type);
const remoteValues = (clusterName: string, extra: Record<string, any> = {}) => ({
  global: { multiCluster: { clusterName }, network: 'net2', meshID: 'mesh1', ...(extra.global ?? {}) },
  istiodRemote: { ...(extra.istiodRemote ?? {}) },
});

test.serial(
  "a remote reaches HEALTHY with no istiod of its own; its status names the primary; the primary's caBundle is kept; an edit moves it",
  async (t) => {
    t.timeout(240_000);
    const ns = await createNamespace(t, 'rem-op');
    const istioNs = await createNamespace(t, 'rem-istio');
    const rev = uniqueName('r').slice(0, 12);
    const { mgr } = await startOperator(t, { namespaces: [ns] });
    const path = '/inject/cluster/c2/net/net2';
    const spec = {
      profile: 'remote',
      namespace: istioNs,
      revision: rev,
      values: remoteValues('c2', { global: { remotePilotAddress: PRIMARY }, istiodRemote: { injectionPath: path } }),
    };
    await kubectlOk(['apply', '-f', '-'], iopYaml('remote', ns, spec));
    const healthy = await waitForStatus(ns, 'remote', 'HEALTHY');

    // The status says which primary, which cluster, and where injection goes.
    t.deepEqual(healthy.status.remote, {
      clusterName: 'c2',
      network: 'net2',
      meshID: 'mesh1',
      remotePilotAddress: PRIMARY,
      injection: `Service ${istioNs}/istiod-${rev}${path}`,
    });
    t.regex(
      healthy.status.message,
      new RegExp(
        `^all components are installed and ready; remote cluster c2 \\(network net2, mesh mesh1\\) served by the primary's istiod at ${PRIMARY.replace(/\./g, '\\.')}, no istiod of its own`,
      ),
    );
    t.is(cond(healthy, 'Ready').status, 'True');
    t.regex(cond(healthy, 'Ready').message, /remote cluster c2/);
    t.deepEqual(Object.keys(healthy.status.componentStatus).sort(), ['Base', 'Pilot']);
    t.is(healthy.status.componentStatus.Pilot.status, 'HEALTHY');
    t.is(kstatus([healthy])[0]!.status, 'Current', kstatus([healthy])[0]!.message);
    t.is(argoHealth(healthy).status, 'Healthy');

    // What a remote needs is there, and no istiod.
    t.is((await kubectlOk(['get', 'deployments', '-n', istioNs, '-o', 'name'])).trim(), '', 'no Deployment in the Istio namespace');
    t.false(
      (await ownedObjects('remote', ns)).some((o) => o.startsWith('deployment')),
      'no Deployment owned anywhere',
    );
    const ep = await getJson(['endpointslice', '-n', istioNs, `istiod-${rev}`]);
    t.deepEqual(ep.endpoints[0].addresses, [PRIMARY]);
    t.is(ep.metadata.labels['kubernetes.io/service-name'], `istiod-${rev}`);
    const hookName = `istio-sidecar-injector-${rev}-${istioNs}`;
    const hook = await getJson(['mutatingwebhookconfiguration', hookName]);
    t.deepEqual(hook.webhooks[0].clientConfig.service, { name: `istiod-${rev}`, namespace: istioNs, path, port: 443 });

    // Once it has this cluster's remote secret, the primary's istiod writes the injector's caBundle here. The operator
    // neither reconciles on that nor takes it away on a full resync, and stays HEALTHY.
    const caBundle = Buffer.from('-----BEGIN CERTIFICATE-----\nprimary root\n-----END CERTIFICATE-----\n').toString('base64');
    const patch = hook.webhooks.map((_: unknown, i: number) => ({
      op: 'add',
      path: `/webhooks/${i}/clientConfig/caBundle`,
      value: caBundle,
    }));
    await kubectlOk([
      'patch',
      'mutatingwebhookconfiguration',
      hookName,
      '--type=json',
      '--field-manager=pilot-discovery',
      '-p',
      JSON.stringify(patch),
    ]);
    mgr.reconciler.verifyEverythingNextTime();
    mgr.queue.add(`${ns}/remote`);
    await mgr.queue.idle();
    const after = await getJson(['mutatingwebhookconfiguration', hookName]);
    t.true(
      after.webhooks.every((w: any) => w.clientConfig.caBundle === caBundle),
      "the primary's caBundle is kept",
    );
    t.is((await getJson(['istiooperator', '-n', ns, 'remote'])).status.status, 'HEALTHY');

    // Moving to another primary, by injection URL: the status, the EndpointSlice and the webhook follow.
    const moved = '192.0.2.20';
    const url = `https://${moved}:15017${path}`;
    await kubectlOk(
      ['apply', '-f', '-'],
      iopYaml('remote', ns, {
        ...spec,
        values: remoteValues('c2', { global: { remotePilotAddress: moved }, istiodRemote: { injectionURL: url } }),
      }),
    );
    const edited = await waitForStatus(
      ns,
      'remote',
      (i) => i.status?.status === 'HEALTHY' && i.status.observedGeneration === i.metadata.generation && i.metadata.generation > 1,
    );
    t.deepEqual(edited.status.remote, {
      clusterName: 'c2',
      network: 'net2',
      meshID: 'mesh1',
      remotePilotAddress: moved,
      injection: `URL ${url}`,
    });
    t.deepEqual((await getJson(['endpointslice', '-n', istioNs, `istiod-${rev}`])).endpoints[0].addresses, [moved]);
    t.is((await getJson(['mutatingwebhookconfiguration', hookName])).webhooks[0].clientConfig.url, url);

    await deleteIop(ns, 'remote');
    t.deepEqual(await ownedObjects('remote', ns), []);
  },
);

test.serial(
  'a remote that names no primary is stalled, saying which Service is missing and which values fix it; kstatus Failed, then Current once fixed',
  async (t) => {
    t.timeout(180_000);
    const ns = await createNamespace(t, 'rem-none');
    const istioNs = await createNamespace(t, 'rem-none-istio');
    const rev = uniqueName('r').slice(0, 12);
    await startOperator(t, { namespaces: [ns] });
    const spec = { profile: 'remote', namespace: istioNs, revision: rev, values: remoteValues('c2') };
    await kubectlOk(['apply', '-f', '-'], iopYaml('remote', ns, spec));
    const stuck = await waitForStatus(ns, 'remote', 'ERROR');
    t.regex(
      stuck.status.message,
      new RegExp(
        `^cannot become ready: Pilot: MutatingWebhookConfiguration istio-sidecar-injector-${rev}-${istioNs}: webhook \\S+ calls Service ${istioNs}/istiod-${rev}, which does not exist and this install does not create it; this remote names no primary: set values\\.global\\.remotePilotAddress`,
      ),
    );
    t.is(stuck.status.componentStatus.Pilot.status, 'ERROR');
    t.is(stuck.status.componentStatus.Base.status, 'HEALTHY');
    t.deepEqual(stuck.status.remote, {
      clusterName: 'c2',
      network: 'net2',
      meshID: 'mesh1',
      injection: `Service ${istioNs}/istiod-${rev}/inject`,
    });
    t.like(cond(stuck, 'Ready'), { status: 'False', reason: 'ComponentsStalled' });
    t.like(cond(stuck, 'Stalled'), { status: 'True', reason: 'ComponentsStalled' });
    t.like(cond(stuck, 'Reconciling'), { status: 'False' });
    t.like(cond(stuck, 'Reconciled'), { status: 'True', reason: 'Applied' });
    const ks = kstatus([stuck])[0]!;
    t.is(ks.status, 'Failed', ks.message);
    t.regex(ks.message, /does not exist/);
    t.is(argoHealth(stuck).status, 'Degraded');

    await kubectlOk(
      ['apply', '-f', '-'],
      iopYaml('remote', ns, { ...spec, values: remoteValues('c2', { global: { remotePilotAddress: PRIMARY } }) }),
    );
    const fixed = await waitForStatus(ns, 'remote', 'HEALTHY');
    t.is(fixed.status.remote.remotePilotAddress, PRIMARY);
    t.like(cond(fixed, 'Stalled'), { status: 'False' });
    t.is(kstatus([fixed])[0]!.status, 'Current');
    await deleteIop(ns, 'remote');
  },
);

test.serial(
  'a remote whose istiod EndpointSlice the API server refuses is ERROR with the refusal, still naming its primary; it recovers when the policy goes',
  async (t) => {
    t.timeout(180_000);
    const ns = await createNamespace(t, 'rem-refused');
    const istioNs = await createNamespace(t, 'rem-refused-istio');
    const rev = uniqueName('r').slice(0, 12);
    // A cluster policy that refuses EndpointSlices in the Istio namespace, as one may forbid endpoints leaving the cluster.
    const policy = uniqueName('no-remote-endpoints');
    const refusal = 'EndpointSlices that point outside this cluster are not allowed here';
    const vap = [
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: policy },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [
              { apiGroups: ['discovery.k8s.io'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['endpointslices'] },
            ],
          },
          validations: [{ expression: 'false', message: refusal }],
        },
      },
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name: policy },
        spec: {
          policyName: policy,
          validationActions: ['Deny'],
          matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': istioNs } } },
        },
      },
    ];
    const removePolicy = async () => {
      await kubectl(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', policy, '--ignore-not-found']);
    };
    t.teardown(removePolicy);
    await kubectlOk(['apply', '-f', '-'], vap.map((o) => JSON.stringify(o)).join('\n---\n'));
    const probe = JSON.stringify({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'probe', namespace: istioNs },
      addressType: 'IPv4',
      endpoints: [{ addresses: [PRIMARY] }],
      ports: [{ port: 1 }],
    });
    await waitFor(
      'the admission policy in force',
      async () => (await kubectl(['create', '--dry-run=server', '-f', '-'], { input: probe })).stderr.includes(refusal),
      { timeoutMs: 30_000 },
    );

    await startOperator(t, { namespaces: [ns] });
    const spec = {
      profile: 'remote',
      namespace: istioNs,
      revision: rev,
      values: remoteValues('c2', { global: { remotePilotAddress: PRIMARY } }),
    };
    await kubectlOk(['apply', '-f', '-'], iopYaml('remote', ns, spec));
    const refused = await waitForStatus(ns, 'remote', 'ERROR');
    t.regex(refused.status.message, new RegExp(`EndpointSlice ${istioNs}/istiod-${rev}`));
    t.true(refused.status.message.includes(refusal), refused.status.message);
    t.is(refused.status.remote.remotePilotAddress, PRIMARY, 'the status still says which primary');
    t.like(cond(refused, 'Stalled'), { status: 'True' });
    t.like(cond(refused, 'Reconciled'), { status: 'False' });
    const ks = kstatus([refused])[0]!;
    t.is(ks.status, 'Failed', ks.message);
    t.true(ks.message.includes(refusal), ks.message);
    t.is(
      await getJson(['endpointslice', '-n', istioNs, `istiod-${rev}`]),
      undefined,
      'nothing half-made: the plan was refused before any write',
    );

    await removePolicy();
    await waitFor(
      'the admission policy gone',
      async () => (await kubectl(['create', '--dry-run=server', '-f', '-'], { input: probe })).code === 0,
      { timeoutMs: 30_000 },
    );
    // A refused plan is looked at again every 30 s; a touch of the object makes it now.
    await kubectlOk(['annotate', 'istiooperator', '-n', ns, 'remote', 'test/nudge=1']);
    const healthy = await waitForStatus(ns, 'remote', 'HEALTHY');
    t.is(kstatus([healthy])[0]!.status, 'Current');
    await deleteIop(ns, 'remote');
  },
);

test.serial(
  "on a cluster of its own (c2), a default-revision remote in istio-system, as Istio's guides install one, is HEALTHY naming its primary",
  async (t) => {
    t.timeout(240_000);
    const b = await startSecondCluster(t, { name: 'c2' });
    const onB = async (args: string[], input?: string) => {
      const r = await kubectl(args, { kubeconfig: b.kubeconfig, ...(input !== undefined ? { input } : {}) });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} on c2: ${r.stderr}`);
      return r.stdout;
    };
    await onB(['apply', '--server-side', '-f', CRD_FILE]);
    // Not `kubectl wait`: right after the create it fails on a CRD with no conditions yet.
    await waitFor(
      'the IstioOperator CRD Established on c2',
      async () =>
        (await onB([
          'get',
          'crd',
          'istiooperators.install.istio.io',
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Established")].status}',
        ])) === 'True',
    );
    await onB(['create', 'namespace', 'istio-system']);
    await startOperator(t, { namespaces: ['istio-system'], kubeconfig: b.kubeconfig });
    const spec = {
      profile: 'remote',
      values: remoteValues('c2', {
        global: { remotePilotAddress: PRIMARY },
        istiodRemote: { injectionPath: '/inject/cluster/c2/net/net2' },
      }),
    };
    await onB(['apply', '-f', '-'], iopYaml('remote', 'istio-system', spec));
    const iop = await waitFor(
      'the remote on c2 HEALTHY',
      async () => {
        const o = JSON.parse(await onB(['get', 'istiooperator', '-n', 'istio-system', 'remote', '-o', 'json']));
        return o.status?.status === 'HEALTHY' && o.status.observedGeneration === o.metadata.generation ? o : undefined;
      },
      { timeoutMs: 120_000 },
    );
    t.deepEqual(iop.status.remote, {
      clusterName: 'c2',
      network: 'net2',
      meshID: 'mesh1',
      remotePilotAddress: PRIMARY,
      injection: 'Service istio-system/istiod/inject/cluster/c2/net/net2',
    });
    t.is(kstatus([iop])[0]!.status, 'Current');
    t.is((await onB(['get', 'deployments', '-A', '-o', 'name'])).trim(), '', 'no Deployment anywhere on c2');
    t.regex(await onB(['get', 'mutatingwebhookconfiguration', 'istio-sidecar-injector', '-o', 'name']), /istio-sidecar-injector/);
    t.regex(
      await onB(['get', 'endpointslice', '-n', 'istio-system', 'istiod', '-o', 'jsonpath={.endpoints[0].addresses[0]}']),
      new RegExp(PRIMARY.replace(/\./g, '\\.')),
    );
    // Nothing of it reached the shared cluster.
    t.regex((await kubectl(['get', 'istiooperator', '-n', 'istio-system', 'remote'])).stderr, /NotFound|not found|doesn't have a resource/);
    t.log(`c2: up in ${(b.startMs / 1000).toFixed(1)} s, RSS ${(b.rssNow().total / 1024).toFixed(0)} MiB with the remote installed`);
  },
);
