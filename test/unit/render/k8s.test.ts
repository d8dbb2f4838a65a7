import test from 'ava';
import type { K8sObject } from '../../../operator/api/types.js';
import { applyK8sSettings } from '../../../operator/render/k8s.js';
import { strategicMerge } from '../../../operator/render/smp.js';

// k8s settings on hand-built objects shaped like istiod's, checked against what Istio's golden
// pilot_k8s_settings / ingressgateway_k8s_settings / pilot_hpa_pdb show.

function objects(): K8sObject[] {
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'istiod', namespace: 'istio-system' },
      spec: {
        strategy: { rollingUpdate: { maxSurge: '100%', maxUnavailable: '25%' } },
        template: {
          metadata: { annotations: { 'sidecar.istio.io/inject': 'false' } },
          spec: {
            tolerations: [{ key: 'cni.istio.io/not-ready', operator: 'Exists' }],
            securityContext: { runAsUser: 1337 },
            volumes: [{ name: 'local-certs', emptyDir: { medium: 'Memory' } }],
            containers: [
              {
                name: 'discovery',
                env: [
                  { name: 'REVISION', value: 'default' },
                  { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
                ],
                readinessProbe: { httpGet: { path: '/ready', port: 8080 }, initialDelaySeconds: 1, periodSeconds: 3, timeoutSeconds: 5 },
                resources: { requests: { cpu: '500m', memory: '2048Mi' } },
                volumeMounts: [{ name: 'local-certs', mountPath: '/var/run/secrets/istio-dns' }],
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'istiod', namespace: 'istio-system' },
      spec: {
        ports: [
          { name: 'grpc-xds', port: 15010 },
          { name: 'https-dns', port: 15012 },
        ],
        selector: { app: 'istiod' },
      },
    },
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'istiod', namespace: 'istio-system' },
      spec: {
        minReplicas: 1,
        maxReplicas: 5,
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'istiod' },
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }],
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'istiod', namespace: 'istio-system' },
      spec: { minAvailable: 1, selector: { matchLabels: { app: 'istiod' } } },
    },
  ];
}
const target = { name: 'istiod', container: 'discovery', field: 'components.pilot.k8s' };
const dep = (o: K8sObject[]): any => o.find((x) => x.kind === 'Deployment');
const main = (o: K8sObject[]): any => dep(o).spec.template.spec.containers[0];

test('env merges by name in Kubernetes order: replaced in place, new ones follow the last matched', (t) => {
  const o = objects();
  applyK8sSettings(
    o,
    {
      env: [
        { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'new.path' } } },
        { name: 'GODEBUG', value: 'gctrace=111' },
        { name: 'NEW_VAR', value: 'new_value' },
      ],
    },
    target,
  );
  t.deepEqual(
    main(o).env.map((e: any) => e.name),
    ['REVISION', 'POD_NAME', 'GODEBUG', 'NEW_VAR', 'POD_NAMESPACE'],
  );
  t.is(main(o).env[1].valueFrom.fieldRef.fieldPath, 'new.path');
});

test('resources and readinessProbe merge into the main container', (t) => {
  const o = objects();
  applyK8sSettings(
    o,
    { resources: { requests: { memory: '999Mi' } }, readinessProbe: { initialDelaySeconds: 555 }, imagePullPolicy: 'Always' },
    target,
  );
  t.deepEqual(main(o).resources, { requests: { cpu: '500m', memory: '999Mi' } });
  t.deepEqual(main(o).readinessProbe, {
    httpGet: { path: '/ready', port: 8080 },
    initialDelaySeconds: 555,
    periodSeconds: 3,
    timeoutSeconds: 5,
  });
  t.is(main(o).imagePullPolicy, 'Always');
});

test('pod-level settings: nodeSelector, affinity, tolerations (replaced), securityContext (pod), priorityClassName, podAnnotations, strategy, replicas', (t) => {
  // Without an HPA: with one, replicaCount is left to the autoscaler (tested below).
  const o = objects().filter((x) => x.kind !== 'HorizontalPodAutoscaler');
  applyK8sSettings(
    o,
    {
      nodeSelector: { master: 'true' },
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'istio', effect: 'NoSchedule' }],
      securityContext: { sysctls: [{ name: 'net.ipv4.ip_local_port_range', value: '80 65535' }] },
      priorityClassName: 'system-cluster-critical',
      podAnnotations: { a: 'b' },
      strategy: { rollingUpdate: { maxUnavailable: '50%' } },
      replicaCount: 3,
    },
    target,
  );
  const d = dep(o);
  const pod = d.spec.template.spec;
  t.deepEqual(pod.nodeSelector, { master: 'true' });
  t.truthy(pod.affinity.nodeAffinity);
  t.deepEqual(pod.tolerations, [{ key: 'dedicated', operator: 'Equal', value: 'istio', effect: 'NoSchedule' }]);
  t.deepEqual(pod.securityContext, { runAsUser: 1337, sysctls: [{ name: 'net.ipv4.ip_local_port_range', value: '80 65535' }] });
  t.is(pod.priorityClassName, 'system-cluster-critical');
  t.deepEqual(d.spec.template.metadata.annotations, { 'sidecar.istio.io/inject': 'false', a: 'b' });
  t.deepEqual(d.spec.strategy, { rollingUpdate: { maxSurge: '100%', maxUnavailable: '50%' } });
  t.is(d.spec.replicas, 3);
});

