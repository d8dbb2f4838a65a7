import test from 'ava';
import { InputError } from '../../../operator/api/errors.js';
import type { IstioOperator, IstioOperatorSpec } from '../../../operator/api/types.js';
import { resolvedInstall, type ResolvedInstall } from '../../../operator/api/install.js';
import { RELEASE_ANNOTATION, RELEASES } from '../../../operator/api/releases.js';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { buildContexts, defaultValues } from '../../../operator/render/values.js';
import { compatibilityValues, compatibilityVersions } from '../../../operator/render/valueProfiles.js';
import { releaseFixturesDir } from '../../helpers/fixtures.js';

// buildContexts on hand-written, already-merged IstioOperators (no profile merge involved).

// Rendered as release 1.30 whatever the tag (the release annotation), so tests can use any tag.
const iop = (spec: IstioOperatorSpec, metadata?: IstioOperator['metadata']): ResolvedInstall =>
  resolvedInstall({
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { ...(metadata ?? {}), annotations: { ...(metadata?.annotations ?? {}), [RELEASE_ANNOTATION]: '1.30' } },
    spec,
  });

const allOn: IstioOperatorSpec['components'] = {
  base: { enabled: true },
  pilot: { enabled: true },
  ingressGateways: [{ name: 'istio-ingressgateway', enabled: true }],
  egressGateways: [{ name: 'istio-egressgateway', enabled: false }],
};

test('defaults come from manifests/values.yaml under Istio names', (t) => {
  const d = defaultValues();
  t.is(d.global.istioNamespace, 'istio-system');
  t.is(d.global.proxy.image, 'proxyv2');
  t.is(d.pilot.image, 'pilot');
  t.is(d.gateways['istio-ingressgateway'].type, 'LoadBalancer');
  t.is(d.gateways['istio-egressgateway'].type, 'ClusterIP');
  // Each call is a copy: mutating one cannot leak into the next render.
  d.global.hub = 'changed';
  t.not(defaultValues().global.hub, 'changed');
});

test('precedence: defaults < values < unvalidatedValues < spec-level settings', (t) => {
  const c = buildContexts(
    iop({
      hub: 'spec.hub',
      tag: 1.3,
      namespace: 'mesh',
      revision: 'canary',
      values: { global: { hub: 'values.hub', logAsJson: true, proxy: { logLevel: 'debug' } }, pilot: { traceSampling: 5 } },
      unvalidatedValues: { pilot: { traceSampling: 7 }, myCustomKey: 'x' },
      components: { ...allOn, pilot: { enabled: true, hub: 'pilot.hub', tag: 2 } },
    }),
  );
  const v = c.values;
  t.is(v.global.hub, 'spec.hub');
  t.is(v.global.tag, '1.3', 'numeric tags become strings');
  t.is(v.global.istioNamespace, 'mesh');
  t.is(v.revision, 'canary');
  t.is(v.global.logAsJson, true);
  t.is(v.global.proxy.logLevel, 'debug');
  t.is(v.global.proxy.image, 'proxyv2', 'siblings of a user key keep their defaults');
  t.is(v.pilot.traceSampling, 7);
  t.is(v.myCustomKey, 'x');
  t.is(v.pilot.hub, 'pilot.hub');
  t.is(v.pilot.tag, '2');
  const pilot = c.renders.find((r) => r.component === 'pilot')!;
  t.is(pilot.ctx.namespace, 'mesh');
  t.is(pilot.ctx.istioNamespace, 'mesh');
  t.is(pilot.ctx.revision, 'canary');
  t.is(pilot.ctx.rev, 'canary');
  t.is(pilot.ctx.revSuffix, '-canary');
  // The tag is only the image tag here (the release annotation names 1.30): the version installed is 1.30's.
  t.is(pilot.ctx.version, '1.30.3');
});

test('default revision: rev "default", no suffix', (t) => {
  const c = buildContexts(iop({ components: allOn }));
  const ctx = c.renders[0].ctx;
  t.is(ctx.revision, '');
  t.is(ctx.rev, 'default');
  t.is(ctx.revSuffix, '');
});

