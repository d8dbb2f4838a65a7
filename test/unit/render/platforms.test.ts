import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import { InputError } from '../../../operator/api/errors.js';
import { RELEASES } from '../../../operator/api/releases.js';
import { render, type K8sObject } from '../../../operator/render/index.js';
import { buildContexts } from '../../../operator/render/values.js';
import { platformsOf } from '../../../operator/render/platforms.js';
import { releaseFixturesDir } from '../../helpers/fixtures.js';

// values.global.platform: the table (render/platforms.ts) against each release's own platform files, where its
// values land, the layer it takes among the others, and what is refused. What each platform renders, object by
// object, is compared with the real istioctl in test/unit/golden.test.ts (the platform/ cases).

const IOP = 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator';
const resolveOf = (sets: string[], release = '1.30') => resolveIstioOperator({ sets, release });
const renderOf = (sets: string[], release = '1.30') => {
  const r = resolveOf(sets, release);
  const out = render(r.install);
  return { objects: out.objects, warnings: [...r.warnings, ...out.warnings] };
};
const find = (objs: K8sObject[], kind: string, name: string): any => objs.find((o) => o.kind === kind && o.metadata.name === name);
const hostPath = (ds: any, volume: string) => ds.spec.template.spec.volumes.find((v: any) => v.name === volume).hostPath.path;
const issuesOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof InputError) return e.issues;
    throw e;
  }
  return [];
};
const platformFiles = (tag: string) =>
  fs
    .readdirSync(path.join(releaseFixturesDir(tag), 'helm-profiles'))
    .map((f) => /^platform-(.+)\.yaml$/.exec(f)?.[1])
    .filter((p): p is string => !!p)
    .sort();

/** Every leaf of `want` is in `have` with the same value. */
function contains(t: any, have: any, want: any, at: string): void {
  if (want && typeof want === 'object' && !Array.isArray(want)) {
    for (const [k, v] of Object.entries(want)) contains(t, have?.[k], v, `${at}.${k}`);
    return;
  }
  t.deepEqual(have, want, at);
}

for (const r of RELEASES) {
  test(`${r.patch}: the table has exactly the release's platforms, and each platform file's values land where its charts read them`, (t) => {
    t.deepEqual(platformsOf(r), platformFiles(r.patch));
    for (const p of platformsOf(r)) {
      const file = (yaml.load(fs.readFileSync(path.join(releaseFixturesDir(r.patch), 'helm-profiles', `platform-${p}.yaml`), 'utf8')) ??
        {}) as Record<string, any>;
      const values = buildContexts(resolveOf([`values.global.platform=${p}`, 'components.cni.enabled=true'], r.patch).install).values;
      for (const [key, v] of Object.entries(file)) {
        if (key === 'cni') {
          // The CNI chart's own `cni`, and istiod's view of it (istiod's chart copies pilot.cni over its `cni`).
          contains(t, values.cni, v, `${p}: cni`);
          contains(t, values.pilot.cni, v, `${p}: pilot.cni`);
        } else if (key === 'pilot') {
          contains(t, values.pilot, v, `${p}: pilot`);
        } else {
          // A key at every chart's root: istiod's (values.pilot, shown at the top of its values ConfigMap) always;
          // the node agents' for the keys their charts read.
          contains(t, values.pilot[key], v, `${p}: pilot.${key}`);
          if (key === 'seLinuxOptions' || key === 'resourceQuotas') {
            contains(t, values.cni[key], v, `${p}: cni.${key}`);
            contains(t, values.ztunnel[key], v, `${p}: ztunnel.${key}`);
          }
        }
      }
      t.is(values.global.platform, p);
    }
  });
}

test("layers: the platform over the chart defaults and the profile, the user's values over the platform", (t) => {
  const ds = (sets: string[]) => find(renderOf(['components.cni.enabled=true', ...sets]).objects, 'DaemonSet', 'istio-cni-node');
  t.is(hostPath(ds([]), 'cni-bin-dir'), '/opt/cni/bin');
  t.is(hostPath(ds(['values.global.platform=k3s']), 'cni-bin-dir'), '/var/lib/rancher/k3s/data/cni');
  t.is(hostPath(ds(['values.global.platform=k3s']), 'cni-net-dir'), '/var/lib/rancher/k3s/agent/etc/cni/net.d');
  // The user's value wins over the platform's, key by key.
  const mine = ds(['values.global.platform=k3s', 'values.cni.cniBinDir=/opt/mine']);
  t.is(hostPath(mine, 'cni-bin-dir'), '/opt/mine');
  t.is(hostPath(mine, 'cni-net-dir'), '/var/lib/rancher/k3s/agent/etc/cni/net.d');
  // Over the ambient profile (whose values layer comes first) and a compatibility version, the platform still applies.
  const amb = find(
    renderOf(['profile=ambient', 'compatibilityVersion=1.28', 'values.global.platform=microk8s']).objects,
    'DaemonSet',
    'istio-cni-node',
  );
  t.is(hostPath(amb, 'cni-bin-dir'), '/var/snap/microk8s/current/opt/cni/bin');
  // values.platform (Istio's charts read it before global.platform) works the same.
  t.is(hostPath(ds(['values.platform=minikube']), 'cni-netns-dir'), '/var/run/docker/netns');
  const istiod = find(renderOf(['values.platform=minikube']).objects, 'Deployment', 'istiod');
  t.is(istiod.spec.template.spec.containers[0].env.find((e: any) => e.name === 'PLATFORM').value, 'minikube');
});

