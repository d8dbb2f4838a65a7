// Over 500 lines by choice: istiod's component cases, each a short render and assertion.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import type { Values } from '../../../operator/api/types.js';
import type { CaContext, RenderContext } from '../../../operator/render/context.js';
import type { K8sObject } from '../../../operator/api/types.js';
import {
  INJECTION_TEMPLATES,
  injectionTemplate,
  injectionTemplatesOf,
  injectorConfigText,
  renderPilot,
} from '../../../operator/render/components/pilot.js';
import { manifestsDir } from '../../../operator/paths.js';
import { compareObjects, loadGolden, type Obj } from '../../golden/compare.js';
import { DEFAULT_RELEASE, RELEASES } from '../../../operator/api/releases.js';

// The pilot component on hand-built contexts (independent of the api and render-core layers), compared with
// Istio's goldens field by field through the shared comparer, plus the behaviours goldens do not show:
// revisions, CA modes, PDB/HPA switches, injection safety.

const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
function merge(a: Values, b: Values): Values {
  const out: Values = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isMap(v) && isMap(a[k]) ? merge(a[k], v) : v;
  return out;
}
const defaults = yaml.load(fs.readFileSync(path.join(manifestsDir, 'values.yaml'), 'utf8')) as Values;

interface Opts {
  values?: Values;
  meshConfig?: Record<string, unknown>;
  revision?: string;
  namespace?: string;
  ca?: CaContext;
}
export function ctxFor(o: Opts = {}): RenderContext {
  const values = merge(defaults, o.values ?? {});
  const revision = o.revision ?? '';
  if (revision) values.revision = revision;
  const meshConfig = merge((values.meshConfig as Values) ?? {}, o.meshConfig ?? {});
  return {
    values,
    meshConfig,
    revision,
    rev: revision || 'default',
    revSuffix: revision ? `-${revision}` : '',
    namespace: o.namespace ?? values.global.istioNamespace,
    istioNamespace: values.global.istioNamespace,
    version: String(values.global.tag),
    release: DEFAULT_RELEASE,
    ca: o.ca ?? { mode: 'istiod', secretName: 'cacerts' },
  };
}

const release = { global: { hub: 'registry.istio.io/release', tag: '1.1.4' } };
const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name) as any;
const container = (objs: K8sObject[], name = 'istiod') => find(objs, 'Deployment', name).spec.template.spec.containers[0];
const envOf = (c: any) => Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

// Stand-in for render-core's labels.ts, which adds the ownership labels to every object (and Istio's pod templates
// carry the owner too), so that the comparison below measures what this component decides.
function withOwnership(objs: K8sObject[]): K8sObject[] {
  return objs.map((o) => {
    const c = structuredClone(o) as any;
    c.metadata.labels = {
      ...c.metadata.labels,
      'operator.istio.io/component': 'Pilot',
      'install.operator.istio.io/owning-resource': 'unknown',
      'istio.io/rev': c.metadata.labels?.['istio.io/rev'] ?? 'default',
    };
    if (c.kind === 'Deployment') c.spec.template.metadata.labels['install.operator.istio.io/owning-resource'] = 'unknown';
    return c;
  });
}

function agreement(golden: string, ours: K8sObject[], select?: string[]) {
  const g = loadGolden(golden);
  return compareObjects(g, withOwnership(ours) as Obj[], { name: golden, ...(select ? { select } : {}) });
}

/** Differences this component accepts, each for a stated reason (see the report in the commit message). */
const ACCEPTED = [
  // Injection templates are our own Go-template text: behaviour matches, lines do not.
  /^data\.config\.templates\./,
  // Our own wording for the debugging ConfigMap's description.
  /^metadata\.annotations\.kubernetes\.io\/description$/,
  // Chart-only values istiod never reads (gateway classes, ztunnel resource name).
  /^data\.(merged|original)-values\.(gatewayClasses|ztunnel)/,
];
const unexplained = (r: ReturnType<typeof compareObjects>) =>
  r.diffs
    .filter((d) => !ACCEPTED.some((re) => re.test(d.path)))
    .map((d) => `${d.object} ${d.path}: golden ${JSON.stringify(d.golden)} ours ${JSON.stringify(d.ours)}`);