test('an explicit null in values unsets the default instead of crashing (bogus_cps)', (t) => {
  const c = buildContexts(iop({ components: allOn, values: { global: { mountMtlsCerts: null }, pilot: { autoscaleEnabled: null } } }));
  t.false('mountMtlsCerts' in c.values.global);
  t.false('autoscaleEnabled' in c.values.pilot);
});

test('meshConfig: defaults < values.meshConfig < spec.meshConfig, deep', (t) => {
  const c = buildContexts(
    iop({
      components: allOn,
      values: { meshConfig: { accessLogFile: '/dev/null', defaultConfig: { proxyMetadata: { A: '1' } } } },
      meshConfig: { accessLogFile: '/dev/stdout', defaultConfig: { proxyMetadata: { B: '2' } } },
    }),
  );
  t.is(c.meshConfig.accessLogFile, '/dev/stdout');
  t.deepEqual((c.meshConfig.defaultConfig as any).proxyMetadata, { A: '1', B: '2' });
  t.is(c.meshConfig.enablePrometheusMerge, true, 'default kept');
  t.is(c.renders[0].ctx.meshConfig, c.meshConfig);
});

test('only enabled components render; pilot namespace and component hub/tag', (t) => {
  const c = buildContexts(iop({ components: { base: { enabled: false }, pilot: { enabled: true, namespace: 'istio-control' } } }));
  t.deepEqual(
    c.renders.map((r) => r.component),
    ['pilot'],
  );
  t.is(c.renders[0].ctx.namespace, 'istio-control');
  t.is(c.renders[0].ctx.istioNamespace, 'istio-system');
  t.is(c.renders[0].field, 'components.pilot');
});

test('gateways: one context per enabled gateway, Istio labels, namespace and service account', (t) => {
  const c = buildContexts(
    iop({
      components: {
        ingressGateways: [
          { name: 'istio-ingressgateway', enabled: true, label: { aaa: 'aaa-val', version: '21' } },
          { name: 'user-ingressgateway', enabled: true, label: { ccc: 'ccc-val' } },
          { name: 'ilb-gateway', enabled: true, namespace: 'user-ingressgateway-ns' },
          { name: 'off-gateway', enabled: false },
        ],
        egressGateways: [{ name: 'istio-egressgateway', enabled: true, tag: 'special-tag2' }],
      },
    }),
  );
  const gws = c.renders.filter((r) => r.ctx.gateway);
  t.deepEqual(
    gws.map((r) => r.ctx.gateway!.name),
    ['istio-ingressgateway', 'user-ingressgateway', 'ilb-gateway', 'istio-egressgateway'],
  );
  t.deepEqual(
    gws.map((r) => r.field),
    ['components.ingressGateways[0]', 'components.ingressGateways[1]', 'components.ingressGateways[2]', 'components.egressGateways[0]'],
  );
  const [a, b, ilb, egress] = gws.map((r) => r.ctx.gateway!);
  t.deepEqual(a.labels, { app: 'istio-ingressgateway', istio: 'ingressgateway', aaa: 'aaa-val', version: '21' });
  // Istio gives every ingress gateway the type's app/istio labels; the user's labels add to them.
  t.deepEqual(b.labels, { app: 'istio-ingressgateway', istio: 'ingressgateway', ccc: 'ccc-val' });
  t.is(b.type, 'ingress');
  t.is(b.serviceAccountName, 'user-ingressgateway-service-account');
  t.is(b.namespace, 'istio-system');
  t.is(ilb.namespace, 'user-ingressgateway-ns');
  t.is(gws[2].ctx.namespace, 'user-ingressgateway-ns');
  t.is(ilb.values.type, 'LoadBalancer', 'starts from the type values');
  t.is(ilb.values.name, 'ilb-gateway');
  t.deepEqual(egress.labels, { app: 'istio-egressgateway', istio: 'egressgateway' });
  t.is(egress.type, 'egress');
  t.is(egress.values.tag, 'special-tag2');
  t.is(egress.values.type, 'ClusterIP');
  t.is(gws[3].component, 'egressGateways');
});

test('gateway labels can be replaced through values, and label wins over both', (t) => {
  const c = buildContexts(
    iop({
      values: { gateways: { 'istio-ingressgateway': { labels: { istio: 'custom' } } } },
      components: { ingressGateways: [{ name: 'g', enabled: true, label: { app: 'g' } }] },
    }),
  );
  t.deepEqual(c.renders[0].ctx.gateway!.labels, { app: 'g', istio: 'custom' });
});