test("an unknown platform is an error naming the field and the release's platforms; case-sensitive, as Istio", (t) => {
  for (const [sets, field] of [
    [['values.global.platform=gcp'], 'values.global.platform'],
    [['values.global.platform=OpenShift'], 'values.global.platform'],
    [['values.platform=eks'], 'values.platform'],
  ] as const) {
    const is = issuesOf(() => render(resolveOf([...sets]).install));
    t.is(is.length, 1, sets.join(' '));
    t.is(is[0]!.path, field);
    t.regex(is[0]!.message, /unknown platform/);
    t.regex(is[0]!.hint!, /gke, k3d, k3s, microk8s, minikube, openshift/);
  }
  // The CLI says it the same way, exit 1.
  const file = `${IOP}\nspec:\n  values:\n    global:\n      platform: gcp\n`;
  t.throws(() => render(resolveIstioOperator({ files: [{ name: 'x.yaml', text: file }] }).install), {
    instanceOf: InputError,
    message: /values\.global\.platform: unknown platform "gcp"/,
  });
  // Empty is no platform.
  t.deepEqual(
    issuesOf(() => render(resolveOf(['values.global.platform=']).install)),
    [],
  );
});

test("openshift: Multus network, privileged SCC for both agents, no gateway UIDs, istiod trusts kube-system's ztunnel", (t) => {
  const { objects, warnings } = renderOf(
    ['profile=openshift-ambient', 'components.ingressGateways.[name:istio-ingressgateway].enabled=true'],
    '1.31',
  );
  t.deepEqual(warnings, []);
  const nad = find(objects, 'NetworkAttachmentDefinition', 'istio-cni');
  t.is(nad.apiVersion, 'k8s.cni.cncf.io/v1');
  t.is(nad.metadata.namespace, 'default');
  t.is(nad.metadata.labels['operator.istio.io/component'], 'Cni');
  const scc = {
    apiGroups: ['security.openshift.io'],
    resources: ['securitycontextconstraints'],
    resourceNames: ['privileged'],
    verbs: ['use'],
  };
  t.deepEqual(find(objects, 'ClusterRole', 'istio-cni').rules[1], scc);
  t.deepEqual(find(objects, 'ClusterRole', 'ztunnel').rules, [scc]);
  t.deepEqual(find(objects, 'ClusterRoleBinding', 'ztunnel').subjects, [
    { kind: 'ServiceAccount', name: 'ztunnel', namespace: 'kube-system' },
  ]);
  const cni = find(objects, 'DaemonSet', 'istio-cni-node');
  t.is(cni.metadata.namespace, 'kube-system');
  t.deepEqual(cni.spec.template.spec.containers[0].securityContext.seLinuxOptions, { type: 'spc_t' });
  t.deepEqual(find(objects, 'DaemonSet', 'ztunnel').spec.template.spec.containers[0].securityContext.seLinuxOptions, { type: 'spc_t' });
  const data = find(objects, 'ConfigMap', 'istio-cni-config').data;
  t.is(data.CHAINED_CNI_PLUGIN, 'false');
  t.is(data.CNI_CONF_NAME, 'istio-cni.conf');
  const istiod = find(objects, 'Deployment', 'istiod').spec.template.spec.containers[0];
  t.is(istiod.env.find((e: any) => e.name === 'CA_TRUSTED_NODE_ACCOUNTS').value, 'kube-system/ztunnel');
  t.is(istiod.terminationMessagePolicy, 'FallbackToLogsOnError', '1.31 adds it');
  t.deepEqual(find(objects, 'Deployment', 'istio-ingressgateway').spec.template.spec.securityContext, { runAsNonRoot: true });
  // The injector adds default/istio-cni to pods' networks when pilot.cni.provider is multus.
  t.regex(JSON.stringify(JSON.parse(find(objects, 'ConfigMap', 'istio-sidecar-injector').data.values).pilot.cni), /"provider":"multus"/);
  // 1.30's platform file has no terminationMessagePolicy.
  t.is(
    find(renderOf(['profile=openshift'], '1.30').objects, 'Deployment', 'istiod').spec.template.spec.containers[0].terminationMessagePolicy,
    undefined,
  );
});

test('openshift with ztunnel outside kube-system is warned about: istiod would refuse its certificate requests', (t) => {
  const { warnings } = renderOf(['profile=ambient', 'values.global.platform=openshift']);
  t.is(warnings.length, 1);
  t.is(warnings[0]!.path, 'components.ztunnel.namespace');
  t.regex(warnings[0]!.message, /istiod trusts only the ztunnel of kube-system .*openshift-ambient/);
  t.deepEqual(renderOf(['profile=ambient']).warnings, []);
});

test("gke: quotas for system-node-critical pods in both agents' namespaces", (t) => {
  const { objects } = renderOf(['profile=ambient', 'values.global.platform=gke']);
  t.deepEqual(
    objects
      .filter((o) => o.kind === 'ResourceQuota')
      .map((o) => `${o.metadata.namespace}/${o.metadata.name}`)
      .sort(),
    ['istio-system/istio-cni-resource-quota', 'istio-system/ztunnel'],
  );
  t.is(hostPath(find(objects, 'DaemonSet', 'istio-cni-node'), 'cni-bin-dir'), '/opt/cni/bin', 'no cluster to detect GKE from: the default');
});