const report = (t: { log: (...a: unknown[]) => void }, r: ReturnType<typeof compareObjects>) => {
  t.log(`${r.name}: ${r.agree}/${r.leaves} golden leaves agree (${((100 * r.agree) / Math.max(1, r.leaves)).toFixed(1)}%)`);
  for (const o of r.objects) if (o.agree !== o.leaves) t.log(`  ${o.key}: ${o.agree}/${o.leaves}`);
};

const pilotDefault = () => renderPilot(ctxFor({ values: release, meshConfig: { rootNamespace: 'istio-control' } }));
const keys = (l: Array<{ kind: string; metadata: { name: string; namespace?: string } }>) =>
  l.map((o) => `${o.kind}:${o.metadata.namespace ?? ''}:${o.metadata.name}`).sort();

test('pilot_default: exactly the objects of the golden', (t) => {
  t.deepEqual(keys(pilotDefault()), keys(loadGolden('pilot_default.golden.yaml')));
});

test('pilot_default: every field outside the injection template text agrees', (t) => {
  const r = agreement('pilot_default.golden.yaml', pilotDefault());
  report(t, r);
  t.deepEqual(unexplained(r), []);
  t.deepEqual(r.missing, []);
});

test('all_on: the pilot objects of the default profile agree', (t) => {
  const ours = renderPilot(ctxFor());
  const mine = new Set(keys(ours));
  const g = loadGolden('all_on.golden-show-in-gh-pull-request.yaml').filter(
    (o) => mine.has(keys([o])[0]!) && !(o.kind === 'ConfigMap' && o.metadata.name === 'istio'),
  );
  t.is(g.length, 16);
  const r = compareObjects(g, withOwnership(ours) as Obj[], { name: 'all_on (pilot)' });
  report(t, r);
  t.deepEqual(unexplained(r), []);
});

test('pilot_override_values: values.pilot settings reach the Deployment and HPA', (t) => {
  const ours = renderPilot(
    ctxFor({
      namespace: 'istio-control',
      values: merge(release, {
        pilot: {
          resources: { requests: { cpu: '222m', memory: '333Mi' } },
          autoscaleMax: 8,
          autoscaleMin: 2,
          rollingMaxUnavailable: '30%',
          nodeSelector: { 'node-name': 'test' },
        },
      }),
      meshConfig: { rootNamespace: 'istio-control' },
    }),
  );
  const r = agreement('pilot_override_values.golden.yaml', ours, ['Deployment:*:istiod', 'HorizontalPodAutoscaler:*:istiod']);
  report(t, r);
  t.deepEqual(unexplained(r), []);
});

test('flag_output and install_package_path: the istiod Deployment agrees', (t) => {
  for (const golden of ['flag_output.golden.yaml', 'install_package_path.golden.yaml']) {
    const r = agreement(golden, renderPilot(ctxFor({ values: golden.startsWith('install') ? release : {} })), ['Deployment:*:istiod']);
    report(t, r);
    // flag_output's golden comes from an older chart than pilot_default's (no port names, no tls-xds port,
    // GOMEMLIMIT always set); where the two disagree we follow pilot_default, the current chart.
    const olderChart = golden === 'flag_output.golden.yaml' ? /env\[name=GOMEMLIMIT\]|ports\[containerPort=15012\]/ : /$^/;
    t.deepEqual(
      unexplained(r).filter((d) => !olderChart.test(d)),
      [],
      golden,
    );
  }
});

test('pilot_disable_tracing: mesh config with tracer none', (t) => {
  const r = agreement('pilot_disable_tracing.golden.yaml', renderPilot(ctxFor({ values: { global: { proxy: { tracer: 'none' } } } })), [
    'ConfigMap:*:istio',
  ]);
  report(t, r);
  t.deepEqual(unexplained(r), []);
});

