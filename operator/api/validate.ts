import type { FieldIssue, Warning } from './errors.js';
import { isMap } from './merge.js';
import type { Values } from './types.js';
import {
  anyValue,
  type Check,
  type S,
  bool,
  check,
  custom,
  fields,
  int,
  list,
  nonNeg,
  obj,
  oneOf,
  sOrN,
  str,
  strMap,
  typeName,
} from './schema.js';
import {
  DNS1123_SUBDOMAIN,
  checkDnsLabel,
  DNS1123_LABEL,
  dnsLabel,
  dnsSubdomain,
  duration,
  hub,
  intOrPercent,
  k8s,
  labelMap,
  percentage,
  port,
  resources,
  servicePort,
  toleration,
} from './k8sfields.js';

// Structural validation of a (merged, legacy-translated) IstioOperator spec. Every issue is collected.
// `values` issues are kept apart because `--force` turns them into warnings, as istioctl does.

// A tag names the `istiod-revision-tag-<tag>` Service, a DNS-1035 label of at most 63 characters.
const MAX_TAG_LENGTH = 63 - 'istiod-revision-tag-'.length;
function checkRevisionTag(v: unknown, path: string, out: FieldIssue[]): void {
  if (typeof v !== 'string') return;
  if (v.length > MAX_TAG_LENGTH || !DNS1123_LABEL.test(v)) {
    out.push({
      path,
      message: `${JSON.stringify(v)} is not a valid revision tag`,
      hint: `a DNS-1123 label of at most ${MAX_TAG_LENGTH} characters (it names the Service istiod-revision-tag-<tag>)`,
    });
  }
}

// A tag that equals a revision name would make `istio.io/rev=<name>` mean two control planes.
function crossRevisionTags(spec: unknown, root: string, out: FieldIssue[]): void {
  if (!isMap(spec) || !isMap(spec.values) || !Array.isArray(spec.values.revisionTags)) return;
  const rev = typeof spec.revision === 'string' && spec.revision ? spec.revision : 'default';
  const seen = new Set<string>();
  spec.values.revisionTags.forEach((tag: unknown, i: number) => {
    const path = `${root}.values.revisionTags[${i}]`;
    if (tag === rev)
      out.push({
        path,
        message: `"${tag}" is the revision this IstioOperator installs`,
        hint: 'a tag is another name for a revision; pick a name that is not a revision',
      });
    else if (typeof tag === 'string' && seen.has(tag)) out.push({ path, message: `"${tag}" is listed twice` });
    if (typeof tag === 'string') seen.add(tag);
  });
}

// ---- IstioOperator spec ----

