// Over 500 lines by choice: the gateway component's cases, each a short render and assertion.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { renderGateway } from '../../../operator/render/components/gateway.js';
import type { GatewayContext, RenderContext } from '../../../operator/render/context.js';
import type { K8sObject } from '../../../operator/api/types.js';
import { applyOwnershipLabels } from '../../../operator/render/labels.js';
import { manifestsDir } from '../../../operator/paths.js';
import { compareObjects, inputsDir, loadGolden, renderInput, share, type Obj } from '../../golden/compare.js';
import { DEFAULT_RELEASE } from '../../../operator/api/releases.js';

// Legacy ingress/egress gateways. Part 1 builds RenderContexts by hand (no values resolution), so each behaviour is
// pinned to the gateway template alone; part 2 renders golden inputs end to end and compares field by field.

const defaults = yaml.load(fs.readFileSync(path.join(manifestsDir, 'values.yaml'), 'utf8')) as Record<string, any>;

interface Opts {
  type?: 'ingress' | 'egress';
  name?: string;
  namespace?: string;
  revision?: string;
  gw?: Record<string, any>;
  global?: Record<string, any>;
  values?: Record<string, any>;
  meshConfig?: Record<string, any>;
  ca?: RenderContext['ca'];
  labels?: Record<string, string>;
}

function ctx(o: Opts = {}): RenderContext {
  const type = o.type ?? 'ingress';
  const key = type === 'ingress' ? 'istio-ingressgateway' : 'istio-egressgateway';
  const values = structuredClone(defaults);
  Object.assign(values.global, o.global ?? {});
  Object.assign(values, o.values ?? {});
  const name = o.name ?? key;
  const namespace = o.namespace ?? 'istio-system';
  const labels = { ...values.gateways[key].labels, ...(o.labels ?? {}) };
  const gateway: GatewayContext = {
    name,
    namespace,
    type,
    labels,
    values: { ...values.gateways[key], ...(o.gw ?? {}), name, labels },
    serviceAccountName: `${name}-service-account`,
  };
  const revision = o.revision ?? '';
  return {
    values,
    meshConfig: o.meshConfig ?? { trustDomain: 'cluster.local', enablePrometheusMerge: true },
    revision,
    rev: revision || 'default',
    revSuffix: revision ? `-${revision}` : '',
    namespace,
    istioNamespace: 'istio-system',
    version: '1.30.0',
    release: DEFAULT_RELEASE,
    ca: o.ca ?? { mode: 'istiod', secretName: 'cacerts' },
    gateway,
  };
}

// Objects of the legacy gateways (not the Gateway CRD, not istiod's gateway-controller RBAC).
const GW = /(ingress|egress)gateway/;
const isGatewayObject = (o: Obj) => o.kind !== 'CustomResourceDefinition' && GW.test(o.metadata.name);
const find = (objs: K8sObject[], kind: string) => objs.find((x) => x.kind === kind) as any;
const proxyOf = (objs: K8sObject[]) => find(objs, 'Deployment').spec.template.spec.containers.find((c: any) => c.name === 'istio-proxy');
const envOf = (objs: K8sObject[]) => Object.fromEntries(proxyOf(objs).env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

test('ingress gateway: the objects Istio renders, named after the gateway', (t) => {
  const objs = renderGateway(ctx());
  t.deepEqual(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
    'Deployment/istio-ingressgateway',
    'HorizontalPodAutoscaler/istio-ingressgateway',
    'Role/istio-ingressgateway-sds',
    'RoleBinding/istio-ingressgateway-sds',
    'Service/istio-ingressgateway',
    'ServiceAccount/istio-ingressgateway-service-account',
  ]);
  t.true(objs.every((o) => o.metadata.namespace === 'istio-system'));
  const rb = find(objs, 'RoleBinding');
  t.deepEqual(rb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'istio-ingressgateway-sds' });
  t.deepEqual(rb.subjects, [{ kind: 'ServiceAccount', name: 'istio-ingressgateway-service-account' }]);
  t.deepEqual(find(objs, 'Role').rules, [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'watch', 'list'] }]);
  t.is(find(objs, 'Service').spec.type, 'LoadBalancer');
  t.is(find(objs, 'Deployment').spec.template.spec.serviceAccountName, 'istio-ingressgateway-service-account');
  t.deepEqual(proxyOf(objs).args.slice(0, 2), ['proxy', 'router']);
});