test('pilot_hpa_pdb: autoscaleMin 2 renders a PDB; maxUnavailable replaces minAvailable', (t) => {
  // components.pilot.k8s.hpaSpec.minReplicas reaches values.pilot.autoscaleMin in render-core's translation.
  const ours = renderPilot(ctxFor({ values: { pilot: { autoscaleMin: 2, pdb: { maxUnavailable: 1 } } } }));
  const r = agreement('pilot_hpa_pdb.golden.yaml', ours, ['HorizontalPodAutoscaler:*:istiod', 'PodDisruptionBudget:*:istiod']);
  report(t, r);
  t.deepEqual(unexplained(r), []);
  t.is(find(ours, 'PodDisruptionBudget', 'istiod').spec.minAvailable, undefined);
  // One replica guaranteed: no PDB, it would block every drain.
  t.falsy(find(renderPilot(ctxFor()), 'PodDisruptionBudget', 'istiod'));
  t.truthy(find(renderPilot(ctxFor({ values: { pilot: { autoscaleEnabled: false, replicaCount: 3 } } })), 'PodDisruptionBudget', 'istiod'));
  t.falsy(
    find(
      renderPilot(ctxFor({ values: { pilot: { autoscaleMin: 3 }, global: { defaultPodDisruptionBudget: { enabled: false } } } })),
      'PodDisruptionBudget',
      'istiod',
    ),
  );
});

test('autoscaling off: replicas set, no HPA', (t) => {
  const ours = renderPilot(ctxFor({ values: { pilot: { autoscaleEnabled: false, replicaCount: 2 } } }));
  t.falsy(find(ours, 'HorizontalPodAutoscaler', 'istiod'));
  t.is(find(ours, 'Deployment', 'istiod').spec.replicas, 2);
  t.is(find(renderPilot(ctxFor()), 'Deployment', 'istiod').spec.replicas, undefined);
});

test('networkpolicy_enabled: NetworkPolicy only when asked', (t) => {
  t.falsy(find(renderPilot(ctxFor()), 'NetworkPolicy', 'istiod'));
  const r = agreement(
    'networkpolicy_enabled.golden.yaml',
    renderPilot(ctxFor({ values: { global: { networkPolicy: { enabled: true } } } })),
    ['NetworkPolicy:*:istiod'],
  );
  report(t, r);
  t.deepEqual(unexplained(r), []);
});

test('sidecar_template: user templates and default templates reach the injector config', (t) => {
  const credential = 'spec:\n  volumes:\n  - name: application-credentials\n    secret:\n      secretName: secret\n';
  const ours = renderPilot(
    ctxFor({
      values: {
        sidecarInjectorWebhook: { defaultTemplates: ['sidecar', 'credential-volume'], templates: { 'credential-volume': credential } },
      },
    }),
  );
  const cm = find(ours, 'ConfigMap', 'istio-sidecar-injector');
  const config = yaml.load(cm.data.config) as any;
  t.deepEqual(config.defaultTemplates, ['sidecar', 'credential-volume']);
  t.is(config.templates['credential-volume'], credential);
  t.deepEqual(Object.keys(config.templates), [
    'sidecar',
    'gateway',
    'grpc-simple',
    'grpc-agent',
    'waypoint',
    'kube-gateway',
    'agentgateway',
    'credential-volume',
  ]);
  const values = JSON.parse(cm.data.values);
  t.deepEqual(values.sidecarInjectorWebhook.defaultTemplates, ['sidecar', 'credential-volume']);
  const r = agreement('sidecar_template.golden.yaml', ours, ['ConfigMap:*:istio-sidecar-injector']);
  report(t, r);
  t.deepEqual(
    unexplained(r).filter((d) => !d.includes('credential-volume')),
    [],
  );
});

test('injector values carry --set values as Istio prints them', (t) => {
  const ours = renderPilot(ctxFor({ values: { global: { proxy: { includeIPRanges: '172.30.0.0/16,172.21.0.0/16' } } } }));
  t.true(find(ours, 'ConfigMap', 'istio-sidecar-injector').data.values.includes('"includeIPRanges": "172.30.0.0/16,172.21.0.0/16"'));
});