test('values.gateways.istio-egressgateway.enabled=true turns the egress gateway on (flag_values_enable_egressgateway), and false turns a gateway off', (t) => {
  const withEntry = buildContexts(iop({ components: { ...allOn }, values: { gateways: { 'istio-egressgateway': { enabled: true } } } }));
  t.true(withEntry.renders.some((r) => r.ctx.gateway?.name === 'istio-egressgateway'));
  const noEntry = buildContexts(
    iop({ components: { pilot: { enabled: true } }, values: { gateways: { 'istio-egressgateway': { enabled: true } } } }),
  );
  t.deepEqual(
    noEntry.renders.map((r) => r.ctx.gateway?.name ?? r.component),
    ['pilot', 'istio-egressgateway'],
  );
  const off = buildContexts(iop({ components: { ...allOn }, values: { gateways: { 'istio-ingressgateway': { enabled: false } } } }));
  t.false(
    off.renders.some((r) => r.ctx.gateway),
    'enabled=false turns the default ingress gateway off',
  );
});

test('k8s replica settings and CPU reach the values the templates read from 1.31, as istioctl 1.31 carries them', (t) => {
  const spec: IstioOperatorSpec = {
    components: {
      pilot: {
        enabled: true,
        k8s: { hpaSpec: { minReplicas: 2, maxReplicas: 9 }, replicaCount: 3, resources: { requests: { cpu: '222m', memory: '1Gi' } } },
      },
      ingressGateways: [{ name: 'istio-ingressgateway', enabled: true, k8s: { hpaSpec: { minReplicas: 4 } } }],
      ztunnel: { enabled: true, k8s: { resources: { limits: { cpu: '1' } } } },
    },
  };
  const c = buildContexts(
    resolvedInstall({
      apiVersion: 'install.istio.io/v1alpha1',
      kind: 'IstioOperator',
      metadata: { annotations: { [RELEASE_ANNOTATION]: '1.31' } },
      spec,
    }),
  );
  t.like(c.values.pilot, { autoscaleMin: 2, autoscaleMax: 9, replicaCount: 3, resources: { requests: { cpu: '222m' } } });
  t.is(c.values.pilot.resources.requests.memory, '2048Mi', 'only the CPU is carried; the rest stays the default until the patch');
  const gateway = (x: typeof c) => x.renders.find((r) => r.ctx.gateway)!.ctx.gateway!;
  t.like(gateway(c).values, { autoscaleMin: 4, autoscaleMax: 5 });
  t.like(c.values.ztunnel, { resources: { limits: { cpu: '1' } } });
  // 1.30 (and 1.29) render from values alone; k8s settings only patch the rendered objects.
  const old = buildContexts(iop(spec));
  t.like(old.values.pilot, { autoscaleMin: 1, autoscaleMax: 5, replicaCount: 1 });
  t.like(gateway(old).values, { autoscaleMin: 1 });
});

test('bad gateway names and duplicate gateways are errors naming the field', (t) => {
  const e1 = t.throws(() => buildContexts(iop({ components: { ingressGateways: [{ name: 'Bad_Name', enabled: true }] } })), {
    instanceOf: InputError,
  });
  t.is(e1!.issues[0].path, 'components.ingressGateways[0].name');
  const e2 = t.throws(
    () =>
      buildContexts(
        iop({ components: { ingressGateways: [{ name: 'gw', enabled: true }], egressGateways: [{ name: 'gw', enabled: true }] } }),
      ),
    { instanceOf: InputError },
  );
  t.is(e2!.issues[0].path, 'components.egressGateways[0].name');
  t.regex(e2!.issues[0].message, /components\.ingressGateways\[0\]/);
  // Same name in another namespace is fine.
  t.notThrows(() =>
    buildContexts(
      iop({
        components: {
          ingressGateways: [
            { name: 'gw', enabled: true },
            { name: 'gw', namespace: 'other', enabled: true },
          ],
        },
      }),
    ),
  );
});