test('egress gateway: ClusterIP Service, egress secret volumes, no status port', (t) => {
  const objs = renderGateway(ctx({ type: 'egress' }));
  const svc = find(objs, 'Service');
  t.is(svc.spec.type, 'ClusterIP');
  t.deepEqual(
    svc.spec.ports.map((p: any) => p.name),
    ['http2', 'https'],
  );
  t.deepEqual(svc.spec.selector, { app: 'istio-egressgateway', istio: 'egressgateway' });
  const vols = find(objs, 'Deployment').spec.template.spec.volumes.map((v: any) => v.name);
  t.true(vols.includes('egressgateway-certs') && vols.includes('egressgateway-ca-certs'));
  t.deepEqual(
    proxyOf(objs).ports.map((p: any) => p.containerPort),
    [8080, 8443, 15090],
  );
});

// Ownership labels come from render-core's labels.ts; add them as render() does before comparing with Istio.
function owned(objs: K8sObject[], component: 'ingressGateways' | 'egressGateways'): Obj[] {
  applyOwnershipLabels(objs, component, { name: 'unknown', namespace: '', rev: 'default' }, '');
  return objs as Obj[];
}

test('hand-made default contexts agree with the all_on golden on every leaf of both gateways', (t) => {
  const golden = loadGolden('all_on.golden-show-in-gh-pull-request.yaml').filter(isGatewayObject);
  t.is(golden.length, 12);
  const ours = [...owned(renderGateway(ctx()), 'ingressGateways'), ...owned(renderGateway(ctx({ type: 'egress' })), 'egressGateways')];
  const r = compareObjects(golden, ours);
  t.deepEqual(r.missing, []);
  t.deepEqual(r.diffs, []);
  t.is(r.agree, r.leaves);
});

test('revision: gateways keep their names and follow istiod-<rev> and its mesh config', (t) => {
  const objs = renderGateway(ctx({ revision: 'canary' }));
  t.is(find(objs, 'Deployment').metadata.name, 'istio-ingressgateway');
  t.is(envOf(objs).CA_ADDR, 'istiod-canary.istio-system.svc:15012');
  const tpl = find(objs, 'Deployment').spec.template;
  t.is(tpl.spec.volumes.find((v: any) => v.name === 'config-volume').configMap.name, 'istio-canary');
  t.is(tpl.metadata.labels['istio.io/rev'], 'canary');
  t.is(tpl.metadata.labels['service.istio.io/canonical-revision'], 'canary');
  t.is(tpl.metadata.annotations['istio.io/rev'], 'canary');
});

test('CA address: global.caAddress, then the external CA, then istiod', (t) => {
  t.is(envOf(renderGateway(ctx({ global: { caAddress: 'ca.example:443' } }))).CA_ADDR, 'ca.example:443');
  t.is(
    envOf(renderGateway(ctx({ ca: { mode: 'external', secretName: 'cacerts', address: 'signer.example:9443' } }))).CA_ADDR,
    'signer.example:9443',
  );
  t.is(envOf(renderGateway(ctx({ ca: { mode: 'operator', secretName: 'cacerts' } }))).CA_ADDR, 'istiod.istio-system.svc:15012');
});

test('a named gateway in its own namespace: own names, shared type labels, istiod still in istio-system', (t) => {
  const objs = renderGateway(ctx({ name: 'ilb-gateway', namespace: 'edge' }));
  t.true(objs.every((o) => o.metadata.namespace === 'edge'));
  t.is(find(objs, 'ServiceAccount').metadata.name, 'ilb-gateway-service-account');
  t.is(find(objs, 'RoleBinding').subjects[0].name, 'ilb-gateway-service-account');
  const env = envOf(objs);
  t.is(env.ISTIO_META_WORKLOAD_NAME, 'ilb-gateway');
  t.is(env.ISTIO_META_OWNER, 'kubernetes://apis/apps/v1/namespaces/edge/deployments/ilb-gateway');
  t.is(env.CA_ADDR, 'istiod.istio-system.svc:15012');
  const tpl = find(objs, 'Deployment').spec.template;
  t.is(tpl.metadata.labels['service.istio.io/canonical-name'], 'ilb-gateway');
  // The Helm-2 era labels are an istio-system tradition only.
  t.is(tpl.metadata.labels.heritage, undefined);
  t.deepEqual(find(objs, 'Deployment').spec.selector.matchLabels, { app: 'istio-ingressgateway', istio: 'ingressgateway' });
});

