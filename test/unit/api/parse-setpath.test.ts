import test from 'ava';
import { parseIstioOperator } from '../../../operator/api/parse.js';
import { parseSet, parsePath, applySet, typeValue } from '../../../operator/api/setpath.js';
import { InputError } from '../../../operator/api/errors.js';

const IOP = 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n';

function issues(fn: () => unknown): string {
  const e = (() => {
    try {
      fn();
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  if (!(e instanceof InputError)) throw new Error(`expected InputError, got ${String(e)}`);
  return e.issues.map((i) => `${i.path} | ${i.message} | ${i.hint ?? ''}`).join('\n');
}

test('parse: one IstioOperator, empty documents ignored, null spec becomes {}', (t) => {
  const iop = parseIstioOperator(`---\n---\n${IOP}spec:\n---\n`, 'a.yaml');
  t.deepEqual(iop.spec, {});
  t.is(iop.kind, 'IstioOperator');
});

test('parse: two IstioOperators in one file is an error naming the file', (t) => {
  const msg = issues(() => parseIstioOperator(`${IOP}spec: {}\n---\n${IOP}spec: {}\n`, 'two.yaml'));
  t.regex(msg, /two\.yaml/);
  t.regex(msg, /2 documents/);
});

test('parse: YAML syntax error carries file name and line number', (t) => {
  const text = `${IOP}spec:\n  profile: demo\n  components:\n    pilot: {enabled: true\n  hub: x\n`;
  const msg = issues(() => parseIstioOperator(text, 'broken.yaml'));
  t.regex(msg, /broken\.yaml:\d+/);
  t.regex(msg, /line \d+/);
  const bad = issues(() => parseIstioOperator(`${IOP}spec:\n  hub: a\n   tag: b\n`, 'indent.yaml'));
  t.regex(bad, /indent\.yaml:5/);
});

test('parse: wrong kind and apiVersion are named', (t) => {
  const msg = issues(() => parseIstioOperator('apiVersion: v1\nkind: ConfigMap\n', 'cm.yaml'));
  t.regex(msg, /kind/);
  t.regex(msg, /apiVersion/);
  t.regex(
    issues(() => parseIstioOperator('', 'empty.yaml')),
    /no IstioOperator/,
  );
});

test('parse: timestamps and YAML 1.1 booleans stay as written', (t) => {
  const iop = parseIstioOperator(`${IOP}spec:\n  tag: 2024-01-01\n  hub: yes\n`);
  t.is(iop.spec!.tag, '2024-01-01');
  t.is(iop.spec!.hub, 'yes');
});

test('setpath: istioctl path forms', (t) => {
  t.deepEqual(
    parsePath('values.global.proxy.resources.requests.cpu'),
    ['values', 'global', 'proxy', 'resources', 'requests', 'cpu'].map((key) => ({ kind: 'key', key })),
  );
  t.deepEqual(parsePath('components.ingressGateways[0].enabled'), [
    { kind: 'key', key: 'components' },
    { kind: 'key', key: 'ingressGateways' },
    { kind: 'index', index: 0 },
    { kind: 'key', key: 'enabled' },
  ]);
  t.deepEqual(parsePath('components.ingressGateways.[name:istio-ingressgateway].k8s'), [
    { kind: 'key', key: 'components' },
    { kind: 'key', key: 'ingressGateways' },
    { kind: 'select', field: 'name', value: 'istio-ingressgateway' },
    { kind: 'key', key: 'k8s' },
  ]);
  t.deepEqual(parsePath('values.gateways.istio-ingressgateway.podAnnotations.prometheus\\.io/scrape').at(-1), {
    kind: 'key',
    key: 'prometheus.io/scrape',
  });
  t.is(parseSet('spec.hub=foo').path, 'hub');
});

test('setpath: value typing like istioctl, strings where the API has strings', (t) => {
  t.is(parseSet('components.ingressGateways[0].enabled=true').value, true);
  t.is(parseSet('components.pilot.k8s.replicaCount=3').value, 3);
  t.is(parseSet('values.pilot.traceSampling=0.5').value, 0.5);
  t.is(parseSet('values.global.proxy.resources.requests.cpu=100m').value, '100m');
  t.is(parseSet('values.global.proxy.includeIPRanges=172.30.0.0/16,172.21.0.0/16').value, '172.30.0.0/16,172.21.0.0/16');
  t.is(parseSet('tag=1.20').value, '1.20');
  t.is(parseSet('tag=1').value, '1');
  t.is(parseSet('meshConfig.accessLogFile=/dev/stdout').value, '/dev/stdout');
  t.is(parseSet('values.pilot.podAnnotations.a=true').value, 'true');
  t.is(typeValue(parsePath('values.x'), '007'), '007');
  t.is(parseSet('meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE=true').value, 'true');
  t.is(parseSet('values.x=a=b').value, 'a=b');
});

test('setpath: malformed paths are InputErrors naming the path', (t) => {
  // A leading or trailing dot is ignored, as istioctl ignores it.
  for (const bad of [
    'values..global=1',
    'components.ingressGateways[0=1',
    'components.ingressGateways[]=1',
    'components.ingressGateways[x]=1',
    'a]b=1',
    'noequals',
    '=1',
  ]) {
    const msg = issues(() => parseSet(bad));
    t.regex(msg, /--set/, bad);
    t.regex(msg, /malformed|missing/, bad);
  }
});

test('setpath: apply creates maps, selects by name, appends at the end, rejects far indices', (t) => {
  const spec: Record<string, any> = { components: { ingressGateways: [{ name: 'istio-ingressgateway', enabled: true }] } };
  applySet(spec, parseSet('components.ingressGateways.[name:istio-ingressgateway].k8s.replicaCount=3'));
  applySet(spec, parseSet('components.ingressGateways[1].name=second'));
  applySet(spec, parseSet('components.ingressGateways.[name:third].enabled=true'));
  applySet(spec, parseSet('values.global.proxy.resources.requests.cpu=100m'));
  t.deepEqual(spec.components.ingressGateways, [
    { name: 'istio-ingressgateway', enabled: true, k8s: { replicaCount: 3 } },
    { name: 'second' },
    { name: 'third', enabled: true },
  ]);
  t.is(spec.values.global.proxy.resources.requests.cpu, '100m');
  t.regex(
    issues(() => applySet(spec, parseSet('components.ingressGateways[7].enabled=true'))),
    /out of range/,
  );
  t.regex(
    issues(() => applySet(spec, parseSet('values.global.proxy.resources.requests.cpu.x=1'))),
    /cannot set key/,
  );
});