test('CA context: defaults, provided secret name, external address', (t) => {
  const d = buildContexts(iop({ components: allOn })).renders[0].ctx.ca;
  t.deepEqual(d, { mode: 'istiod', secretName: 'cacerts' });
  const p = buildContexts(iop({ components: { ...allOn, ca: { mode: 'provided', secretName: 'my-ca' } } })).renders[0].ctx.ca;
  t.deepEqual(p, { mode: 'provided', secretName: 'my-ca' });
  const c = buildContexts(
    iop({
      components: { ...allOn, ca: { mode: 'external', address: 'csr.cert-manager.svc:443', externalCA: 'ISTIOD_RA_KUBERNETES_API' } },
    }),
  );
  t.deepEqual(c.renders[0].ctx.ca, {
    mode: 'external',
    secretName: 'cacerts',
    address: 'csr.cert-manager.svc:443',
    externalCA: 'ISTIOD_RA_KUBERNETES_API',
  });
  t.is(c.values.global.caAddress, 'csr.cert-manager.svc:443', 'proxies send CSRs to the external CA');
  const e = t.throws(() => buildContexts(iop({ components: { ...allOn, ca: { mode: 'bogus' as never } } })), { instanceOf: InputError });
  t.is(e!.issues[0].path, 'components.ca.mode');
});

test('values profiles and compatibility versions layer under the user values', (t) => {
  const demo = buildContexts(iop({ components: allOn, values: { profile: 'demo', pilot: { traceSampling: 3 } } })).values;
  t.is(demo.pilot.autoscaleEnabled, false);
  t.is(demo.pilot.traceSampling, 3, 'user value wins over the profile');
  t.is(demo.meshConfig.accessLogFile, '/dev/stdout');
  const remote = buildContexts(iop({ components: allOn, values: { profile: 'remote' } })).values;
  t.is(remote.istiodRemote.enabled, true);
  t.is(remote.pilot.configMap, false);
  const compat = buildContexts(iop({ components: allOn, compatibilityVersion: '1.28' })).values;
  t.is(compat.pilot.env.DISABLE_TRACK_REMAINING_CB_METRICS, 'false');
  t.is(compat.pilot.env.PILOT_SIDECAR_PICK_BEST_SERVICE_NAMESPACE, 'false');
  t.false('ENABLE_NATIVE_SIDECARS' in compat.pilot.env, 'a 1.27 change is kept by 1.28');
  const e = t.throws(() => buildContexts(iop({ components: allOn, compatibilityVersion: '1.2' })), { instanceOf: InputError });
  t.is(e!.issues[0].path, 'compatibilityVersion');
  t.regex(e!.issues[0].hint ?? '', /1\.25/);
  const e2 = t.throws(() => buildContexts(iop({ components: allOn, values: { profile: 'nope' } })), { instanceOf: InputError });
  t.is(e2!.issues[0].path, 'values.profile');
});

test('buildContexts does not modify its input', (t) => {
  const spec: IstioOperatorSpec = { components: { ...allOn }, values: { global: { hub: 'h' } }, meshConfig: { a: 1 } };
  const before = JSON.stringify(spec);
  buildContexts(iop(spec));
  t.is(JSON.stringify(spec), before);
});

test("compatibility versions, per release: exactly what that release's own compatibility profiles set", (t) => {
  for (const r of RELEASES) {
    const dir = path.join(releaseFixturesDir(r.patch), 'helm-profiles');
    const theirs = fs
      .readdirSync(dir)
      .map((f) => /^compatibility-version-(\d+\.\d+)\.yaml$/.exec(f)?.[1])
      .filter((v): v is string => !!v)
      .sort();
    t.deepEqual(compatibilityVersions(r), theirs, `${r.line} accepts what its profiles exist for`);
    for (const v of theirs) {
      const p = yaml.load(fs.readFileSync(path.join(dir, `compatibility-version-${v}.yaml`), 'utf8')) as Record<string, any>;
      // Istio's profiles set the CNI chart's root keys at the top level (ambient.*); ours live under values.cni.
      const want: Record<string, any> = { pilot: { env: p.pilot?.env ?? {} } };
      const ambient = { ...(p.cni?.ambient ?? {}), ...(p.ambient ?? {}) };
      if (Object.keys(ambient).length) want.cni = { ambient };
      t.deepEqual(compatibilityValues(v, r), want, `${r.line} compatibilityVersion ${v}`);
    }
    t.is(compatibilityValues(r.line, r), undefined, `${r.line} does not accept itself`);
  }
});