const componentFields = { enabled: bool, namespace: dnsLabel('namespace name'), hub, tag: sOrN, k8s };
const component = fields(componentFields);
const gateway = fields({ ...componentFields, name: dnsLabel('gateway name'), label: labelMap }, false, (v, p, o) => {
  if (isMap(v) && (typeof v.name !== 'string' || v.name === ''))
    o.push({ path: `${p}.name`, message: 'is required', hint: 'a DNS-1123 label such as istio-ingressgateway' });
});
const uniqueNames: Check = (v, p, o) => {
  if (!Array.isArray(v)) return;
  const seen = new Set<string>();
  v.forEach((g, i) => {
    if (isMap(g) && typeof g.name === 'string') {
      if (seen.has(g.name))
        o.push({
          path: `${p}[${i}].name`,
          message: `duplicate gateway name ${JSON.stringify(g.name)}`,
          hint: 'each gateway in a list needs its own name',
        });
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
    if (!ok.includes(v.keySize))
      o.push({
        path: `${p}.keySize`,
        message: `${v.keySize} is not supported for ${v.keyType ?? 'RSA'} keys`,
        hint: `one of: ${ok.join(', ')}`,
      });
  },
);

const revision = custom(str, (v, p, o) => {
  if (typeof v !== 'string' || v === '') return;
  checkDnsLabel(v, p, o, 'revision');
  if (v === 'default')
    o.push({
      path: p,
      message: '"default" names the default revision, it cannot be a revision name',
      hint: 'leave revision empty for the default revision',
    });
});

// Checked against the chosen release's MeshConfig once the release is known (meshconfig.ts, called by resolve).
const meshConfig = obj;

// ---- values: the keys of Istio's Values type that exist in 1.30, typed where the render reads them ----

const gatewayValues = fields(
  {
    enabled: bool,
    autoscaleEnabled: bool,
    autoscaleMin: nonNeg,
    autoscaleMax: nonNeg,
    replicaCount: nonNeg,
    name: str,
    ports: list(servicePort),
    resources,
    tolerations: list(toleration),
    nodeSelector: strMap,
    podAnnotations: strMap,
    serviceAnnotations: strMap,
    labels: strMap,
    type: oneOf('ClusterIP', 'NodePort', 'LoadBalancer'),
    env: { t: 'map', of: anyValue },
    cpu: fields({ targetAverageUtilization: int }),
    memory: fields({ targetAverageUtilization: int }),
    injectionTemplate: str,
    runAsRoot: bool,
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
    autoInject: oneOf('enabled', 'disabled'),
    clusterDomain: str,
    componentLogLevel: str,
    enableCoreDump: bool,
    excludeInboundPorts: str,
    excludeOutboundPorts: str,
    excludeIPRanges: str,
    includeIPRanges: str,
    includeInboundPorts: str,
    includeOutboundPorts: str,
    holdApplicationUntilProxyStarts: bool,
    image: str,
    lifecycle: obj,
    logLevel: oneOf('trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'),
    outlierLogPath: str,
    privileged: bool,
    readinessFailureThreshold: nonNeg,
    readinessInitialDelaySeconds: nonNeg,
    readinessPeriodSeconds: nonNeg,
    resources,
    startupProbe: fields({ enabled: bool, failureThreshold: nonNeg }, true),
    statusPort: port,
    tracer: str,
    seccompProfile: obj,
  },
  true,
);

export const GLOBAL_KEYS = [
  'arch',
  'autoscalingv2API',
  'caAddress',
  'caName',
  'certSigners',
  'configCluster',
  'configValidation',
  'defaultConfigVisibilitySettings',
  'defaultNodeSelector',
  'defaultPodDisruptionBudget',
  'defaultResources',
  'defaultTolerations',
  'enableReaderRBAC',
  'externalIstiod',
  'hub',
  'imagePullPolicy',
  'imagePullSecrets',
  'ipFamilies',
  'ipFamilyPolicy',
  'istioNamespace',
  'istiod',
  'jwtPolicy',
  'logAsJson',
  'logging',
  'meshID',
  'meshNetworks',
  'mountMtlsCerts',
  'multiCluster',
  'nativeNftables',
  'network',
  'networkPolicy',
  'omitSidecarInjectorConfigMap',
  'operatorManageWebhooks',
  'pilotCertProvider',
  'platform',
  'podDNSSearchNamespaces',
  'priorityClassName',
  'proxy',
  'proxy_init',
  'remotePilotAddress',
  'resourceScope',
  'sds',
  'sts',
  'tag',
  'trustBundleName',
  'variant',
  'waypoint',
];
const globalValues = fields({
  ...Object.fromEntries(GLOBAL_KEYS.map((k) => [k, anyValue])),
  hub,
  tag: sOrN,
  variant: str,
  istioNamespace: dnsLabel('namespace name'),
  configValidation: bool,
  defaultTolerations: list(toleration),
  defaultNodeSelector: strMap,
  defaultResources: resources,
  imagePullPolicy: oneOf('', 'Always', 'IfNotPresent', 'Never'),
  imagePullSecrets: list(str),
  priorityClassName: str,
  logAsJson: bool,
  logging: fields({ level: str }, true),
  meshID: str,
  network: str,
  pilotCertProvider: str,
  multiCluster: fields({ enabled: bool, clusterName: str, globalDomainSuffix: str, includeEnvoyFilter: bool }, true),
  defaultPodDisruptionBudget: fields({ enabled: bool }, true),
  proxy: proxyValues,
  proxy_init: fields({ image: str, resources }, true),
  mountMtlsCerts: bool,
  omitSidecarInjectorConfigMap: bool,
  operatorManageWebhooks: bool,
  caAddress: str,
  caName: str,
  remotePilotAddress: str,
  externalIstiod: bool,
  configCluster: bool,
  networkPolicy: fields({ enabled: bool }, true),
  waypoint: fields(
    { resources, affinity: obj, nodeSelector: strMap, tolerations: list(toleration), topologySpreadConstraints: list(obj) },
    true,
  ),
});

const pilotValues = fields(
  {
    enabled: bool,
    autoscaleEnabled: bool,
    autoscaleMin: nonNeg,
    autoscaleMax: nonNeg,
    autoscaleBehavior: obj,
    replicaCount: nonNeg,
    rollingMaxSurge: intOrPercent(false),
    rollingMaxUnavailable: intOrPercent(true),
    hub,
    tag: sOrN,
    variant: str,
    image: str,
    traceSampling: percentage,
    resources,
    tolerations: list(toleration),
    nodeSelector: labelMap,
    podAnnotations: strMap,
    podLabels: labelMap,
    serviceAnnotations: strMap,
    deploymentLabels: labelMap,
    deploymentAnnotations: strMap,
    serviceAccountAnnotations: strMap,
    env: { t: 'map', of: anyValue },
    envVarFrom: list(obj),
    initContainers: list(obj),
    jwksResolverExtraRootCA: str,
    taint: obj,
    pdb: obj,
    cpu: fields({ targetAverageUtilization: int }),
    memory: fields({ targetAverageUtilization: int }),
    configMap: bool,
    keepaliveMaxServerConnectionAge: str,
    extraContainerArgs: list(anyValue),
    volumes: list(obj),
    volumeMounts: list(obj),
    affinity: obj,
    priorityClassName: str,
    topologySpreadConstraints: list(obj),
    seccompProfile: obj,
    ipFamilies: list(str),
    ipFamilyPolicy: str,
    terminationMessagePolicy: oneOf('File', 'FallbackToLogsOnError'),
    trustedZtunnelNamespace: str,
    trustedZtunnelName: str,
  },
  true,
  minMax('autoscaleMin', 'autoscaleMax'),
);

// The node agents' values: known keys typed (a wrong type fails here, naming the field, not in the cluster);
// open like Istio's own values, whose charts gain keys between releases.
const updateStrategy = fields({
  type: oneOf('RollingUpdate', 'OnDelete'),
  rollingUpdate: fields({ maxUnavailable: intOrPercent(true), maxSurge: intOrPercent(false) }),
});
const resourceQuotas = fields({ enabled: bool, pods: nonNeg });
const cniValues = fields(
  {
    hub,
    tag: sOrN,
    variant: str,
    image: str,
    pullPolicy: oneOf('', 'Always', 'IfNotPresent', 'Never'),
    logging: fields({ level: str }, true),
    cniBinDir: str,
    cniConfDir: str,
    cniConfFileName: str,
    cniNetnsDir: str,
    istioOwnedCNIConfig: bool,
    istioOwnedCNIConfigFileName: str,
    chained: bool,
    provider: oneOf('default', 'multus'),
    excludeNamespaces: list(str),
    affinity: obj,
    daemonSetLabels: labelMap,
    podAnnotations: strMap,
    podLabels: labelMap,
    seccompProfile: obj,
    seLinuxOptions: obj,
    useAppArmorAnnotation: bool,
    resources,
    resourceQuotas,
    tolerations: list(toleration),
    updateStrategy,
    terminationGracePeriodSeconds: nonNeg,
    env: { t: 'map', of: anyValue },
    ambient: fields(
      {
        enabled: bool,
        enablementSelectors: list(obj),
        configDir: str,
        dnsCapture: bool,
        ipv6: bool,
        reconcileIptablesOnStartup: bool,
        shareHostNetworkNamespace: bool,
        enableAmbientDetectionRetry: bool,
      },
      true,
    ),
    repair: fields(
      {
        enabled: bool,
        hub,
        tag: sOrN,
        labelPods: bool,
        deletePods: bool,
        repairPods: bool,
        initContainerName: str,
        brokenPodLabelKey: str,
        brokenPodLabelValue: str,
      },
      true,
    ),
  },
  true,
);
const ztunnelValues = fields(
  {
    hub,
    tag: sOrN,
    variant: str,
    image: str,
    imagePullPolicy: oneOf('', 'Always', 'IfNotPresent', 'Never'),
    resourceName: dnsLabel('ztunnel name'),
    caAddress: str,
    xdsAddress: str,
    network: str,
    multiCluster: fields({ clusterName: str }, true),
    logLevel: str,
    logAsJson: bool,
    labels: labelMap,
    annotations: strMap,
    podAnnotations: strMap,
    podLabels: labelMap,
    nodeSelector: labelMap,
    tolerations: list(toleration),
    resources,
    resourceQuotas,
    peerCaCrl: fields({ enabled: bool }, true),
    volumes: list(obj),
    volumeMounts: list(obj),
    env: { t: 'map', of: anyValue },
    seLinuxOptions: obj,
    dnsPolicy: str,
    dnsConfig: obj,
    terminationGracePeriodSeconds: nonNeg,
    updateStrategy,
    imagePullSecrets: list(str),
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
  'pdb',
  'base',
  'cni',
  'compatibilityVersion',
  'defaultRevision',
  'experimental',
  'gatewayClasses',
  'gateways',
  'global',
  'istiodRemote',
  'meshConfig',
  'ownerName',
  'pilot',
  'platform',
  'profile',
  'revision',
  'revisionTags',
  'sidecarInjectorWebhook',
  'telemetry',
  'ztunnel',
];
const valuesSchema = fields({
  ...Object.fromEntries(VALUES_KEYS.map((k) => [k, anyValue])),
  global: globalValues,
  pilot: pilotValues,
  gateways: gatewaysValues,
  cni: cniValues,
  ztunnel: ztunnelValues,
  sidecarInjectorWebhook: fields(
    {
      enableNamespacesByDefault: bool,
      rewriteAppHTTPProbe: bool,
      reinvocationPolicy: oneOf('Never', 'IfNeeded'),
      templates: strMap,
      defaultTemplates: list(str),
      neverInjectSelector: list(obj),
      alwaysInjectSelector: list(obj),
      injectedAnnotations: strMap,
      injectionURL: str,
      objectSelector: obj,
      useLegacySelectors: bool,
    },
    true,
  ),
  telemetry: fields({ enabled: bool, v2: fields({ enabled: bool }, true) }, true),
  istiodRemote: fields(
    { enabled: bool, injectionURL: str, injectionPath: str, injectionCABundle: str, enabledLocalInjectorIstiod: bool },
    true,
  ),
  base: fields(
    {
      enableCRDTemplates: bool,
      enableIstioConfigCRDs: bool,
      excludedCRDs: list(str),
      validationURL: str,
      validationCABundle: str,
      validationFailurePolicy: oneOf('Fail', 'Ignore'),
    },
    true,
  ),
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
    if (typeof v === 'string' && v !== '' && !/^1\.\d+$/.test(v))
      o.push({ path: p, message: `${JSON.stringify(v)} is not a version`, hint: 'MAJOR.MINOR such as 1.29' });
  }),
  meshConfig,
  components: fields({
    base: component,
    pilot: component,
    cni: component,
    ztunnel: component,
    ingressGateways: list(gateway, uniqueNames),
    egressGateways: list(gateway, uniqueNames),
    ca,
  }),
  values: anyValue, // validated separately: its issues may be forced into warnings
  unvalidatedValues: anyValue,
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
        out.push({
          path: `${root}.components.${key}[${i}].name`,
          message: `${JSON.stringify(g.name)} is also the name of ${prev} in namespace ${ns(g)}`,
          hint: 'give ingress and egress gateways different names or namespaces',
        });
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
      out.push({
        path: 'metadata.name',
        message: `${JSON.stringify(meta.name)} is not a valid IstioOperator name`,
        hint: 'at most 63 lowercase letters, digits, "-" and ".", since it becomes the value of the install.operator.istio.io/owning-resource label',
      });
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
