import test from 'ava';
import type { KubeClient } from '../../../operator/apply/client.js';
import { installerOf, readStatus } from '../../../operator/install/survey.js';

// Who installed a control plane, by the marks each installer leaves (precheck and status both read it this way).

const meta = (m: Record<string, unknown>) => ({ metadata: { name: 'istiod', namespace: 'istio-system', ...m } });
const owner = {
  'install.operator.istio.io/owning-resource': 'cp',
  'install.operator.istio.io/owning-resource-namespace': 'ops',
  'istio.io/rev': 'default',
};

test('Sail by ownerReference, Helm by label or annotation', (t) => {
  t.deepEqual(
    installerOf(meta({ ownerReferences: [{ apiVersion: 'sailoperator.io/v1', kind: 'IstioRevision', name: 'default' }] }), new Set()),
    { installer: 'Sail', owner: 'IstioRevision default' },
  );
  t.deepEqual(
    installerOf(
      meta({
        labels: { 'app.kubernetes.io/managed-by': 'Helm' },
        annotations: { 'meta.helm.sh/release-name': 'istiod', 'meta.helm.sh/release-namespace': 'istio-system' },
      }),
      new Set(),
    ),
    { installer: 'Helm', owner: 'release istio-system/istiod' },
  );
});

test('owner labels: ours when an inventory exists for that owner, istioctl otherwise', (t) => {
  t.deepEqual(installerOf(meta({ labels: owner }), new Set(['ops/cp/default'])), {
    installer: 'IstioOperator',
    owner: 'IstioOperator ops/cp',
  });
  t.deepEqual(installerOf(meta({ labels: owner }), new Set()), { installer: 'istioctl', owner: 'istioctl (IstioOperator ops/cp)' });
  t.deepEqual(installerOf(meta({ labels: { ...owner, 'install.operator.istio.io/owning-resource': 'unknown' } }), new Set()), {
    installer: 'istioctl',
    owner: 'istioctl install',
  });
  t.deepEqual(
    installerOf(
      meta({ labels: { ...owner, 'install.operator.istio.io/owning-resource': 'installed-state' } }),
      new Set(['ops/installed-state/default']),
    ).installer,
    'istioctl',
  );
});

test('no marks at all: unknown, said as such', (t) => {
  t.is(installerOf(meta({ labels: { app: 'istiod' } }), new Set()).installer, 'unknown');
  t.is(installerOf(meta({ labels: { 'operator.istio.io/component': 'Pilot' } }), new Set()).installer, 'istioctl');
});

// A cluster as `status` reads it, answered by path (lists only): what a remote cluster holds after our install.
function fakeCluster(items: Record<string, Array<Record<string, any>>>): KubeClient {
  return {
    request: async (_method: string, path: string, opts: { query?: Record<string, unknown> } = {}) => {
      const sel = String(opts.query?.labelSelector ?? '');
      const all = items[path] ?? [];
      const match = (o: Record<string, any>) =>
        !sel ||
        sel.split(',').every((term) => {
          const [k, v] = term.split('=');
          return v === undefined ? k! in (o.metadata.labels ?? {}) : o.metadata.labels?.[k!] === v;
        });
      return { items: all.filter(match) };
    },
  } as unknown as KubeClient;
}

const remoteOwner = {
  'install.operator.istio.io/owning-resource': 'remote',
  'install.operator.istio.io/owning-resource-namespace': 'istio-system',
  'istio.io/rev': 'default',
};
const inventory = (objects: Array<{ kind: string; name: string }>) => ({
  metadata: {
    name: 'istio-operator-inventory-remote-default',
    namespace: 'istio-system',
    labels: { ...remoteOwner, 'install.operator.istio.io/inventory': 'true' },
  },
  data: { objects: JSON.stringify(objects.map((o) => ({ apiVersion: 'v1', ...o }))) },
});
const injector = (clientConfig: Record<string, unknown>) => ({
  metadata: { name: 'istio-sidecar-injector', labels: { ...remoteOwner, app: 'sidecar-injector', 'operator.istio.io/version': '1.30.3' } },
  webhooks: [{ name: 'namespace.sidecar-injector.istio.io', clientConfig }],
});
const injectedPod = {
  metadata: { name: 'shop', namespace: 'apps', annotations: { 'sidecar.istio.io/status': '{"revision":"default"}' } },
  spec: { containers: [{ name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.30.3' }] },
};

test('status: an install of ours with no istiod (a remote) is listed by its inventory, served by its injector; its proxies are not orphans', async (t) => {
  const svc = { service: { name: 'istiod', namespace: 'istio-system', path: '/inject/cluster/c2/net/n1', port: 443 } };
  const cluster = (slices: Array<Record<string, any>>) =>
    fakeCluster({
      '/api/v1/configmaps': [
        inventory([
          { kind: 'Service', name: 'istiod' },
          { kind: 'MutatingWebhookConfiguration', name: 'istio-sidecar-injector' },
        ]),
      ],
      '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations': [injector(svc)],
      '/apis/discovery.k8s.io/v1/namespaces/istio-system/endpointslices': slices,
      '/api/v1/pods': [injectedPod],
    });
  const served = await readStatus(
    cluster([
      { metadata: { name: 'istiod', labels: { 'kubernetes.io/service-name': 'istiod' } }, endpoints: [{ addresses: ['198.51.100.7'] }] },
    ]),
  );
  t.is(served.installs.length, 1);
  t.like(served.installs[0], {
    owner: 'IstioOperator istio-system/remote',
    revision: 'default',
    version: '1.30.3',
    release: '1.30',
    health: 'HEALTHY',
    istioNamespace: 'istio-system',
    remote: 'Service istio-system/istiod at 198.51.100.7',
  });
  t.is(served.installs[0]!.proxies.pods, 1);
  t.deepEqual(served.orphanProxies, []);
  // A Service that leads nowhere is not healthy.
  t.like((await readStatus(cluster([]))).installs[0], {
    health: 'ERROR',
    message: 'no istiod in this cluster; injection by Service istio-system/istiod, which has no endpoints',
  });
  // A config cluster's injector calls an external istiod by URL.
  const url = await readStatus(
    fakeCluster({
      '/api/v1/configmaps': [inventory([{ kind: 'MutatingWebhookConfiguration', name: 'istio-sidecar-injector' }])],
      '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations': [injector({ url: 'https://istiod.example.com:15017/inject' })],
    }),
  );
  t.like(url.installs[0], { health: 'HEALTHY', remote: 'https://istiod.example.com:15017/inject' });
  // A gateway-only install (no injector of its own) is no control plane: not listed.
  t.deepEqual(
    (await readStatus(fakeCluster({ '/api/v1/configmaps': [inventory([{ kind: 'Deployment', name: 'istio-eastwestgateway' }])] })))
      .installs,
    [],
  );
});