test('custom labels reach selectors, pod labels, Service selector, HPA and PDB labels', (t) => {
  const objs = renderGateway(ctx({ labels: { aaa: 'aaa-val', version: '21' }, gw: { autoscaleMin: 2 } }));
  const want = { app: 'istio-ingressgateway', istio: 'ingressgateway', aaa: 'aaa-val', version: '21' };
  t.deepEqual(find(objs, 'Deployment').spec.selector.matchLabels, want);
  t.deepEqual(find(objs, 'Service').spec.selector, want);
  t.like(find(objs, 'Deployment').spec.template.metadata.labels, want);
  t.like(find(objs, 'HorizontalPodAutoscaler').metadata.labels, want);
  t.deepEqual(find(objs, 'PodDisruptionBudget').spec, { minAvailable: 1, selector: { matchLabels: want } });
});

test('autoscaling: HPA bounds and metrics from values; replicas only without HPA; PDB only when two pods are guaranteed', (t) => {
  const hpa = find(
    renderGateway(ctx({ gw: { autoscaleMin: 2, autoscaleMax: 7, memory: { targetAverageUtilization: 60 } } })),
    'HorizontalPodAutoscaler',
  );
  t.is(hpa.apiVersion, 'autoscaling/v2');
  t.is(hpa.spec.minReplicas, 2);
  t.is(hpa.spec.maxReplicas, 7);
  t.deepEqual(
    hpa.spec.metrics.map((m: any) => [m.resource.name, m.resource.target.averageUtilization]),
    [
      ['cpu', 80],
      ['memory', 60],
    ],
  );
  t.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'istio-ingressgateway' });

  const fixed = renderGateway(ctx({ gw: { autoscaleEnabled: false, replicaCount: 3 } }));
  t.is(find(fixed, 'HorizontalPodAutoscaler'), undefined);
  t.is(find(fixed, 'Deployment').spec.replicas, 3);
  t.truthy(find(fixed, 'PodDisruptionBudget'));

  const single = renderGateway(ctx());
  t.is(find(single, 'Deployment').spec.replicas, undefined);
  t.is(find(single, 'PodDisruptionBudget'), undefined);
  t.is(
    find(
      renderGateway(ctx({ gw: { autoscaleMin: 2 }, global: { defaultPodDisruptionBudget: { enabled: false } } })),
      'PodDisruptionBudget',
    ),
    undefined,
  );
});

test('service settings: annotations, load balancer fields, traffic policy, custom Service', (t) => {
  const svc = find(
    renderGateway(
      ctx({
        gw: {
          serviceAnnotations: { 'cloud.google.com/load-balancer-type': 'internal' },
          loadBalancerIP: '10.0.0.9',
          loadBalancerSourceRanges: ['10.0.0.0/8'],
          externalTrafficPolicy: 'Local',
          ipFamilyPolicy: 'PreferDualStack',
          ipFamilies: ['IPv4', 'IPv6'],
          type: 'NodePort',
        },
      }),
    ),
    'Service',
  );
  t.deepEqual(svc.metadata.annotations, { 'cloud.google.com/load-balancer-type': 'internal' });
  t.like(svc.spec, { type: 'NodePort', loadBalancerIP: '10.0.0.9', externalTrafficPolicy: 'Local', ipFamilyPolicy: 'PreferDualStack' });
  t.deepEqual(svc.spec.loadBalancerSourceRanges, ['10.0.0.0/8']);
  t.is(find(renderGateway(ctx({ gw: { customService: true } })), 'Service'), undefined);
});

