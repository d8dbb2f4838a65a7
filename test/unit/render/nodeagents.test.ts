import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import { InputError } from '../../../operator/api/errors.js';
import { render, toYamlStream, type K8sObject } from '../../../operator/render/index.js';
import { goldenInputsDir } from '../../helpers/fixtures.js';

// The node agents (components.cni, components.ztunnel) and the ambient profile, end to end from --set flags and
// files through resolve and render. The golden comparison of the two DaemonSets lives in test/unit/golden.test.ts.

const REF = goldenInputsDir();

function renderOf(sets: string[], text?: string, release?: string) {
  const r = resolveIstioOperator({ sets, files: text ? [{ name: 'in.yaml', text }] : [], ...(release ? { release } : {}) });
  const out = render(r.install);
  return { objects: out.objects, warnings: [...r.warnings, ...out.warnings] };
}
const IOP = 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator';
const find = (objs: K8sObject[], kind: string, name: string): any => objs.find((o) => o.kind === kind && o.metadata.name === name);
const ids = (objs: K8sObject[], component: string) =>
  objs
    .filter((o) => o.metadata.labels?.['operator.istio.io/component'] === component)
    .map((o) => `${o.kind}:${o.metadata.namespace ?? ''}:${o.metadata.name}`);
const container = (ds: any) => ds.spec.template.spec.containers[0];
const env = (ds: any, name: string) => container(ds).env.find((e: any) => e.name === name)?.value;