test('volumes merge by name, volumeMounts by mountPath', (t) => {
  const o = objects();
  applyK8sSettings(
    o,
    {
      volumes: [
        { name: 'extra', secret: { secretName: 'x' } },
        { name: 'local-certs', emptyDir: {} },
      ],
      volumeMounts: [{ name: 'extra', mountPath: '/etc/extra' }],
    },
    target,
  );
  t.deepEqual(
    dep(o).spec.template.spec.volumes.map((v: any) => v.name),
    ['extra', 'local-certs'],
  );
  t.deepEqual(dep(o).spec.template.spec.volumes[1].emptyDir, { medium: 'Memory' });
  t.deepEqual(
    main(o).volumeMounts.map((v: any) => v.mountPath),
    ['/etc/extra', '/var/run/secrets/istio-dns'],
  );
});

test('service merges into spec (ports by port), serviceAnnotations into metadata', (t) => {
  const o = objects();
  applyK8sSettings(
    o,
    {
      service: {
        externalTrafficPolicy: 'Local',
        ports: [
          { port: 15012, name: 'tls-xds' },
          { port: 8060, name: 'tcp' },
        ],
      },
      serviceAnnotations: { 'manifest-generate': 'x' },
    },
    target,
  );
  const svc: any = o.find((x) => x.kind === 'Service');
  t.is(svc.spec.externalTrafficPolicy, 'Local');
  t.deepEqual(svc.spec.ports, [
    { name: 'grpc-xds', port: 15010 },
    { name: 'tls-xds', port: 15012 },
    { name: 'tcp', port: 8060 },
  ]);
  t.deepEqual(svc.metadata.annotations, { 'manifest-generate': 'x' });
});

test('hpaSpec merges into the HPA spec; metrics replace, scaleTargetRef merges', (t) => {
  const o = objects();
  applyK8sSettings(
    o,
    {
      hpaSpec: {
        maxReplicas: 333,
        scaleTargetRef: { name: 'istio-pilot' },
        metrics: [{ type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 444 } } }],
      },
    },
    target,
  );
  const hpa: any = o.find((x) => x.kind === 'HorizontalPodAutoscaler');
  t.deepEqual(hpa.spec, {
    minReplicas: 1,
    maxReplicas: 333,
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'istio-pilot' },
    metrics: [{ type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 444 } } }],
  });
});

test('podDisruptionBudget: maxUnavailable replaces the rendered minAvailable (never both)', (t) => {
  const o = objects();
  applyK8sSettings(o, { podDisruptionBudget: { maxUnavailable: 1 } }, target);
  const pdb: any = o.find((x) => x.kind === 'PodDisruptionBudget');
  t.deepEqual(pdb.spec, { selector: { matchLabels: { app: 'istiod' } }, maxUnavailable: 1 });
});

test('a setting whose object is not rendered is a warning naming the field, not a crash', (t) => {
  const o = objects().filter((x) => x.kind !== 'HorizontalPodAutoscaler');
  const w = applyK8sSettings(o, { hpaSpec: { maxReplicas: 3 } }, target);
  t.is(w.length, 1);
  t.is(w[0].path, 'components.pilot.k8s.hpaSpec');
  t.regex(w[0].message, /HorizontalPodAutoscaler/);
});

test('settings address only the object named like the component', (t) => {
  const o = objects();
  o[0].metadata.name = 'other';
  const w = applyK8sSettings(o, { replicaCount: 2 }, target);
  t.is((o[0] as any).spec.replicas, undefined);
  t.is(w.length, 1);
});

test('strategic merge: null deletes, $patch: replace replaces a map', (t) => {
  t.deepEqual(strategicMerge({ a: 1, b: { c: 2, d: 3 } }, { a: null, b: { d: null, e: 4 } }), { b: { c: 2, e: 4 } });
  t.deepEqual(strategicMerge({ b: { c: 2 } }, { b: { $patch: 'replace', e: 4 } }), { b: { e: 4 } });
  t.deepEqual(strategicMerge([1, 2], [3]), [3], 'lists without a merge key are replaced');
});

test('replicaCount is left to the HorizontalPodAutoscaler when one is rendered, with a warning; applied when not', (t) => {
  const withHpa = objects();
  const hasHpa = withHpa.some((o) => o.kind === 'HorizontalPodAutoscaler');
  if (!hasHpa)
    withHpa.push({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'istiod', namespace: 'istio-system' },
      spec: { minReplicas: 1, maxReplicas: 5 },
    });
  const w = applyK8sSettings(withHpa, { replicaCount: 3 }, { name: 'istiod', container: 'discovery', field: 'components.pilot.k8s' });
  t.is((withHpa.find((o) => o.kind === 'Deployment') as any).spec.replicas, undefined);
  t.is(w.length, 1);
  t.is(w[0].path, 'components.pilot.k8s.replicaCount');
  t.regex(w[0].message, /HorizontalPodAutoscaler sets the replica count/);

  const noHpa = objects().filter((o) => o.kind !== 'HorizontalPodAutoscaler');
  t.deepEqual(applyK8sSettings(noHpa, { replicaCount: 3 }, { name: 'istiod', container: 'discovery', field: 'components.pilot.k8s' }), []);
  t.is((noHpa.find((o) => o.kind === 'Deployment') as any).spec.replicas, 3);
});