test('proxy settings: env map, proxyMetadata, network, cluster, mesh ID, logging flags, image', (t) => {
  const objs = renderGateway(
    ctx({
      gw: { env: { ISTIO_META_REQUESTED_NETWORK_VIEW: 'external', N: 5 } },
      global: {
        network: 'net1',
        multiCluster: { clusterName: 'c1' },
        meshID: 'm1',
        logAsJson: true,
        hub: 'my.reg/istio',
        tag: '1.30.0',
        variant: 'distroless',
        imagePullPolicy: 'Always',
      },
      meshConfig: { trustDomain: 'td.example', defaultConfig: { proxyMetadata: { ISTIO_META_DNS_CAPTURE: 'true' } } },
    }),
  );
  const env = envOf(objs);
  t.like(env, {
    ISTIO_META_REQUESTED_NETWORK_VIEW: 'external',
    N: '5',
    ISTIO_META_DNS_CAPTURE: 'true',
    ISTIO_META_NETWORK: 'net1',
    ISTIO_META_CLUSTER_ID: 'c1',
    ISTIO_META_MESH_ID: 'm1',
    TRUST_DOMAIN: 'td.example',
  });
  const c = proxyOf(objs);
  t.true(c.args.includes('--log_as_json'));
  t.is(c.image, 'my.reg/istio/proxyv2:1.30.0-distroless');
  t.is(c.imagePullPolicy, 'Always');
  // The gateway's own ISTIO_META_NETWORK wins over the global network.
  t.is(envOf(renderGateway(ctx({ gw: { env: { ISTIO_META_NETWORK: 'own' } }, global: { network: 'net1' } }))).ISTIO_META_NETWORK, 'own');
  t.is(proxyOf(renderGateway(ctx({ gw: { tag: 'special-tag' } }))).image, 'registry.istio.io/testing/proxyv2:special-tag');
  t.is(
    proxyOf(renderGateway(ctx({ global: { proxy: { ...defaults.global.proxy, image: 'reg.example/custom/proxy:x' } } }))).image,
    'reg.example/custom/proxy:x',
  );
});

test('runAsRoot drops the non-root security contexts and the unprivileged marker', (t) => {
  const objs = renderGateway(ctx({ gw: { runAsRoot: true } }));
  t.is(find(objs, 'Deployment').spec.template.spec.securityContext, undefined);
  t.is(proxyOf(objs).securityContext, undefined);
  t.is(envOf(objs).ISTIO_META_UNPRIVILEGED_POD, undefined);
  const seccomp = proxyOf(
    renderGateway(ctx({ values: { gateways: { ...defaults.gateways, seccompProfile: { type: 'RuntimeDefault' } } } })),
  );
  t.deepEqual(seccomp.securityContext.seccompProfile, { type: 'RuntimeDefault' });
});

test('scheduling: arch and nodeSelector become node affinity, anti-affinity selectors, tolerations fall back to defaults', (t) => {
  const spec = find(
    renderGateway(
      ctx({
        global: { arch: { amd64: 2, s390x: 0 }, defaultTolerations: [{ key: 'k', operator: 'Exists' }] },
        gw: {
          nodeSelector: { pool: 'edge' },
          podAntiAffinityLabelSelector: [{ key: 'app', operator: 'In', values: 'a,b', topologyKey: 'kubernetes.io/hostname' }],
        },
      }),
    ),
    'Deployment',
  ).spec.template.spec;
  t.deepEqual(spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions, [
    { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] },
    { key: 'pool', operator: 'In', values: ['edge'] },
  ]);
  t.deepEqual(spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution, [
    { weight: 2, preference: { matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] }] } },
  ]);
  t.deepEqual(spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].values, [
    'a',
    'b',
  ]);
  t.deepEqual(spec.tolerations, [{ key: 'k', operator: 'Exists' }]);
  t.is(find(renderGateway(ctx()), 'Deployment').spec.template.spec.affinity, undefined);
});