test('ambient profile: istiod, the CNI agent in ambient mode and ztunnel; no ingress gateway; no warnings', (t) => {
  const { objects, warnings } = renderOf(['profile=ambient']);
  t.deepEqual(warnings, []);
  t.deepEqual(ids(objects, 'Cni').sort(), [
    'ClusterRole::istio-cni',
    'ClusterRole::istio-cni-ambient',
    'ClusterRole::istio-cni-repair-role',
    'ClusterRoleBinding::istio-cni',
    'ClusterRoleBinding::istio-cni-ambient',
    'ClusterRoleBinding::istio-cni-repair-rolebinding',
    'ConfigMap:istio-system:istio-cni-config',
    'DaemonSet:istio-system:istio-cni-node',
    'ServiceAccount:istio-system:istio-cni',
  ]);
  t.deepEqual(ids(objects, 'Ztunnel').sort(), ['DaemonSet:istio-system:ztunnel', 'ServiceAccount:istio-system:ztunnel']);
  t.deepEqual(ids(objects, 'IngressGateways'), []);
  const istiod = find(objects, 'Deployment', 'istiod');
  const istiodEnv = Object.fromEntries(container(istiod).env.map((e: any) => [e.name, e.value]));
  t.is(istiodEnv.PILOT_ENABLE_AMBIENT, 'true');
  t.is(istiodEnv.CA_TRUSTED_NODE_ACCOUNTS, 'istio-system/ztunnel');
  t.regex(container(istiod).image, /\/pilot:[^:]+-distroless$/);
  const cni = find(objects, 'DaemonSet', 'istio-cni-node');
  t.regex(container(cni).image, /\/install-cni:[^:]+-distroless$/);
  // Ambient: the agent sees pods' network namespaces appear and talks to ztunnel over its socket.
  t.deepEqual(
    container(cni).volumeMounts.map((m: any) => m.name),
    ['cni-bin-dir', 'cni-host-procfs', 'cni-net-dir', 'cni-socket-dir', 'cni-netns-dir', 'cni-ztunnel-sock-dir'],
  );
  t.is(container(cni).volumeMounts.find((m: any) => m.name === 'cni-netns-dir').mountPropagation, 'HostToContainer');
  const data = find(objects, 'ConfigMap', 'istio-cni-config').data;
  t.is(data.AMBIENT_ENABLED, 'true');
  t.deepEqual(yaml.load(data.AMBIENT_ENABLEMENT_SELECTOR), [
    { podSelector: { matchLabels: { 'istio.io/dataplane-mode': 'ambient' } } },
    {
      podSelector: { matchExpressions: [{ key: 'istio.io/dataplane-mode', operator: 'NotIn', values: ['none'] }] },
      namespaceSelector: { matchLabels: { 'istio.io/dataplane-mode': 'ambient' } },
    },
  ]);
  t.true(
    Object.values(data).every((v) => typeof v === 'string'),
    'ConfigMap data are strings',
  );
  // Injected sidecars in an ambient cluster rely on the CNI agent, not on a privileged init container.
  t.regex(find(objects, 'ConfigMap', 'istio-sidecar-injector').data.values, /"cni": \{\s*"enabled": true/);
});

test('CNI without ambient: no ambient role, mounts or socket; the AppArmor and metrics annotations', (t) => {
  const { objects, warnings } = renderOf(['components.cni.enabled=true']);
  t.deepEqual(warnings, []);
  t.falsy(find(objects, 'ClusterRole', 'istio-cni-ambient'));
  const ds = find(objects, 'DaemonSet', 'istio-cni-node');
  t.false(container(ds).volumeMounts.some((m: any) => m.name === 'cni-ztunnel-sock-dir'));
  t.is(ds.spec.template.metadata.annotations['container.apparmor.security.beta.kubernetes.io/install-cni'], 'unconfined');
  t.is(find(objects, 'ConfigMap', 'istio-cni-config').data.AMBIENT_ENABLED, 'false');
  t.deepEqual(container(ds).args, ['--log_output_level=info']);
  t.is(ds.metadata.labels['operator.istio.io/component'], 'Cni');
  t.is(ds.spec.updateStrategy.rollingUpdate.maxUnavailable, 1);
  // An explicit pilot.cni.enabled=false is the user's call and stays.
  const off = renderOf(['components.cni.enabled=true', 'values.pilot.cni.enabled=false']).objects;
  t.regex(find(off, 'ConfigMap', 'istio-sidecar-injector').data.values, /"cni": \{\s*"enabled": false/);
});

test('repair modes grant exactly what they use; the pre-1.26 host-network mode; env and excluded namespaces in the ConfigMap', (t) => {
  const rules = (sets: string[]) =>
    find(renderOf(['components.cni.enabled=true', ...sets]).objects, 'ClusterRole', 'istio-cni-repair-role')?.rules;
  // As Istio's chart: events for what the repair did, the pods it watches, and what a repair mode needs besides.
  t.deepEqual(rules([]), [
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    { apiGroups: [''], resources: ['pods'], verbs: ['watch', 'get', 'list'] },
  ]);
  t.deepEqual(rules(['values.cni.repair.repairPods=false', 'values.cni.repair.deletePods=true'])[2], {
    apiGroups: [''],
    resources: ['pods'],
    verbs: ['delete'],
  });
  t.deepEqual(rules(['values.cni.repair.repairPods=false', 'values.cni.repair.labelPods=true'])[2], {
    apiGroups: [''],
    resources: ['pods/status'],
    verbs: ['patch', 'update'],
  });
  t.is(rules(['values.cni.repair.enabled=false']), undefined);

  const host = renderOf(['profile=ambient', 'values.cni.ambient.shareHostNetworkNamespace=true']).objects;
  const spec = find(host, 'DaemonSet', 'istio-cni-node').spec.template.spec;
  t.true(spec.hostNetwork);
  t.is(spec.dnsPolicy, 'ClusterFirstWithHostNet');
  t.false(spec.containers[0].env.some((e: any) => e.name === 'ALLOW_SWITCH_TO_HOST_NS'));
  // compatibilityVersion 1.25 brings that mode back, as Istio's compatibility profile does.
  t.true(
    find(renderOf(['profile=ambient', 'compatibilityVersion=1.25']).objects, 'DaemonSet', 'istio-cni-node').spec.template.spec.hostNetwork,
  );

  const file = [
    IOP,
    'spec:',
    '  components: {cni: {enabled: true}}',
    '  values:',
    '    cni:',
    '      excludeNamespaces: [kube-system, istio-system]',
    '      env: {EXTRA: 1}',
  ].join('\n');
  const data = find(renderOf([], file).objects, 'ConfigMap', 'istio-cni-config').data;
  t.is(data.EXCLUDE_NAMESPACES, 'kube-system,istio-system');
  t.is(data.EXTRA, '1');
});

test('ztunnel follows the revision istiod; its name is the account istiod trusts', (t) => {
  const { objects } = renderOf(['profile=ambient', 'revision=1-30', 'values.ztunnel.resourceName=zt']);
  const zt = find(objects, 'DaemonSet', 'zt');
  t.truthy(zt);
  t.is(zt.spec.template.spec.serviceAccountName, 'zt');
  t.truthy(find(objects, 'ServiceAccount', 'zt'));
  t.is(env(zt, 'CA_ADDRESS'), 'istiod-1-30.istio-system.svc:15012');
  t.is(env(zt, 'XDS_ADDRESS'), 'istiod-1-30.istio-system.svc:15012');
  t.is(zt.metadata.labels['istio.io/rev'], '1-30');
  const istiod = find(objects, 'Deployment', 'istiod-1-30');
  t.is(istiod.spec.template.spec.containers[0].env.find((e: any) => e.name === 'CA_TRUSTED_NODE_ACCOUNTS').value, 'istio-system/zt');
  // The k8s settings of the component address the renamed DaemonSet.
  const moved = renderOf(['profile=ambient', 'values.ztunnel.resourceName=zt', 'components.ztunnel.k8s.nodeSelector.pool=mesh']).objects;
  t.is(find(moved, 'DaemonSet', 'zt').spec.template.spec.nodeSelector.pool, 'mesh');
});

test('k8s settings land on the DaemonSets; the ones a DaemonSet has no place for are warned about', (t) => {
  const text = [
    IOP,
    'spec:',
    '  profile: ambient',
    '  components:',
    '    cni:',
    '      k8s:',
    '        strategy: {rollingUpdate: {maxUnavailable: 3}}',
    '        priorityClassName: my-critical',
    '        replicaCount: 2',
    '        env: [{name: FOO, value: bar}]',
    '    ztunnel:',
    '      k8s:',
    '        podAnnotations: {team: mesh}',
    '        hpaSpec: {minReplicas: 1, maxReplicas: 3}',
  ].join('\n');
  const { objects, warnings } = renderOf([], text);
  const cni = find(objects, 'DaemonSet', 'istio-cni-node');
  t.is(cni.spec.updateStrategy.rollingUpdate.maxUnavailable, 3);
  t.is(cni.spec.template.spec.priorityClassName, 'my-critical');
  t.is(env(cni, 'FOO'), 'bar');
  t.is(find(objects, 'DaemonSet', 'ztunnel').spec.template.metadata.annotations.team, 'mesh');
  t.deepEqual(warnings.map((w) => w.path).sort(), ['components.cni.k8s.replicaCount', 'components.ztunnel.k8s.hpaSpec']);
  t.true(warnings.every((w) => /one pod per node/.test(w.message)));
});

test('component hub and tag reach the agents images (golden input component_hub_tag)', (t) => {
  // Its tags name no Istio version: rendered as 1.31 (as istioctl of that release renders the input).
  const { objects } = renderOf([], fs.readFileSync(path.join(REF, 'component_hub_tag.yaml'), 'utf8'), '1.31');
  // The component's hub and tag win over spec.hub/tag; the global variant still applies.
  t.is(container(find(objects, 'DaemonSet', 'istio-cni-node')).image, 'component.cni.hub/install-cni:v3.3.3-global.variant');
  t.is(container(find(objects, 'DaemonSet', 'ztunnel')).image, 'component.ztunnel.hub/ztunnel:4-global.variant');
  t.is(container(find(objects, 'Deployment', 'istiod')).image, 'component.pilot.hub/pilot:2-global.variant');
});

test('quotas and network policies only when asked; pull secrets on both ServiceAccounts and pods', (t) => {
  t.falsy(
    renderOf(['profile=ambient']).objects.find(
      (o) => o.kind === 'ResourceQuota' || (o.kind === 'NetworkPolicy' && /cni|ztunnel/.test(o.metadata.name)),
    ),
  );
  const { objects } = renderOf([
    'profile=ambient',
    'values.cni.resourceQuotas.enabled=true',
    'values.ztunnel.resourceQuotas.enabled=true',
    'values.ztunnel.resourceQuotas.pods=100',
    'values.global.networkPolicy.enabled=true',
    'values.global.imagePullSecrets[0]=regcred',
  ]);
  t.deepEqual(find(objects, 'ResourceQuota', 'istio-cni-resource-quota').spec.hard, { pods: '5000' });
  // ztunnel's quota is named after the ztunnel, as Istio's chart names it.
  t.deepEqual(find(objects, 'ResourceQuota', 'ztunnel').spec.scopeSelector.matchExpressions[0].values, ['system-node-critical']);
  t.deepEqual(find(objects, 'ResourceQuota', 'ztunnel').spec.hard, { pods: '100' });
  t.deepEqual(find(objects, 'NetworkPolicy', 'istio-cni-node').spec.podSelector.matchLabels, { 'k8s-app': 'istio-cni-node' });
  t.deepEqual(find(objects, 'NetworkPolicy', 'ztunnel').spec.podSelector.matchLabels, { app: 'ztunnel' });
  for (const [kind, name] of [
    ['ServiceAccount', 'istio-cni'],
    ['ServiceAccount', 'ztunnel'],
  ])
    t.deepEqual(find(objects, kind!, name!).imagePullSecrets, [{ name: 'regcred' }]);
  for (const name of ['istio-cni-node', 'ztunnel'])
    t.deepEqual(find(objects, 'DaemonSet', name).spec.template.spec.imagePullSecrets, [{ name: 'regcred' }]);
});

test('ztunnel without ambient mode is warned about, naming what is missing', (t) => {
  const { warnings } = renderOf(['components.ztunnel.enabled=true', 'components.cni.enabled=true']);
  const w = warnings.find((x) => x.path === 'components.ztunnel');
  t.truthy(w);
  t.regex(w!.message, /values\.cni\.ambient\.enabled: true/);
  t.regex(w!.message, /PILOT_ENABLE_AMBIENT/);
  // ztunnel alone (the CNI agent and istiod from other IstioOperators) is a legitimate split: nothing to say.
  t.deepEqual(renderOf(['profile=empty', 'components.ztunnel.enabled=true']).warnings, []);
});

test('bad node-agent values fail naming the field; hostile strings stay strings', (t) => {
  const err = t.throws(() => renderOf(['profile=ambient', 'values.cni.tolerations=oops', 'values.ztunnel.resourceName=Not_A_Name']), {
    instanceOf: InputError,
  });
  const paths = (err as InputError).issues.map((i) => i.path);
  t.true(
    paths.some((p) => p.endsWith('values.cni.tolerations')),
    paths.join(', '),
  );
  t.true(
    paths.some((p) => p.endsWith('values.ztunnel.resourceName')),
    paths.join(', '),
  );

  const evil = 'x"\n  injected: true\n{{oops}}: y';
  const text = [
    IOP,
    'spec:',
    '  profile: ambient',
    '  values:',
    '    cni:',
    '      env:',
    `        EVIL: ${JSON.stringify(evil)}`,
    '      podAnnotations:',
    `        note: ${JSON.stringify(evil)}`,
  ].join('\n');
  const { objects } = renderOf([], text);
  const back = yaml.loadAll(toYamlStream(objects)) as any[];
  const cm = back.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'istio-cni-config');
  t.is(cm.data.EVIL, evil);
  t.false('injected' in cm.data);
  t.is(back.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'istio-cni-node').spec.template.metadata.annotations.note, evil);
});

test('the ambient render is deterministic', (t) => {
  t.is(toYamlStream(renderOf(['profile=ambient']).objects), toYamlStream(renderOf(['profile=ambient']).objects));
});
