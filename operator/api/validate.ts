import type { FieldIssue, Warning } from './errors.js';
import { isMap } from './merge.js';
import { parsePath, PATH_FORMS, PathSyntaxError } from './path.js';
import { DURATION_HINT, durationMs } from './duration.js';
import type { Values } from './types.js';

// Structural validation of a (merged, legacy-translated) IstioOperator spec. Every issue is collected.
// `values` issues are kept apart because `--force` turns them into warnings, as istioctl does.

type Check = (v: unknown, path: string, out: FieldIssue[]) => void;
type S =
  | { t: 'string' | 'bool' | 'number' | 'intOrString' | 'stringOrNumber' | 'any' | 'object' }
  | { t: 'int'; min?: number; max?: number; hint?: string }
  | { t: 'enum'; values: string[] }
  | { t: 'fields'; fields: Record<string, S>; open?: boolean; check?: Check }
  | { t: 'map'; of: S }
  | { t: 'list'; of: S; check?: Check }
  | { t: 'custom'; base: S; check: Check };

const str: S = { t: 'string' };
const bool: S = { t: 'bool' };
const num: S = { t: 'number' };
const int: S = { t: 'int' };
const nonNeg: S = { t: 'int', min: 0 };
const ios: S = { t: 'intOrString' };
const sOrN: S = { t: 'stringOrNumber' };
const any: S = { t: 'any' };
const obj: S = { t: 'object' };
const strMap: S = { t: 'map', of: str };
const fields = (f: Record<string, S>, open = false, check?: Check): S => ({ t: 'fields', fields: f, open, ...(check ? { check } : {}) });
const list = (of: S, check?: Check): S => ({ t: 'list', of, ...(check ? { check } : {}) });
const oneOf = (...values: string[]): S => ({ t: 'enum', values });
const custom = (base: S, check: Check): S => ({ t: 'custom', base, check });

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

// A tag names the `istiod-revision-tag-<tag>` Service, a DNS-1035 label of at most 63 characters.
const MAX_TAG_LENGTH = 63 - 'istiod-revision-tag-'.length;
function checkRevisionTag(v: unknown, path: string, out: FieldIssue[]): void {
  if (typeof v !== 'string') return;
  if (v.length > MAX_TAG_LENGTH || !DNS1123_LABEL.test(v)) {
    out.push({ path, message: `${JSON.stringify(v)} is not a valid revision tag`, hint: `a DNS-1123 label of at most ${MAX_TAG_LENGTH} characters (it names the Service istiod-revision-tag-<tag>)` });
  }
}

// A tag that equals a revision name would make `istio.io/rev=<name>` mean two control planes.
function crossRevisionTags(spec: unknown, root: string, out: FieldIssue[]): void {
  if (!isMap(spec) || !isMap(spec.values) || !Array.isArray(spec.values.revisionTags)) return;
  const rev = typeof spec.revision === 'string' && spec.revision ? spec.revision : 'default';
  const seen = new Set<string>();
  spec.values.revisionTags.forEach((tag: unknown, i: number) => {
    const path = `${root}.values.revisionTags[${i}]`;
    if (tag === rev) out.push({ path, message: `"${tag}" is the revision this IstioOperator installs`, hint: 'a tag is another name for a revision; pick a name that is not a revision' });
    else if (typeof tag === 'string' && seen.has(tag)) out.push({ path, message: `"${tag}" is listed twice` });
    if (typeof tag === 'string') seen.add(tag);
  });
}

export function checkDnsLabel(v: unknown, path: string, out: FieldIssue[], what = 'name'): void {
  if (typeof v !== 'string' || v === '') return;
  if (v.length > 63 || !DNS1123_LABEL.test(v)) {
    out.push({ path, message: `${JSON.stringify(v)} is not a valid ${what}`, hint: 'a DNS-1123 label: at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit' });
  }
}
// Kubernetes label syntax: the apiserver would reject anything else, so say so before rendering.
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelMap = custom(strMapPlaceholder(), (v, p, o) => {
  if (!isMap(v)) return;
  for (const [k, x] of Object.entries(v)) {
    if (!LABEL_NAME.test(k) || k.split('/').pop()!.length > 63) o.push({ path: `${p}.${k}`, message: `${JSON.stringify(k)} is not a valid label key`, hint: 'an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_" or "."' });
    if (typeof x === 'string' && (x.length > 63 || !LABEL_VALUE.test(x))) o.push({ path: `${p}.${k}`, message: `${JSON.stringify(x)} is not a valid label value`, hint: 'at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit' });
  }
});
function strMapPlaceholder(): S {
  return { t: 'map', of: { t: 'string' } };
}
const dnsLabel = (what: string): S => custom(str, (v, p, o) => checkDnsLabel(v, p, o, what));
const dnsSubdomain = custom(str, (v, p, o) => {
  if (typeof v === 'string' && v !== '' && (v.length > 253 || !DNS1123_SUBDOMAIN.test(v))) {
    o.push({ path: p, message: `${JSON.stringify(v)} is not a valid Kubernetes object name`, hint: 'a DNS-1123 subdomain: lowercase letters, digits, "-" and "."' });
  }
});
const duration = custom(str, (v, p, o) => {
  if (typeof v === 'string' && durationMs(v) === undefined) {
    o.push({ path: p, message: `${JSON.stringify(v)} is not a duration`, hint: DURATION_HINT });
  }
});