test('network policy only when global.networkPolicy.enabled, admitting health, metrics and the gateway ports', (t) => {
  t.is(find(renderGateway(ctx()), 'NetworkPolicy'), undefined);
  const np = find(renderGateway(ctx({ global: { networkPolicy: { enabled: true } } })), 'NetworkPolicy');
  t.deepEqual(np.spec.podSelector.matchLabels, { app: 'istio-ingressgateway', istio: 'ingressgateway' });
  const ports = np.spec.ingress.flatMap((r: any) => r.ports.map((p: any) => p.port));
  t.deepEqual(ports, [15021, 15020, 15090, 15021, 8080, 8443]);
});

test('user strings cannot change the structure: labels, annotations and env stay single values', (t) => {
  const evil = 'x\nkind: Secret\n: {{oops}} # "';
  const objs = renderGateway(
    ctx({ labels: { evil }, gw: { podAnnotations: { a: evil }, serviceAnnotations: { b: evil }, env: { E: evil } } }),
  );
  t.is(objs.length, 6);
  t.true(objs.every((o) => o.kind !== 'Secret'));
  t.is(find(objs, 'Deployment').spec.template.metadata.labels.evil, evil);
  t.is(find(objs, 'Deployment').spec.template.metadata.annotations.a, evil);
  t.is(find(objs, 'Service').metadata.annotations.b, evil);
  t.is(envOf(objs).E, evil);
});

test('deterministic: two renders are deeply equal', (t) => {
  t.deepEqual(
    renderGateway(ctx({ revision: 'x', labels: { b: '1', a: '2' } })),
    renderGateway(ctx({ revision: 'x', labels: { b: '1', a: '2' } })),
  );
});

test("injection template: a minimal pod for the injector, with only what is the gateway's own", (t) => {
  const objs = owned(
    renderGateway(ctx({ gw: { injectionTemplate: 'gateway', env: { B: 'b', A: 1 }, podAnnotations: { note: 'x' } } })),
    'ingressGateways',
  ) as K8sObject[];
  t.is(objs.filter((o) => o.kind === 'Deployment').length, 1, 'one Deployment: the injected one instead of the full one');
  const dep = find(objs, 'Deployment');
  const tpl = dep.spec.template;
  t.is(tpl.metadata.annotations['inject.istio.io/templates'], 'gateway');
  t.is(tpl.metadata.annotations['sidecar.istio.io/inject'], 'true');
  t.is(tpl.metadata.annotations.note, 'x');
  t.is(tpl.metadata.annotations['istio.io/rev'], undefined, 'the injector writes the revision annotation');
  t.is(tpl.metadata.labels['sidecar.istio.io/inject'], 'true');
  // The default revision's webhooks select inject=true pods only without istio.io/rev: none on the pod, even after
  // the ownership labels (the Deployment itself still carries it).
  t.false('istio.io/rev' in tpl.metadata.labels);
  t.is(dep.metadata.labels['istio.io/rev'], 'default');
  t.false('istio.io/dataplane-mode' in tpl.metadata.labels);
  t.false('istio.io/dataplane-mode' in dep.metadata.labels);
  const proxy = proxyOf(objs);
  t.is(proxy.image, 'auto');
  t.deepEqual(Object.keys(proxy).sort(), ['env', 'image', 'name', 'ports', 'resources', 'securityContext', 'volumeMounts']);
  t.deepEqual(proxy.env, [
    { name: 'ISTIO_META_UNPRIVILEGED_POD', value: 'true' },
    { name: 'A', value: '1' },
    { name: 'B', value: 'b' },
  ]);
  t.deepEqual(
    proxy.ports.map((p: any) => p.containerPort),
    [15021, 8080, 8443, 15090],
  );
  t.deepEqual(
    proxy.volumeMounts.map((m: any) => m.name),
    ['ingressgateway-certs', 'ingressgateway-ca-certs'],
  );
  t.deepEqual(
    tpl.spec.volumes.map((v: any) => v.name),
    ['ingressgateway-certs', 'ingressgateway-ca-certs'],
  );
  t.deepEqual(tpl.spec.securityContext, { runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true });
  // A revision's pod names it, so that the revision's webhooks pick it.
  const rev = owned(renderGateway(ctx({ revision: 'canary', gw: { injectionTemplate: 'gateway' } })), 'ingressGateways') as K8sObject[];
  t.is(find(rev, 'Deployment').spec.template.metadata.labels['istio.io/rev'], 'canary');
  // runAsRoot: no security contexts, no unprivileged marker.
  const root = renderGateway(ctx({ gw: { injectionTemplate: 'gateway', runAsRoot: true } }));
  t.is(find(root, 'Deployment').spec.template.spec.securityContext, undefined);
  t.is(proxyOf(root).securityContext, undefined);
  t.deepEqual(proxyOf(root).env, []);
});

