// Proves the test cluster has the real API server's semantics the operator depends on:
// server-side apply conflicts, CRD schema validation, workloads that become Available,
// garbage collection through ownerReferences, and RBAC for ServiceAccount tokens.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import yaml from 'js-yaml';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { createNamespace, kubeConfig, kubectl, statusCode, uniqueName, waitFor } from './helpers/cluster.js';
import { repoRoot } from '../cluster/controlplane.js';

const objects = () => KubernetesObjectApi.makeApiClient(kubeConfig());

/** Server-side apply as `manager`; returns the HTTP status (200/201) or the error's status. */
async function apply(obj: KubernetesObject, manager: string, force = false): Promise<number> {
  try {
    await objects().patch(obj, undefined, undefined, manager, force, PatchStrategy.ServerSideApply);
    return 200;
  } catch (err) {
    const code = statusCode(err);
    if (code === undefined) throw err;
    return code;
  }
}

type Crd = KubernetesObject & { spec: { versions: Array<{ name: string; storage: boolean; [k: string]: unknown }>; [k: string]: unknown } };

// Through kubectl on purpose: client-node's typed serializer for CRDs drops schema keywords it
// names differently (`enum` is `_enum` on V1JSONSchemaProps), which silently weakens the schema.
async function establishCrd(crd: Crd): Promise<void> {
  const r = await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=istio-operator-tests', '-f', '-'], {
    input: JSON.stringify(crd),
  });
  if (r.code !== 0) throw new Error(`applying CRD ${crd.metadata?.name} failed: ${r.stderr}`);
  await waitFor(`CRD ${crd.metadata?.name} Established`, async () => {
    const got = (await objects().read({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: crd.metadata!.name! },
    })) as V1CustomResourceDefinition;
    return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  });
}

test('kubectl reaches the API server and reports its version', async (t) => {
  const r = await kubectl(['version', '-o', 'json']);
  t.is(r.code, 0, r.stderr);
  const v = JSON.parse(r.stdout) as { serverVersion?: { gitVersion?: string } };
  t.regex(v.serverVersion?.gitVersion ?? '', /^v1\.\d+\.\d+/);
});

test('two field managers applying the same field get a 409 conflict', async (t) => {
  const ns = await createNamespace(t, 'realness-ssa');
  const cm = (value: string): KubernetesObject & { data: Record<string, string> } => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'shared', namespace: ns },
    data: { mode: value },
  });
  t.is(await apply(cm('first'), 'manager-a'), 200);
  t.is(await apply(cm('second'), 'manager-b'), 409, 'a second manager changing an owned field must conflict');
  // Forcing takes the field over, which is what `--force-conflicts` relies on.
  t.is(await apply(cm('second'), 'manager-b', true), 200);
  const got = await kubeConfig().makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'shared', namespace: ns });
  t.is(got.data?.mode, 'second');
  const managers = (got.metadata?.managedFields ?? []).map((f) => f.manager);
  t.true(managers.includes('manager-b'));
});