// Kubernetes quantities (resource.Quantity): a signed decimal with an SI or binary suffix or an exponent.
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;
const QUANTITY_HINT = 'a Kubernetes quantity such as 100m, 0.5 or 2 (CPU), 128Mi or 1Gi (memory)';
const quantity = custom(ios, (v, p, o) => {
  const q = String(v).trim();
  if (!QUANTITY.test(q)) o.push({ path: p, message: `${JSON.stringify(v)} is not a quantity`, hint: QUANTITY_HINT });
  else if (q.startsWith('-') && Number(q.replace(/[^0-9.eE+-]/g, '').replace(/[eE].*$/, '')) !== 0) o.push({ path: p, message: `${JSON.stringify(v)} is negative`, hint: `resources are 0 or more: ${QUANTITY_HINT}` });
});
/** An int-or-percent (rolling update, disruption budget): a count of pods, or "N%"; `max100` for what cannot exceed all pods. */
const intOrPercent = (max100: boolean): S =>
  custom(ios, (v, p, o) => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0) o.push({ path: p, message: `${v} is not a number of pods`, hint: 'an integer >= 0, or a percentage such as "25%"' });
      return;
    }
    const m = /^(\d+)%$/.exec(String(v));
    if (!m) o.push({ path: p, message: `${JSON.stringify(v)} is neither a number of pods nor a percentage`, hint: 'an integer >= 0, or a percentage such as "25%"' });
    else if (max100 && Number(m[1]) > 100) o.push({ path: p, message: `${v} is more than 100%`, hint: 'a percentage from 0% to 100%, or a number of pods' });
  });
