import test from 'ava';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import { translateLegacy } from '../../../operator/api/legacy.js';
import { migrateIstioOperator } from '../../../operator/cli/migrate.js';
import { parseIstioOperator } from '../../../operator/api/parse.js';

const IOP = 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n';
const warn = (ws: Array<{ path: string; message: string }>) => ws.map((w) => `${w.path}: ${w.message}`).join('\n');

test('components citadel → ca with a warning; removed components warn with their replacement', (t) => {
  const r = resolveIstioOperator({
    files: [
      {
        name: 'old.yaml',
        text:
          IOP +
          'spec:\n  profile: minimal\n  components:\n    citadel: {enabled: true}\n    galley: {enabled: true}\n    policy: {enabled: true}\n    telemetry: {enabled: true}\n    sidecarInjector: {enabled: true}\n    nodeAgent: {enabled: true}\n',
      },
    ],
  });
  const w = warn(r.warnings);
  t.regex(w, /spec\.components\.citadel: .*components\.ca/);
  for (const c of ['galley', 'policy', 'telemetry', 'sidecarInjector', 'nodeAgent'])
    t.regex(w, new RegExp(`spec\\.components\\.${c}: dropped: .+`), c);
  t.regex(w, /policy: .*AuthorizationPolicy/);
  t.is(r.install.iop.spec!.components!.ca!.mode, 'istiod');
  t.false('citadel' in r.install.iop.spec!.components!);
  t.notRegex(w, /unknown field/);
});

test('citadel on a spec without ca creates components.ca; disabled citadel is dropped with an explanation', (t) => {
  t.deepEqual(translateLegacy({ components: { citadel: { enabled: true } } } as any).spec.components, { ca: { mode: 'istiod' } });
  const off = translateLegacy({ components: { citadel: { enabled: false } } } as any);
  t.regex(warn(off.warnings), /enabled: false/);
});

test('values.global mtls.auto, controlPlaneSecurityEnabled, outboundTrafficPolicy', (t) => {
  const r = resolveIstioOperator({
    files: [
      {
        name: 'v.yaml',
        text:
          IOP +
          'spec:\n  values:\n    global:\n      mtls: {auto: false, enabled: true}\n      controlPlaneSecurityEnabled: true\n      outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n',
      },
    ],
  });
  const s = r.install.iop.spec!;
  t.is(s.meshConfig!.enableAutoMtls, false);
  t.is(s.meshConfig!.outboundTrafficPolicy.mode, 'REGISTRY_ONLY');
  for (const k of ['mtls', 'controlPlaneSecurityEnabled', 'outboundTrafficPolicy']) t.false(k in s.values!.global, k);
  const w = warn(r.warnings);
  t.regex(w, /values\.global\.mtls\.auto: .*meshConfig\.enableAutoMtls/);
  t.regex(w, /values\.global\.mtls\.enabled: .*PeerAuthentication/);
  t.regex(w, /values\.global\.controlPlaneSecurityEnabled: dropped/);
  t.regex(w, /values\.global\.outboundTrafficPolicy: .*meshConfig\.outboundTrafficPolicy\.mode: REGISTRY_ONLY/);
});

test('explicit meshConfig wins over the legacy value, with a warning', (t) => {
  const r = translateLegacy({
    meshConfig: { outboundTrafficPolicy: { mode: 'ALLOW_ANY' } },
    values: { global: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } } },
  } as any);
  t.is(r.spec.meshConfig!.outboundTrafficPolicy.mode, 'ALLOW_ANY');
  t.regex(warn(r.warnings), /wins/);
});

test('autoscaling/v2beta1 metrics become autoscaling/v2 targets', (t) => {
  const r = translateLegacy({
    components: {
      pilot: { k8s: { hpaSpec: { metrics: [{ type: 'Resource', resource: { name: 'cpu', targetAverageUtilization: 80 } }] } } },
      ingressGateways: [
        {
          name: 'g',
          k8s: {
            hpaSpec: {
              metrics: [
                { type: 'Resource', resource: { name: 'memory', targetAverageValue: '100Mi' } },
                { type: 'Pods', pods: { metricName: 'rps', targetAverageValue: 10 } },
                { type: 'Object', object: { metricName: 'cpu', averageValue: 111 } },
              ],
            },
          },
        },
      ],
    },
  } as any);
  t.deepEqual((r.spec.components!.pilot!.k8s!.hpaSpec as any).metrics[0], {
    type: 'Resource',
    resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
  });
  const g = (r.spec.components!.ingressGateways![0].k8s!.hpaSpec as any).metrics;
  t.deepEqual(g[0].resource, { name: 'memory', target: { type: 'AverageValue', averageValue: '100Mi' } });
  t.deepEqual(g[1].pods, { metric: { name: 'rps' }, target: { type: 'AverageValue', averageValue: 10 } });
  t.deepEqual(g[2].object, { metric: { name: 'cpu' }, target: { type: 'AverageValue', averageValue: 111 } });
  t.is(r.warnings.length, 4);
});

test('reference v2beta1 inputs resolve and validate as autoscaling/v2', (t) => {
  const r = resolveIstioOperator({
    files: [
      {
        name: 'a.yaml',
        text:
          IOP +
          'spec:\n  components:\n    ingressGateways:\n    - name: istio-ingressgateway\n      enabled: true\n      k8s:\n        hpaSpec:\n          metrics:\n          - type: Resource\n            resource: {name: cpu, targetAverageUtilization: 70}\n',
      },
    ],
  });
  t.deepEqual((r.install.iop.spec!.components!.ingressGateways![0].k8s!.hpaSpec as any).metrics[0].resource.target, {
    type: 'Utilization',
    averageUtilization: 70,
  });
});

test('migrate keeps the user document (no profile merged in) and modernises it', (t) => {
  const iop = parseIstioOperator(
    IOP + 'metadata:\n  name: old\nspec:\n  profile: demo\n  installPackagePath: /x\n  values:\n    global:\n      mtls: {auto: true}\n',
    'old.yaml',
  );
  const m = migrateIstioOperator(iop);
  t.deepEqual(m.iop, {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { name: 'old' },
    spec: { profile: 'demo', meshConfig: { enableAutoMtls: true } },
  });
  t.is(m.warnings.length, 2);
});

test('values.istio_cni (before 1.24) becomes values.pilot.cni and values.cni.chained, with a warning', (t) => {
  const r = resolveIstioOperator({
    files: [
      {
        name: 'cni.yaml',
        text: IOP + 'spec:\n  components:\n    cni: {enabled: true}\n  values:\n    istio_cni: {enabled: true, chained: false}\n',
      },
    ],
  });
  const v = r.install.iop.spec!.values!;
  t.false('istio_cni' in v);
  t.is(v.pilot.cni.enabled, true);
  t.is(v.cni.chained, false);
  t.regex(
    warn(r.warnings),
    /spec\.values\.istio_cni: is deprecated; translated: istio_cni\.enabled → values\.pilot\.cni\.enabled, istio_cni\.chained → values\.cni\.chained/,
  );
  // An explicit modern setting wins and the old one is only dropped.
  const both = translateLegacy({ values: { istio_cni: { enabled: true }, pilot: { cni: { enabled: false } } } } as any);
  t.is(both.spec.values!.pilot.cni.enabled, false);
  t.regex(warn(both.warnings), /dropped/);
});