test('the API server rejects a custom resource that violates its CRD schema', async (t) => {
  const group = 'realness.istio-operator.test';
  const crd: Crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `widgets.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  required: ['replicas'],
                  properties: {
                    replicas: { type: 'integer', minimum: 1 },
                    mode: { type: 'string', enum: ['fast', 'safe'] },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
  await establishCrd(crd);
  t.teardown(async () => {
    await objects()
      .delete(crd)
      .catch(() => {});
  });
  const ns = await createNamespace(t, 'realness-crd');
  const widget = (name: string, spec: Record<string, unknown>): KubernetesObject =>
    ({
      apiVersion: `${group}/v1`,
      kind: 'Widget',
      metadata: { name, namespace: ns },
      spec,
    }) as KubernetesObject;

  // A valid object may need a moment: discovery of a just-established CRD is eventually consistent.
  await waitFor('a valid Widget to be accepted', async () => (await apply(widget('good', { replicas: 2, mode: 'safe' }), 'tests')) === 200);
  for (const [spec, field] of [
    [{ replicas: 0 }, 'spec.replicas'],
    [{ replicas: 'two' }, 'spec.replicas'],
    [{ replicas: 1, mode: 'reckless' }, 'spec.mode'],
    [{ mode: 'safe' }, 'spec.replicas'],
  ] as const) {
    try {
      await objects().create(widget(uniqueName('bad'), spec));
      t.fail(`Widget with ${JSON.stringify(spec)} was accepted`);
    } catch (err) {
      t.is(statusCode(err), 422, `HTTP status for ${JSON.stringify(spec)}`);
      t.true(String((err as Error).message).includes(field), `error for ${JSON.stringify(spec)} names ${field}`);
    }
  }
});

// Our IstioOperator CRD, once it exists in the repo. Its spec is an object in any schema, so a string must be refused.
const iopCrdFile = path.join(repoRoot, 'crds', 'install.istio.io_istiooperators.yaml');
if (fs.existsSync(iopCrdFile)) {
  test('the API server rejects an IstioOperator that violates our CRD schema', async (t) => {
    const crd = yaml.load(fs.readFileSync(iopCrdFile, 'utf8')) as Crd;
    await establishCrd(crd);
    const ns = await createNamespace(t, 'realness-iop');
    const version = crd.spec.versions.find((v) => v.storage)?.name ?? 'v1alpha1';
    const iop = (name: string, spec: unknown) =>
      ({ apiVersion: `install.istio.io/${version}`, kind: 'IstioOperator', metadata: { name, namespace: ns }, spec }) as KubernetesObject;
    await waitFor('a valid IstioOperator to be accepted', async () => (await apply(iop('ok', { profile: 'minimal' }), 'tests')) === 200);
    const err = await t.throwsAsync(objects().create(iop('bad', 'not-an-object')));
    t.is(statusCode(err), 422);
    t.regex(String(err?.message), /spec/);
  });
}

test('a Deployment becomes Available on the fake node', async (t) => {
  const ns = await createNamespace(t, 'realness-deploy');
  const apps = kubeConfig().makeApiClient(AppsV1Api);
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'web' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1', readinessProbe: { httpGet: { path: '/', port: 80 } } }] },
        },
      },
    },
  });
  const d = await waitFor(
    'Deployment web Available with 2 ready replicas',
    async () => {
      const got = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
      const available = got.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
      return available && got.status?.readyReplicas === 2 ? got : undefined;
    },
    { timeoutMs: 90_000 },
  );
  t.is(d.status?.availableReplicas, 2);
  const pods = await kubeConfig().makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns });
  t.is(pods.items.length, 2);
  for (const p of pods.items) {
    t.is(p.status?.phase, 'Running');
    t.truthy(p.spec?.nodeName, 'the scheduler bound the pod');
  }
});

test('deleting an owner garbage-collects its dependents', async (t) => {
  const ns = await createNamespace(t, 'realness-gc');
  const core = kubeConfig().makeApiClient(CoreV1Api);
  const owner = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' }, data: { a: '1' } } });
  const ownerRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid!, blockOwnerDeletion: true };
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'dependent', ownerReferences: [ownerRef] } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'dependent', ownerReferences: [ownerRef] } } });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'bystander' } } });

  await core.deleteNamespacedConfigMap({ name: 'owner', namespace: ns, propagationPolicy: 'Background' });
  const gone = async (read: () => Promise<unknown>) => {
    try {
      await read();
      return false;
    } catch (err) {
      return statusCode(err) === 404;
    }
  };
  await waitFor('dependent ConfigMap collected', () => gone(() => core.readNamespacedConfigMap({ name: 'dependent', namespace: ns })));
  await waitFor('dependent Secret collected', () => gone(() => core.readNamespacedSecret({ name: 'dependent', namespace: ns })));
  const bystander = await core.readNamespacedConfigMap({ name: 'bystander', namespace: ns });
  t.is(bystander.metadata?.name, 'bystander', 'objects without the ownerReference stay');
});

test('a ServiceAccount token without RBAC rules is refused, and allowed once a Role grants it', async (t) => {
  const ns = await createNamespace(t, 'realness-rbac');
  const admin = kubeConfig();
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'nobody' } } });
  const tr = await core.createNamespacedServiceAccountToken({
    name: 'nobody',
    namespace: ns,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const token = tr.status?.token;
  t.truthy(token);

  const asSa = new KubeConfig();
  const cluster = admin.getCurrentCluster()!;
  asSa.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'sa', token }],
    contexts: [{ name: 'sa', cluster: cluster.name, user: 'sa' }],
    currentContext: 'sa',
  });
  const saCore = asSa.makeApiClient(CoreV1Api);
  const listStatus = async () => {
    try {
      await saCore.listNamespacedConfigMap({ namespace: ns });
      return 200;
    } catch (err) {
      return statusCode(err);
    }
  };
  // 403, not 401: the token authenticates as the ServiceAccount; only authorization says no.
  t.is(await listStatus(), 403);

  const rbac = objects();
  await rbac.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'read-configmaps', namespace: ns },
    rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }],
  } as KubernetesObject);
  await rbac.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'nobody-reads', namespace: ns },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-configmaps' },
    subjects: [{ kind: 'ServiceAccount', name: 'nobody', namespace: ns }],
  } as KubernetesObject);
  await waitFor('the RoleBinding to take effect', async () => (await listStatus()) === 200, { timeoutMs: 15_000 });
  t.pass();
});

// The harness's own promise: a test process that dies without cleaning up (crash, SIGKILL, a killed CI
// job) leaves no component running and no data behind. Only when this run built the local binaries.
const binDir = process.env.ISTIO_OPERATOR_BIN_DIR;
if (binDir) {
  test('a control plane whose owner is killed leaves no process and no files behind', async (t) => {
    const controlplane = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cluster', 'controlplane.js');
    const script = `
      const { startControlPlane } = await import(${JSON.stringify(controlplane)});
      const cp = await startControlPlane({ binDir: ${JSON.stringify(binDir)} });
      console.log(JSON.stringify({ dataDir: cp.dataDir }));
      setInterval(() => {}, 1000);`;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => {
      owner.kill('SIGKILL');
    });
    const { dataDir } = await new Promise<{ dataDir: string }>((resolve, reject) => {
      let out = '';
      owner.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]) as { dataDir: string });
      });
      owner.on('exit', (code) => reject(new Error(`control plane owner exited early (${code})`)));
    });
    const pids = fs
      .readFileSync(path.join(dataDir, 'pids'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => Number(l.split(' ')[0]));
    t.is(pids.length, 5, 'etcd, apiserver, controller-manager, scheduler, kwok');
    owner.kill('SIGKILL');
    const running = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor('the reaper to kill the components and delete the data dir', () => !fs.existsSync(dataDir) && !pids.some(running), {
      timeoutMs: 20_000,
    });
    t.pass();
  });
}