/** A sampling percentage such as traceSampling: 0.0 to 100.0. */
const percentage = custom(num, (v, p, o) => {
  if (typeof v === 'number' && (v < 0 || v > 100)) o.push({ path: p, message: `${v} is not a percentage`, hint: 'a number from 0.0 to 100.0' });
});
const PORT_HINT = 'a port number from 1 to 65535';
const port: S = { t: 'int', min: 1, max: 65535, hint: PORT_HINT };
/** A container port by number or by name (an IANA service name: at most 15 lowercase letters, digits and "-"). */
const targetPort = custom(ios, (v, p, o) => {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 1 || v > 65535) o.push({ path: p, message: `${v} is not a port`, hint: `${PORT_HINT}, or a port name` });
  } else if (!/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(v as string) || !/[a-z]/.test(v as string)) {
    o.push({ path: p, message: `${JSON.stringify(v)} is neither a port number nor a port name`, hint: `${PORT_HINT}, or a name of at most 15 lowercase letters, digits and "-"` });
  }
});
// An image registry path (the docker reference grammar's domain[:port] then lowercase path components), e.g.
// docker.io/istio, gcr.io/istio-release, registry.local:5000/mirror/istio.
const HUB = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d{1,5})?|\[[0-9a-fA-F:]+\](?::\d{1,5})?)(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const hub = custom(str, (v, p, o) => {
  if (typeof v === 'string' && v !== '' && (!HUB.test(v) || v.length > 255)) {
    o.push({ path: p, message: `${JSON.stringify(v)} is not an image registry path`, hint: 'REGISTRY[:PORT]/PATH without a tag, e.g. docker.io/istio or registry.local:5000/istio (lowercase path)' });
  }
});

// ---- Kubernetes pieces (the shapes of core/v1, apps/v1, autoscaling/v2, policy/v1 that k8s settings use) ----

const toleration = fields({
  key: str, operator: oneOf('Exists', 'Equal'), value: str,
  effect: oneOf('', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'), tolerationSeconds: int,
});
const envVar = fields({ name: str, value: str, valueFrom: obj }, false, (v, p, o) => {
  if (isMap(v) && typeof v.name !== 'string') o.push({ path: `${p}.name`, message: 'is required', hint: 'the environment variable name' });
});
const resources = fields({ limits: { t: 'map', of: quantity }, requests: { t: 'map', of: quantity }, claims: list(obj) });
const metricTarget = fields({ type: oneOf('Utilization', 'Value', 'AverageValue'), averageUtilization: int, averageValue: ios, value: ios });
const metricId = fields({ name: str, selector: obj });
const metric = fields({
  type: oneOf('Resource', 'Pods', 'Object', 'External', 'ContainerResource'),
  resource: fields({ name: str, target: metricTarget }),
  containerResource: fields({ name: str, container: str, target: metricTarget }),
  pods: fields({ metric: metricId, target: metricTarget }),
  object: fields({ describedObject: obj, metric: metricId, target: metricTarget }),
  external: fields({ metric: metricId, target: metricTarget }),
});
const hpaSpec = fields(
  { scaleTargetRef: obj, minReplicas: { t: 'int', min: 1 }, maxReplicas: { t: 'int', min: 1 }, metrics: list(metric), behavior: obj },
  false,
  (v, p, o) => {
    if (isMap(v) && typeof v.minReplicas === 'number' && typeof v.maxReplicas === 'number' && v.minReplicas > v.maxReplicas) {
      o.push({ path: `${p}.minReplicas`, message: `${v.minReplicas} is greater than maxReplicas ${v.maxReplicas}`, hint: 'minReplicas <= maxReplicas' });
    }
  },
);
const servicePort = fields({ name: str, port, targetPort, protocol: oneOf('TCP', 'UDP', 'SCTP'), nodePort: { t: 'int', min: 0, max: 65535, hint: 'a port number from 30000 to 32767 (the default node port range), or 0 to let Kubernetes choose' }, appProtocol: str });
const service = fields(
  {
    type: oneOf('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'), ports: list(servicePort), selector: strMap,
    clusterIP: str, clusterIPs: list(str), externalIPs: list(str), loadBalancerIP: str, loadBalancerSourceRanges: list(str),
    loadBalancerClass: str, externalName: str, externalTrafficPolicy: oneOf('Cluster', 'Local'), internalTrafficPolicy: oneOf('Cluster', 'Local'),
    healthCheckNodePort: int, publishNotReadyAddresses: bool, sessionAffinity: oneOf('None', 'ClientIP'), sessionAffinityConfig: obj,
    ipFamilies: list(str), ipFamilyPolicy: str, allocateLoadBalancerNodePorts: bool, trafficDistribution: str,
  },
);
const overlay = fields({ apiVersion: str, kind: str, name: str, patches: list(fields({ path: str, value: any })) }, false, (v, p, o) => {
  if (!isMap(v)) return;
  if (typeof v.kind !== 'string' || !v.kind) o.push({ path: `${p}.kind`, message: 'is required', hint: 'the kind of the rendered object to patch, e.g. Deployment' });
  if (typeof v.name !== 'string' || !v.name) o.push({ path: `${p}.name`, message: 'is required', hint: 'the name of the rendered object to patch' });
  if (Array.isArray(v.patches)) v.patches.forEach((x, i) => {
    if (!isMap(x)) return;
    if (typeof x.path !== 'string' || !x.path) o.push({ path: `${p}.patches[${i}].path`, message: 'is required' });
    else {
      try {
        parsePath(x.path);
      } catch (e) {
        if (!(e instanceof PathSyntaxError)) throw e;
        o.push({ path: `${p}.patches[${i}].path`, message: `malformed path: ${e.message}`, hint: `${PATH_FORMS}, e.g. spec.template.spec.containers.[name:discovery].args.[:--log_as_json]` });
      }
    }
  });
});
const named = (what: string): Check => (v, p, o) => {
  if (isMap(v) && (typeof v.name !== 'string' || !v.name)) o.push({ path: `${p}.name`, message: 'is required', hint: what });
};
const k8s = fields({
  affinity: fields({ nodeAffinity: obj, podAffinity: obj, podAntiAffinity: obj }),
  env: list(envVar),
  hpaSpec,
  imagePullPolicy: oneOf('Always', 'IfNotPresent', 'Never'),
  nodeSelector: labelMap,
  podDisruptionBudget: fields({ minAvailable: intOrPercent(true), maxUnavailable: intOrPercent(true), selector: obj, unhealthyPodEvictionPolicy: oneOf('IfHealthyBudget', 'AlwaysAllow') }, false, (v, p, o) => {
    if (isMap(v) && v.minAvailable != null && v.maxUnavailable != null) o.push({ path: `${p}.maxUnavailable`, message: 'cannot be set together with minAvailable', hint: 'set one of minAvailable and maxUnavailable' });
  }),
  podAnnotations: strMap,
  priorityClassName: str,
  readinessProbe: fields({
    exec: obj, httpGet: obj, tcpSocket: obj, grpc: obj, initialDelaySeconds: nonNeg, timeoutSeconds: nonNeg, periodSeconds: nonNeg,
    successThreshold: nonNeg, failureThreshold: nonNeg, terminationGracePeriodSeconds: int,
  }),
  replicaCount: nonNeg,
  resources,
  service,
  serviceAnnotations: strMap,
  strategy: fields({ type: oneOf('RollingUpdate', 'Recreate'), rollingUpdate: fields({ maxSurge: intOrPercent(false), maxUnavailable: intOrPercent(true) }) }),
  tolerations: list(toleration),
  securityContext: obj,
  volumes: list(custom(obj, named('the volume name'))),
  volumeMounts: list(custom(fields({ name: str, mountPath: str, readOnly: bool, subPath: str, subPathExpr: str, mountPropagation: str, recursiveReadOnly: str }), named('the volume to mount'))),
  overlays: list(overlay),
});

// ---- IstioOperator spec ----

const componentFields = { enabled: bool, namespace: dnsLabel('namespace name'), hub, tag: sOrN, k8s };
const component = fields(componentFields);
const gateway = fields({ ...componentFields, name: dnsLabel('gateway name'), label: labelMap }, false, (v, p, o) => {
  if (isMap(v) && (typeof v.name !== 'string' || v.name === '')) o.push({ path: `${p}.name`, message: 'is required', hint: 'a DNS-1123 label such as istio-ingressgateway' });
});
const uniqueNames: Check = (v, p, o) => {
  if (!Array.isArray(v)) return;
  const seen = new Set<string>();
  v.forEach((g, i) => {
    if (isMap(g) && typeof g.name === 'string') {
      if (seen.has(g.name)) o.push({ path: `${p}[${i}].name`, message: `duplicate gateway name ${JSON.stringify(g.name)}`, hint: 'each gateway in a list needs its own name' });
      seen.add(g.name);
    }
  });
};
const ca = fields(
  {
    mode: oneOf('istiod', 'operator', 'provided', 'external'),
    secretName: dnsSubdomain,
    keyType: oneOf('RSA', 'ECDSA'),
    keySize: int,
    rootLifetime: duration,
    intermediateLifetime: duration,
    renewBefore: duration,
    address: str,
    externalCA: str,
  },
  false,
  (v, p, o) => {
    if (!isMap(v) || typeof v.keySize !== 'number') return;
    const ok = v.keyType === 'ECDSA' ? [256, 384] : [2048, 3072, 4096];
    if (!ok.includes(v.keySize)) o.push({ path: `${p}.keySize`, message: `${v.keySize} is not supported for ${v.keyType ?? 'RSA'} keys`, hint: `one of: ${ok.join(', ')}` });
  },
);

const revision = custom(str, (v, p, o) => {
  if (typeof v !== 'string' || v === '') return;
  checkDnsLabel(v, p, o, 'revision');
  if (v === 'default') o.push({ path: p, message: '"default" names the default revision, it cannot be a revision name', hint: 'leave revision empty for the default revision' });
});

// Checked against the chosen release's MeshConfig once the release is known (meshconfig.ts, called by resolve).
const meshConfig = obj;

// ---- values: the keys of Istio's Values type that exist in 1.30, typed where the render reads them ----

const gatewayValues = fields(
  {
    enabled: bool, autoscaleEnabled: bool, autoscaleMin: nonNeg, autoscaleMax: nonNeg, replicaCount: nonNeg, name: str,
    ports: list(servicePort), resources, tolerations: list(toleration), nodeSelector: strMap, podAnnotations: strMap,
    serviceAnnotations: strMap, labels: strMap, type: oneOf('ClusterIP', 'NodePort', 'LoadBalancer'), env: { t: 'map', of: any },
    cpu: fields({ targetAverageUtilization: int }), memory: fields({ targetAverageUtilization: int }), injectionTemplate: str, runAsRoot: bool,
  },
  true,
  minMax('autoscaleMin', 'autoscaleMax'),
);

function minMax(lo: string, hi: string): Check {
  return (v, p, o) => {
    if (isMap(v) && typeof v[lo] === 'number' && typeof v[hi] === 'number' && v[lo] > v[hi]) {
      o.push({ path: `${p}.${lo}`, message: `${v[lo]} is greater than ${hi} ${v[hi]}`, hint: `${lo} <= ${hi}` });
    }
  };
}

// values.global.proxy: the sidecar settings the injection template reads, typed as Istio's values schema types them
// (a port list is a string: "8080,9090"). Open: each release adds keys.
const proxyValues = fields(
  {
    autoInject: oneOf('enabled', 'disabled'), clusterDomain: str, componentLogLevel: str, enableCoreDump: bool,
    excludeInboundPorts: str, excludeOutboundPorts: str, excludeIPRanges: str, includeIPRanges: str, includeInboundPorts: str, includeOutboundPorts: str,
    holdApplicationUntilProxyStarts: bool, image: str, lifecycle: obj, logLevel: oneOf('trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'),
    outlierLogPath: str, privileged: bool, readinessFailureThreshold: nonNeg, readinessInitialDelaySeconds: nonNeg, readinessPeriodSeconds: nonNeg,
    resources, startupProbe: fields({ enabled: bool, failureThreshold: nonNeg }, true), statusPort: port, tracer: str, seccompProfile: obj,
  },
  true,
);

export const GLOBAL_KEYS = [
  'arch', 'autoscalingv2API', 'caAddress', 'caName', 'certSigners', 'configCluster', 'configValidation', 'defaultConfigVisibilitySettings',
  'defaultNodeSelector', 'defaultPodDisruptionBudget', 'defaultResources', 'defaultTolerations', 'enableReaderRBAC', 'externalIstiod',
  'hub', 'imagePullPolicy', 'imagePullSecrets', 'ipFamilies', 'ipFamilyPolicy', 'istioNamespace', 'istiod', 'jwtPolicy', 'logAsJson',
  'logging', 'meshID', 'meshNetworks', 'mountMtlsCerts', 'multiCluster', 'nativeNftables', 'network', 'networkPolicy',
  'omitSidecarInjectorConfigMap', 'operatorManageWebhooks', 'pilotCertProvider', 'platform', 'podDNSSearchNamespaces',
  'priorityClassName', 'proxy', 'proxy_init', 'remotePilotAddress', 'resourceScope', 'sds', 'sts', 'tag', 'trustBundleName',
  'variant', 'waypoint',
];
const globalValues = fields(
  {
    ...Object.fromEntries(GLOBAL_KEYS.map((k) => [k, any])),
    hub, tag: sOrN, variant: str, istioNamespace: dnsLabel('namespace name'), configValidation: bool,
    defaultTolerations: list(toleration), defaultNodeSelector: strMap, defaultResources: resources,
    imagePullPolicy: oneOf('', 'Always', 'IfNotPresent', 'Never'), imagePullSecrets: list(str), priorityClassName: str,
    logAsJson: bool, logging: fields({ level: str }, true), meshID: str, network: str, pilotCertProvider: str,
    multiCluster: fields({ enabled: bool, clusterName: str, globalDomainSuffix: str, includeEnvoyFilter: bool }, true),
    defaultPodDisruptionBudget: fields({ enabled: bool }, true), proxy: proxyValues,
    proxy_init: fields({ image: str, resources }, true), mountMtlsCerts: bool, omitSidecarInjectorConfigMap: bool, operatorManageWebhooks: bool,
    caAddress: str, caName: str, remotePilotAddress: str, externalIstiod: bool, configCluster: bool, networkPolicy: fields({ enabled: bool }, true),
    waypoint: fields({ resources, affinity: obj, nodeSelector: strMap, tolerations: list(toleration), topologySpreadConstraints: list(obj) }, true),
  },
);

const pilotValues = fields(
  {
    enabled: bool, autoscaleEnabled: bool, autoscaleMin: nonNeg, autoscaleMax: nonNeg, autoscaleBehavior: obj, replicaCount: nonNeg,
    rollingMaxSurge: intOrPercent(false), rollingMaxUnavailable: intOrPercent(true), hub, tag: sOrN, variant: str, image: str, traceSampling: percentage,
    resources, tolerations: list(toleration), nodeSelector: labelMap, podAnnotations: strMap, podLabels: labelMap, serviceAnnotations: strMap,
    deploymentLabels: labelMap, deploymentAnnotations: strMap, serviceAccountAnnotations: strMap, env: { t: 'map', of: any },
    envVarFrom: list(obj), initContainers: list(obj), jwksResolverExtraRootCA: str, taint: obj, pdb: obj, cpu: fields({ targetAverageUtilization: int }), memory: fields({ targetAverageUtilization: int }),
    configMap: bool, keepaliveMaxServerConnectionAge: str, extraContainerArgs: list(any), volumes: list(obj), volumeMounts: list(obj),
    affinity: obj, priorityClassName: str, topologySpreadConstraints: list(obj), seccompProfile: obj, ipFamilies: list(str), ipFamilyPolicy: str,
  },
  true,
  minMax('autoscaleMin', 'autoscaleMax'),
);

// The node agents' values: known keys typed (a wrong type fails here, naming the field, not in the cluster);
// open like Istio's own values, whose charts gain keys between releases.
const updateStrategy = fields({ type: oneOf('RollingUpdate', 'OnDelete'), rollingUpdate: fields({ maxUnavailable: intOrPercent(true), maxSurge: intOrPercent(false) }) });
const resourceQuotas = fields({ enabled: bool, pods: nonNeg });
const cniValues = fields(
  {
    hub, tag: sOrN, variant: str, image: str, pullPolicy: oneOf('', 'Always', 'IfNotPresent', 'Never'), logging: fields({ level: str }, true),
    cniBinDir: str, cniConfDir: str, cniConfFileName: str, cniNetnsDir: str, istioOwnedCNIConfig: bool, istioOwnedCNIConfigFileName: str,
    chained: bool, provider: oneOf('default', 'multus'), excludeNamespaces: list(str), affinity: obj, daemonSetLabels: labelMap,
    podAnnotations: strMap, podLabels: labelMap, seccompProfile: obj, seLinuxOptions: obj, useAppArmorAnnotation: bool, resources,
    resourceQuotas, tolerations: list(toleration), updateStrategy, terminationGracePeriodSeconds: nonNeg, env: { t: 'map', of: any },
    ambient: fields({
      enabled: bool, enablementSelectors: list(obj), configDir: str, dnsCapture: bool, ipv6: bool, reconcileIptablesOnStartup: bool,
      shareHostNetworkNamespace: bool, enableAmbientDetectionRetry: bool,
    }, true),
    repair: fields({
      enabled: bool, hub, tag: sOrN, labelPods: bool, deletePods: bool, repairPods: bool, initContainerName: str,
      brokenPodLabelKey: str, brokenPodLabelValue: str,
    }, true),
  },
  true,
);
const ztunnelValues = fields(
  {
    hub, tag: sOrN, variant: str, image: str, imagePullPolicy: oneOf('', 'Always', 'IfNotPresent', 'Never'), resourceName: dnsLabel('ztunnel name'),
    caAddress: str, xdsAddress: str, network: str, multiCluster: fields({ clusterName: str }, true), logLevel: str, logAsJson: bool,
    labels: labelMap, annotations: strMap, podAnnotations: strMap, podLabels: labelMap, nodeSelector: labelMap, tolerations: list(toleration),
    resources, resourceQuotas, peerCaCrl: fields({ enabled: bool }, true), volumes: list(obj), volumeMounts: list(obj), env: { t: 'map', of: any },
    seLinuxOptions: obj, dnsPolicy: str, dnsConfig: obj, terminationGracePeriodSeconds: nonNeg, updateStrategy, imagePullSecrets: list(str),
  },
  true,
);

/**
 * values.gateways: one entry per gateway (istio-ingressgateway, istio-egressgateway, custom names), beside two
 * settings shared by every gateway and the injection templates, which are not gateways.
 */
const GATEWAYS_SHARED: Record<string, S> = { securityContext: obj, seccompProfile: obj };
const gatewaysValues: S = custom({ t: 'object' }, (v, p, o) => {
  if (!isMap(v)) return;
  for (const [k, x] of Object.entries(v)) check(GATEWAYS_SHARED[k] ?? gatewayValues, x, `${p}.${k.includes('.') ? `"${k}"` : k}`, o);
});

export const VALUES_KEYS = [
  'pdb', 'base', 'cni', 'compatibilityVersion', 'defaultRevision', 'experimental', 'gatewayClasses', 'gateways', 'global', 'istiodRemote',
  'meshConfig', 'ownerName', 'pilot', 'platform', 'profile', 'revision', 'revisionTags', 'sidecarInjectorWebhook', 'telemetry', 'ztunnel',
];
const valuesSchema = fields({
  ...Object.fromEntries(VALUES_KEYS.map((k) => [k, any])),
  global: globalValues,
  pilot: pilotValues,
  gateways: gatewaysValues,
  cni: cniValues,
  ztunnel: ztunnelValues,
  sidecarInjectorWebhook: fields({
    enableNamespacesByDefault: bool, rewriteAppHTTPProbe: bool, reinvocationPolicy: oneOf('Never', 'IfNeeded'), templates: strMap,
    defaultTemplates: list(str), neverInjectSelector: list(obj), alwaysInjectSelector: list(obj), injectedAnnotations: strMap,
    injectionURL: str, objectSelector: obj, useLegacySelectors: bool,
  }, true),
  telemetry: fields({ enabled: bool, v2: fields({ enabled: bool }, true) }, true),
  istiodRemote: fields({ enabled: bool, injectionURL: str, injectionPath: str, injectionCABundle: str, enabledLocalInjectorIstiod: bool }, true),
  base: fields({ enableCRDTemplates: bool, enableIstioConfigCRDs: bool, excludedCRDs: list(str), validationURL: str, validationCABundle: str, validationFailurePolicy: oneOf('Fail', 'Ignore') }, true),
  revisionTags: list(custom(str, (v, p, o) => checkRevisionTag(v, p, o))),
  defaultRevision: str,
  revision: str,
  profile: str,
  compatibilityVersion: str,
  meshConfig,
  ownerName: str,
});

const specSchema = fields({
  profile: str,
  installPackagePath: str,
  hub,
  tag: sOrN,
  namespace: dnsLabel('namespace name'),
  revision,
  compatibilityVersion: custom(str, (v, p, o) => {
    if (typeof v === 'string' && v !== '' && !/^1\.\d+$/.test(v)) o.push({ path: p, message: `${JSON.stringify(v)} is not a version`, hint: 'MAJOR.MINOR such as 1.29' });
  }),
  meshConfig,
  components: fields({
    base: component, pilot: component, cni: component, ztunnel: component,
    ingressGateways: list(gateway, uniqueNames), egressGateways: list(gateway, uniqueNames), ca,
  }),
  values: any, // validated separately: its issues may be forced into warnings
  unvalidatedValues: any,
});

// An ingress and an egress gateway with the same name in the same namespace would render the same Deployment.
function crossGatewayNames(spec: unknown, root: string, out: FieldIssue[]): void {
  if (!isMap(spec) || !isMap(spec.components)) return;
  const c = spec.components;
  const ns = (g: Values) => (typeof g.namespace === 'string' && g.namespace) || spec.namespace || 'istio-system';
  const seen = new Map<string, string>();
  for (const key of ['ingressGateways', 'egressGateways']) {
    if (!Array.isArray(c[key])) continue;
    c[key].forEach((g: unknown, i: number) => {
      if (!isMap(g) || typeof g.name !== 'string' || g.enabled === false) return;
      const id = `${ns(g)}/${g.name}`;
      const prev = seen.get(id);
      if (prev && !prev.startsWith(`${root}.components.${key}[`)) {
        out.push({ path: `${root}.components.${key}[${i}].name`, message: `${JSON.stringify(g.name)} is also the name of ${prev} in namespace ${ns(g)}`, hint: 'give ingress and egress gateways different names or namespaces' });
      }
      seen.set(id, `${root}.components.${key}[${i}]`);
    });
  }
}

/** metadata.name and namespace end up in the ownership label values, so they must be valid label values too. */
export function validateMetadata(meta: unknown): FieldIssue[] {
  const out: FieldIssue[] = [];
  if (meta === undefined || meta === null) return out;
  if (!isMap(meta)) return [{ path: 'metadata', message: 'must be a mapping' }];
  if (meta.name !== undefined) {
    if (typeof meta.name !== 'string') out.push({ path: 'metadata.name', message: `must be a string, got ${typeName(meta.name)}` });
    else if (meta.name.length > 63 || !DNS1123_SUBDOMAIN.test(meta.name)) {
      out.push({ path: 'metadata.name', message: `${JSON.stringify(meta.name)} is not a valid IstioOperator name`, hint: 'at most 63 lowercase letters, digits, "-" and ".", since it becomes the value of the install.operator.istio.io/owning-resource label' });
    }
  }
  if (meta.namespace !== undefined) checkDnsLabel(meta.namespace, 'metadata.namespace', out, 'namespace name');
  return out;
}

export interface Validation {
  /** Issues in the IstioOperator API itself (never forceable). */
  issues: FieldIssue[];
  /** Suspicious but accepted input (unknown MeshConfig fields). */
  warnings: Warning[];
  /** Issues inside spec.values (`force` turns them into warnings). */
  valueIssues: FieldIssue[];
}

export function validateSpec(spec: unknown, root = 'spec'): Validation {
  const issues: FieldIssue[] = [];
  const valueIssues: FieldIssue[] = [];
  check(specSchema, spec, root, issues);
  crossGatewayNames(spec, root, issues);
  crossRevisionTags(spec, root, issues);
  if (isMap(spec) && spec.values !== undefined && spec.values !== null) check(valuesSchema, spec.values, `${root}.values`, valueIssues);
  return { issues, valueIssues, warnings: [] };
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function check(s: S, v: unknown, path: string, out: FieldIssue[]): void {
  if (v === undefined || v === null) return;
  const bad = (expected: string, hint?: string): void => {
    out.push({ path, message: `must be ${expected}, got ${typeName(v)}`, ...(hint ? { hint } : {}) });
  };
  switch (s.t) {
    case 'any':
      return;
    case 'object':
      if (!isMap(v)) bad('a mapping');
      return;
    case 'string':
      if (typeof v !== 'string') bad('a string', typeof v === 'number' || typeof v === 'boolean' ? `quote it: "${String(v)}"` : undefined);
      return;
    case 'bool':
      if (typeof v !== 'boolean') bad('true or false');
      return;
    case 'number':
      if (typeof v !== 'number') bad('a number');
      return;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) bad('an integer', s.hint);
      else if (s.min !== undefined && v < s.min) out.push({ path, message: `${v} is below the minimum`, hint: s.hint ?? `must be >= ${s.min}` });
      else if (s.max !== undefined && v > s.max) out.push({ path, message: `${v} is above the maximum`, hint: s.hint ?? `must be <= ${s.max}` });
      return;
    case 'intOrString':
      if (typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) bad('an integer or a string (quantity)');
      return;
    case 'stringOrNumber':
      if (typeof v !== 'string' && typeof v !== 'number') bad('a string or a number');
      return;
    case 'enum':
      if (typeof v !== 'string' || !s.values.includes(v)) {
        out.push({ path, message: `${JSON.stringify(v)} is not valid`, hint: `one of: ${s.values.filter((x) => x).join(', ')}` });
      }
      return;
    case 'custom':
      {
        const before = out.length;
        check(s.base, v, path, out);
        if (out.length === before) s.check(v, path, out);
      }
      return;
    case 'map':
      if (!isMap(v)) return bad('a mapping');
      for (const [k, x] of Object.entries(v)) check(s.of, x, `${path}.${k}`, out);
      return;
    case 'list':
      if (!Array.isArray(v)) return bad('a list');
      v.forEach((x, i) => check(s.of, x, `${path}[${i}]`, out));
      s.check?.(v, path, out);
      return;
    case 'fields': {
      if (!isMap(v)) return bad('a mapping');
      const known = Object.keys(s.fields);
      for (const [k, x] of Object.entries(v)) {
        const f = s.fields[k];
        if (f) check(f, x, `${path}.${k}`, out);
        else if (!s.open) {
          const near = didYouMean(k, known);
          out.push({ path: `${path}.${k}`, message: 'unknown field', hint: near ? `did you mean "${near}"?` : known.length <= 20 ? `valid: ${known.join(', ')}` : unknownHint(path) });
        }
      }
      s.check?.(v, path, out);
      return;
    }
  }
}

function unknownHint(parent: string): string {
  return parent.includes('.values')
    ? `not a known field of ${parent}; check the spelling, or put settings Istio's values do not define under spec.unvalidatedValues (or use --force)`
    : `not a known field of ${parent}`;
}

export function didYouMean(word: string, candidates: string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === w ? 0 : distance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 4)) ? best : undefined;
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}