test('revision: names, labels and selectors Istio uses for a revision', (t) => {
  const ours = renderPilot(ctxFor({ revision: 'test-rev' }));
  t.deepEqual(keys(ours), [
    'ClusterRole::istio-reader-clusterrole-test-rev-istio-system',
    'ClusterRole::istiod-clusterrole-test-rev-istio-system',
    'ClusterRole::istiod-gateway-controller-test-rev-istio-system',
    'ClusterRoleBinding::istio-reader-clusterrole-test-rev-istio-system',
    'ClusterRoleBinding::istiod-clusterrole-test-rev-istio-system',
    'ClusterRoleBinding::istiod-gateway-controller-test-rev-istio-system',
    'ConfigMap:istio-system:istio-sidecar-injector-test-rev',
    'ConfigMap:istio-system:istio-test-rev',
    'ConfigMap:istio-system:values-test-rev',
    'Deployment:istio-system:istiod-test-rev',
    'HorizontalPodAutoscaler:istio-system:istiod-test-rev',
    'MutatingWebhookConfiguration::istio-sidecar-injector-test-rev',
    'Role:istio-system:istiod-test-rev',
    'RoleBinding:istio-system:istiod-test-rev',
    'Service:istio-system:istiod-test-rev',
    'ServiceAccount:istio-system:istiod-test-rev',
    'ValidatingWebhookConfiguration::istio-validator-test-rev-istio-system',
  ]);
  const dep = find(ours, 'Deployment', 'istiod-test-rev');
  t.deepEqual(dep.spec.selector.matchLabels, { app: 'istiod', 'istio.io/rev': 'test-rev' });
  t.is(dep.spec.template.metadata.labels['istio.io/rev'], 'test-rev');
  t.is(dep.spec.template.metadata.labels.istio, 'istiod');
  t.is(dep.spec.template.spec.serviceAccountName, 'istiod-test-rev');
  t.is(envOf(container(ours, 'istiod-test-rev')).REVISION, 'test-rev');
  t.deepEqual(find(ours, 'Service', 'istiod-test-rev').spec.selector, { app: 'istiod', 'istio.io/rev': 'test-rev' });
  t.is(find(ours, 'HorizontalPodAutoscaler', 'istiod-test-rev').spec.scaleTargetRef.name, 'istiod-test-rev');
  const mwc = find(ours, 'MutatingWebhookConfiguration', 'istio-sidecar-injector-test-rev');
  // A revision answers only to its own label: the legacy istio-injection webhooks belong to the default revision.
  t.deepEqual(
    mwc.webhooks.map((w: any) => w.name),
    ['rev.namespace.sidecar-injector.istio.io', 'rev.object.sidecar-injector.istio.io'],
  );
  t.deepEqual(mwc.webhooks[0].namespaceSelector.matchExpressions[0], { key: 'istio.io/rev', operator: 'In', values: ['test-rev'] });
  t.is(mwc.webhooks[0].clientConfig.service.name, 'istiod-test-rev');
  const vwc = find(ours, 'ValidatingWebhookConfiguration', 'istio-validator-test-rev-istio-system');
  t.deepEqual(vwc.webhooks[0].objectSelector.matchExpressions[0].values, ['test-rev']);
  t.is(vwc.webhooks[0].clientConfig.service.name, 'istiod-test-rev');
  const mesh = yaml.load(find(ours, 'ConfigMap', 'istio-test-rev').data.mesh) as any;
  t.is(mesh.defaultConfig.discoveryAddress, 'istiod-test-rev.istio-system.svc:15012');
  t.is(find(ours, 'ClusterRoleBinding', 'istiod-clusterrole-test-rev-istio-system').subjects[0].name, 'istiod-test-rev');
  for (const o of ours) if (o.metadata.labels?.['istio.io/rev']) t.is(o.metadata.labels['istio.io/rev'], 'test-rev', o.metadata.name);
});

test('another namespace: the injector webhook name carries it, as Istio does', (t) => {
  const ours = renderPilot(ctxFor({ namespace: 'istio-control' }));
  t.truthy(find(ours, 'MutatingWebhookConfiguration', 'istio-sidecar-injector-istio-control'));
  t.truthy(find(ours, 'ClusterRole', 'istiod-clusterrole-istio-control'));
  t.is(envOf(container(ours)).CA_TRUSTED_NODE_ACCOUNTS, 'istio-control/ztunnel');
});