test("app.kubernetes.io/name is the chart's, one per type, whatever the gateway's name and app label", (t) => {
  for (const type of ['ingress', 'egress'] as const) {
    for (const injectionTemplate of ['', 'gateway']) {
      const objs = renderGateway(ctx({ type, name: 'edge-gw', labels: { app: 'edge-gw' }, gw: { injectionTemplate } }));
      for (const o of objs as any[]) t.is(o.metadata.labels['app.kubernetes.io/name'], `istio-${type}gateway`, `${type} ${o.kind}`);
      t.is(find(objs, 'Deployment').spec.template.metadata.labels['app.kubernetes.io/name'], `istio-${type}gateway`);
    }
  }
});

test('canonical revision: the app.kubernetes.io/version or version label first, then the revision, then latest', (t) => {
  const rev = (o: Opts) => find(renderGateway(ctx(o)), 'Deployment').spec.template.metadata.labels['service.istio.io/canonical-revision'];
  t.is(rev({ labels: { 'app.kubernetes.io/version': 'v3', version: 'v2' }, revision: 'canary' }), 'v3');
  t.is(rev({ labels: { version: 'v2' }, revision: 'canary' }), 'v2');
  t.is(rev({ revision: 'canary' }), 'canary');
  t.is(rev({}), 'latest');
});

// ---- Part 2: end to end from golden inputs --------------------------------------------------------------------

const input = (f: string) => [{ name: f, text: fs.readFileSync(path.join(inputsDir, f), 'utf8') }];

for (const [name, file, golden, sets, select] of [
  ['all_on', 'all_on.yaml', 'all_on.golden-show-in-gh-pull-request.yaml', [], GW],
  ['ingressgateway_k8s_settings', 'ingressgateway_k8s_settings.yaml', 'ingressgateway_k8s_settings.golden.yaml', [], GW],
  ['autoscaling_v2', 'autoscaling_v2.yaml', 'autoscaling_v2.golden.yaml', [], GW],
  [
    'flag_values_enable_egressgateway',
    undefined,
    'flag_values_enable_egressgateway.golden.yaml',
    ['values.gateways.istio-egressgateway.enabled=true'],
    GW,
  ],
] as const) {
  test(`golden ${name}: every gateway leaf agrees`, async (t) => {
    const out = await renderInput({ files: file ? input(file) : [], sets: [...sets] });
    const g = loadGolden(golden).filter((o) => o.kind !== 'CustomResourceDefinition' && select.test(o.metadata.name));
    t.true(g.length > 0);
    const r = compareObjects(g, out.objects);
    t.deepEqual(r.missing, []);
    t.deepEqual(r.diffs, []);
    t.is(share(r), 1);
  });
}

test('gateways.yaml: three gateways, one in its own namespace; each RoleBinding references an existing Role', async (t) => {
  const out = await renderInput({ files: input('gateways.yaml') });
  const gw = out.objects.filter((o) => o.kind === 'Deployment');
  t.deepEqual(gw.map((d) => `${d.metadata.namespace}/${d.metadata.name}`).sort(), [
    'istio-system/istio-ingressgateway',
    'istio-system/user-ingressgateway',
    'user-ingressgateway-ns/ilb-gateway',
  ]);
  for (const kind of ['HorizontalPodAutoscaler', 'Service', 'Role', 'RoleBinding', 'ServiceAccount'])
    t.is(out.objects.filter((o) => o.kind === kind).length, 3, kind);
  for (const h of out.objects.filter((o) => o.kind === 'HorizontalPodAutoscaler') as any[]) t.is(h.spec.maxReplicas, 5);
  for (const rb of out.objects.filter((o) => o.kind === 'RoleBinding') as any[]) {
    t.true(
      out.objects.some((r) => r.kind === 'Role' && r.metadata.name === rb.roleRef.name && r.metadata.namespace === rb.metadata.namespace),
      rb.metadata.name,
    );
  }
  const d = gw.find((x) => x.metadata.name === 'istio-ingressgateway') as any;
  t.like(d.spec.selector.matchLabels, { aaa: 'aaa-val', bbb: 'bbb-val', version: '21' });
  t.is(d.spec.template.spec.containers[0].resources.requests.cpu, '111m');
  const ilb = gw.find((x) => x.metadata.name === 'ilb-gateway') as any;
  t.is(ilb.spec.template.spec.containers[0].env.find((e: any) => e.name === 'PILOT_CERT_PROVIDER').value, 'foobar');
});

test('gateways.yaml with autoscaleMin=2: HPAs 2..5 and a PDB per gateway', async (t) => {
  const out = await renderInput({ files: input('gateways.yaml'), sets: ['values.gateways.istio-ingressgateway.autoscaleMin=2'] });
  const hpas = out.objects.filter((o) => o.kind === 'HorizontalPodAutoscaler') as any[];
  t.is(hpas.length, 3);
  for (const h of hpas) t.deepEqual([h.spec.minReplicas, h.spec.maxReplicas], [2, 5]);
  t.is(out.objects.filter((o) => o.kind === 'PodDisruptionBudget').length, 3);
});

test('gateways-with-custom-tags-and-no-labels.yaml: each gateway takes its own tag', async (t) => {
  const out = await renderInput({ files: input('gateways-with-custom-tags-and-no-labels.yaml') });
  const image = (n: string) =>
    (out.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === n) as any).spec.template.spec.containers[0].image;
  t.regex(image('istio-ingressgateway'), /\/proxyv2:special-tag$/);
  t.regex(image('istio-egressgateway'), /\/proxyv2:special-tag2$/);
});

test("k8s.service.ports replace the gateway's ports: Service, container ports and NetworkPolicy, not merged with the defaults", async (t) => {
  const doc = {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    spec: {
      profile: 'empty',
      values: { global: { networkPolicy: { enabled: true } } },
      components: {
        ingressGateways: [
          {
            name: 'edge',
            enabled: true,
            label: { app: 'edge', istio: 'edge' },
            k8s: {
              service: {
                type: 'NodePort',
                ports: [
                  { name: 'tls', port: 15443, targetPort: 15443 },
                  { name: 'plain', port: 9000, protocol: 'UDP' },
                ],
              },
            },
          },
          { name: 'istio-ingressgateway', enabled: true },
        ],
      },
    },
  };
  const out = await renderInput({ files: [{ name: 'ports.yaml', text: JSON.stringify(doc) }] });
  const of = (kind: string, name: string) => out.objects.find((o) => o.kind === kind && o.metadata.name === name) as any;
  const svc = of('Service', 'edge');
  t.deepEqual(svc.spec.ports, [
    { name: 'tls', port: 15443, targetPort: 15443 },
    { name: 'plain', port: 9000, protocol: 'UDP' },
  ]);
  t.is(svc.spec.type, 'NodePort', 'the rest of k8s.service still applies');
  const proxy = of('Deployment', 'edge').spec.template.spec.containers.find((c: any) => c.name === 'istio-proxy');
  t.deepEqual(
    proxy.ports.map((p: any) => [p.containerPort, p.protocol]),
    [
      [15443, 'TCP'],
      [9000, 'UDP'],
      [15090, 'TCP'],
    ],
  );
  const np = of('NetworkPolicy', 'edge');
  t.truthy(np);
  t.true(JSON.stringify(np.spec).includes('15443') && !JSON.stringify(np.spec).includes('8443'));
  // The other gateway keeps the type's defaults.
  t.deepEqual(
    of('Service', 'istio-ingressgateway').spec.ports.map((p: any) => p.name),
    ['status-port', 'http2', 'https'],
  );
});