test('CA modes: plug-in secret mounted for operator/provided, external CA env for external', (t) => {
  const vol = (objs: K8sObject[]) => find(objs, 'Deployment', 'istiod').spec.template.spec.volumes.find((v: any) => v.name === 'cacerts');
  t.deepEqual(vol(renderPilot(ctxFor())).secret, { secretName: 'cacerts', optional: true });
  t.deepEqual(vol(renderPilot(ctxFor({ ca: { mode: 'operator', secretName: 'cacerts' } }))).secret, {
    secretName: 'cacerts',
    optional: false,
  });
  const provided = renderPilot(ctxFor({ ca: { mode: 'provided', secretName: 'my-ca' } }));
  t.deepEqual(vol(provided).secret, { secretName: 'my-ca', optional: false });
  t.true(container(provided).volumeMounts.some((m: any) => m.name === 'cacerts' && m.mountPath === '/etc/cacerts'));
  t.false('EXTERNAL_CA' in envOf(container(provided)));

  const ext = envOf(container(renderPilot(ctxFor({ ca: { mode: 'external', secretName: 'cacerts', address: 'signer.example:443' } }))));
  t.is(ext.EXTERNAL_CA, 'ISTIOD_RA_KUBERNETES_API');
  t.is(ext.CA_ADDR, 'signer.example:443');
  t.is(ext.ENABLE_CA_SERVER, 'false');
  const ext2 = envOf(
    container(renderPilot(ctxFor({ ca: { mode: 'external', secretName: 'cacerts', address: 'x:1', externalCA: 'MyCA' } }))),
  );
  t.is(ext2.EXTERNAL_CA, 'MyCA');
});

test('user strings cannot change the structure: mesh config, env, labels, annotations', (t) => {
  const evil = 'a\nb: c\n{{ .Values }}\n---\nkind: Secret';
  const ours = renderPilot(
    ctxFor({
      meshConfig: { rootNamespace: evil, defaultConfig: { proxyMetadata: { X: evil } } },
      values: {
        pilot: { env: { EVIL: evil }, podLabels: { 'x/y': evil }, podAnnotations: { [evil]: evil }, extraContainerArgs: [evil] },
        global: { logging: { level: evil } },
      },
    }),
  );
  t.false(ours.some((o) => o.kind === 'Secret'));
  const mesh = yaml.load(find(ours, 'ConfigMap', 'istio').data.mesh) as any;
  t.is(mesh.rootNamespace, evil);
  t.is(mesh.defaultConfig.proxyMetadata.X, evil);
  const dep = find(ours, 'Deployment', 'istiod');
  t.is(envOf(container(ours)).EVIL, evil);
  t.is(dep.spec.template.metadata.labels['x/y'], evil);
  t.is(dep.spec.template.metadata.annotations[evil], evil);
  t.true(container(ours).args.includes(evil));
  t.true(container(ours).args.includes(`--log_output_level=${evil}`));
});

test('two renders are identical', (t) => {
  t.is(JSON.stringify(pilotDefault()), JSON.stringify(pilotDefault()));
});

test('injection templates: every called define travels with the template; no first-line indent; no gate left', (t) => {
  for (const release of RELEASES)
    for (const name of injectionTemplatesOf(release)) {
      const text = injectionTemplate(name, release);
      t.false(/^\s*#@/m.test(text), `${release.line} ${name}: a release gate reached the template text`);
      const defined = new Set([...text.matchAll(/define "([^"]+)"/g)].map((m) => m[1]));
      for (const m of text.matchAll(/template "([^"]+)"/g)) t.true(defined.has(m[1]), `${name} calls ${m[1]} without defining it`);
      // Istio's `indent` leaves the first line alone: a pipeline into it at column 0 would break the YAML in istiod.
      t.false(/^\{\{-? [^\n]*\| indent /m.test(text), `${name}: use nindent`);
      // Raw Go templates, never seen by Handlebars: the Go delimiters are intact.
      t.true(text.includes('{{'), name);
    }
  const cm = find(renderPilot(ctxFor()), 'ConfigMap', 'istio-sidecar-injector');
  const config = yaml.load(cm.data.config) as any;
  t.is(config.templates.sidecar, injectionTemplate('sidecar', DEFAULT_RELEASE));
  t.deepEqual(injectionTemplatesOf(RELEASES[0]!), INJECTION_TEMPLATES, 'istioctl 1.29.6 ships the agentgateway template too (golden/live)');
  t.is(config.template, '{{ Template_Version_And_Istio_Version_Mismatched_Check_Installation }}');
  t.is(config.policy, 'enabled');
  t.deepEqual(config.defaultTemplates, ['sidecar']);
  t.is(config.injectedAnnotations, null);
});

test('remote cluster: no local istiod; the istiod Service forwards to remotePilotAddress', (t) => {
  const remote = {
    istiodRemote: { enabled: true, injectionURL: 'https://istiod.example:15017/inject' },
    pilot: { configMap: false },
    global: { omitSidecarInjectorConfigMap: true },
  };
  const ip = renderPilot(ctxFor({ values: merge(remote, { global: { remotePilotAddress: '10.0.0.7' } }) }));
  for (const kind of ['Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget']) t.falsy(find(ip, kind, 'istiod'), kind);
  t.falsy(find(ip, 'ConfigMap', 'istio'));
  t.falsy(find(ip, 'ConfigMap', 'istio-sidecar-injector'));
  t.is(find(ip, 'Service', 'istiod').spec.selector, undefined);
  const slice = find(ip, 'EndpointSlice', 'istiod');
  t.deepEqual(slice.endpoints, [{ addresses: ['10.0.0.7'] }]);
  t.is(slice.addressType, 'IPv4');
  t.is(slice.metadata.labels['kubernetes.io/service-name'], 'istiod');
  t.falsy(find(ip, 'Endpoints', 'istiod'));
  const mwc = find(ip, 'MutatingWebhookConfiguration', 'istio-sidecar-injector');
  t.is(mwc.webhooks[0].clientConfig.url, 'https://istiod.example:15017/inject');
  t.is(mwc.webhooks[0].clientConfig.service, undefined);
  const host = renderPilot(ctxFor({ values: merge(remote, { global: { remotePilotAddress: 'istiod.example.com' } }) }));
  t.is(find(host, 'Service', 'istiod').spec.externalName, 'istiod.example.com');
  t.falsy(find(host, 'EndpointSlice', 'istiod'));
  // A local injector istiod in a remote cluster is a real istiod.
  t.truthy(
    find(renderPilot(ctxFor({ values: { istiodRemote: { enabled: true, enabledLocalInjectorIstiod: true } } })), 'Deployment', 'istiod'),
  );
});

test("remote cluster: istiod's own identity only where an istiod uses it; the reader gets the rights a primary needs there", (t) => {
  const kinds = (objs: K8sObject[]) => objs.map((o) => `${o.kind}:${o.metadata.name}`).sort();
  const remote = {
    istiodRemote: { enabled: true },
    pilot: { configMap: false },
    global: { omitSidecarInjectorConfigMap: true, remotePilotAddress: '10.0.0.7' },
  };
  // A plain remote: the primary's istiod reads it through the reader account; nothing of istiod's own.
  t.deepEqual(kinds(renderPilot(ctxFor({ values: remote }))), [
    'ClusterRole:istio-reader-clusterrole-istio-system',
    'ClusterRoleBinding:istio-reader-clusterrole-istio-system',
    'ConfigMap:values',
    'EndpointSlice:istiod',
    'MutatingWebhookConfiguration:istio-sidecar-injector',
    'Service:istiod',
  ]);
  // A config cluster (an external istiod runs as istiod's account against it) and a local injector keep it.
  for (const extra of [{ global: { configCluster: true } }, { istiodRemote: { enabledLocalInjectorIstiod: true } }]) {
    const objs = renderPilot(ctxFor({ values: merge(remote, extra) }));
    for (const k of [
      'ServiceAccount:istiod',
      'Role:istiod',
      'RoleBinding:istiod',
      'ClusterRole:istiod-clusterrole-istio-system',
      'ValidatingWebhookConfiguration:istio-validator-istio-system',
    ]) {
      t.true(kinds(objs).includes(k), `${JSON.stringify(extra)}: ${k}`);
    }
  }
  // Beside a local injector istiod, the primary's stand-in is istiod-remote; the local istiod keeps its own Service.
  const local = renderPilot(ctxFor({ values: merge(remote, { istiodRemote: { enabledLocalInjectorIstiod: true } }) }));
  t.truthy(find(local, 'Service', 'istiod').spec.selector);
  t.is(find(local, 'Service', 'istiod-remote').spec.selector, undefined);
  t.is(find(local, 'EndpointSlice', 'istiod-remote').metadata.labels['kubernetes.io/service-name'], 'istiod-remote');
  // The reader: configmaps and the webhooks on a remote only.
  const readerRules = (objs: K8sObject[]) => find(objs, 'ClusterRole', 'istio-reader-clusterrole-istio-system').rules as any[];
  const remoteRules = readerRules(renderPilot(ctxFor({ values: remote })));
  t.true(
    remoteRules.some(
      (r) =>
        r.apiGroups.includes('admissionregistration.k8s.io') &&
        r.resources.includes('mutatingwebhookconfigurations') &&
        r.verbs.includes('patch'),
    ),
  );
  t.true(remoteRules.some((r) => r.apiGroups.includes('') && r.resources.includes('configmaps') && r.verbs.includes('create')));
  t.false(readerRules(renderPilot(ctxFor())).some((r) => r.apiGroups.includes('admissionregistration.k8s.io')));
});

test("remote cluster: an IPv6 remotePilotAddress is an address from 1.30 on, a host name for 1.29 (as each release's chart)", (t) => {
  const remote = { istiodRemote: { enabled: true }, global: { remotePilotAddress: '2001:db8::1' } };
  const v6 = renderPilot(ctxFor({ values: remote }));
  t.is(find(v6, 'EndpointSlice', 'istiod').addressType, 'IPv6');
  t.is(find(v6, 'Service', 'istiod').spec.type, undefined);
  const old = renderPilot({ ...ctxFor({ values: remote }), release: RELEASES[0]! });
  t.falsy(find(old, 'EndpointSlice', 'istiod'));
  t.is(find(old, 'Service', 'istiod').spec.externalName, '2001:db8::1');
});

test("the reader (a primary's istiod on this cluster) may read ConfigMaps in every release: istiod 1.29.6 reads a remote's `istio` ConfigMap, without which the remote never syncs", (t) => {
  for (const release of RELEASES) {
    const rules = find(renderPilot({ ...ctxFor(), release }), 'ClusterRole', 'istio-reader-clusterrole-istio-system').rules as any[];
    const core = rules.find((r) => r.apiGroups.length === 1 && r.apiGroups[0] === '' && r.resources.includes('services'));
    t.true(core.resources.includes('configmaps'), `${release.patch}: ${JSON.stringify(core)}`);
    t.deepEqual(core.verbs, ['get', 'list', 'watch'], release.patch);
  }
});

test('resourceScope: cluster-scoped and namespaced objects rendered apart, as Istio does', (t) => {
  const scoped = (scope: string) => renderPilot(ctxFor({ values: { global: { resourceScope: scope } } })).map((o) => o.kind);
  t.true(scoped('cluster').every((k) => /^Cluster|WebhookConfiguration$/.test(k)));
  t.false(scoped('namespace').some((k) => /^Cluster|WebhookConfiguration$/.test(k)));
  t.true(scoped('namespace').includes('Deployment'));
  t.is(scoped('all').length, scoped('cluster').length + scoped('namespace').length);
});

test('certSigners: CSR signing rights for exactly the named signers', (t) => {
  const role = find(
    renderPilot(ctxFor({ values: { global: { certSigners: ['example.com/ca'] } } })),
    'ClusterRole',
    'istiod-clusterrole-istio-system',
  );
  t.deepEqual(role.rules.find((r: any) => r.resources[0] === 'signers').resourceNames, ['example.com/ca']);
  t.false(
    find(renderPilot(ctxFor()), 'ClusterRole', 'istiod-clusterrole-istio-system').rules.some((r: any) =>
      r.apiGroups.includes('certificates.k8s.io'),
    ),
  );
});

test('injector config: built-in templates written once per process give the same text as one dump of the whole config', (t) => {
  const values = {
    global: { proxy: { autoInject: 'enabled' } },
    sidecarInjectorWebhook: {
      templates: { custom: 'metadata:\n  labels:\n    x: "y: z"\n', sidecar: 'user-sidecar-7f3a' },
      defaultTemplates: ['sidecar', 'custom'],
    },
  };
  const text = injectorConfigText(values, DEFAULT_RELEASE);
  const parsed = yaml.load(text) as any;
  // The user's `sidecar` replaces the built-in in its place; `custom` follows the built-ins.
  t.deepEqual(Object.keys(parsed.templates), [...INJECTION_TEMPLATES, 'custom']);
  t.is(parsed.templates.sidecar, 'user-sidecar-7f3a');
  t.is(parsed.templates.custom, values.sidecarInjectorWebhook.templates.custom);
  t.is(text, yaml.dump(parsed, { lineWidth: -1, noRefs: true, sortKeys: false }).trimEnd());
  // A second render with other settings is not served from the first (nothing is kept between renders but the built-ins).
  t.notRegex(injectorConfigText({ global: { proxy: { autoInject: 'disabled' } } }, DEFAULT_RELEASE), /user-sidecar-7f3a/);
});
