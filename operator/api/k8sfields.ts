import type { FieldIssue } from './errors.js';
import { isMap } from './merge.js';
import { parsePath, PATH_FORMS, PathSyntaxError } from './path.js';
import { DURATION_HINT, durationMs } from './duration.js';
import { bool, custom, fields, int, ios, list, nonNeg, num, obj, oneOf, str, strMap, anyValue, type Check, type S } from './schema.js';

// Schemas of the Kubernetes-shaped fields of an IstioOperator (names, labels, quantities, ports, image hubs,
// tolerations, env, resources, autoscaling, Services, overlays and a component's k8s block), with Kubernetes' own
// rules and hints, so that a bad value fails here naming its field and never in the cluster.

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function checkDnsLabel(v: unknown, path: string, out: FieldIssue[], what = 'name'): void {
  if (typeof v !== 'string' || v === '') return;
  if (v.length > 63 || !DNS1123_LABEL.test(v)) {
    out.push({
      path,
      message: `${JSON.stringify(v)} is not a valid ${what}`,
      hint: 'a DNS-1123 label: at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit',
    });
  }
}
// Kubernetes label syntax: the apiserver would reject anything else, so say so before rendering.
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
export const LABEL_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
export const labelMap = custom(strMapPlaceholder(), (v, p, o) => {
  if (!isMap(v)) return;
  for (const [k, x] of Object.entries(v)) {
    if (!LABEL_NAME.test(k) || k.split('/').pop()!.length > 63)
      o.push({
        path: `${p}.${k}`,
        message: `${JSON.stringify(k)} is not a valid label key`,
        hint: 'an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_" or "."',
      });
    if (typeof x === 'string' && (x.length > 63 || !LABEL_VALUE.test(x)))
      o.push({
        path: `${p}.${k}`,
        message: `${JSON.stringify(x)} is not a valid label value`,
        hint: 'at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit',
      });
  }
});
export function strMapPlaceholder(): S {
  return { t: 'map', of: { t: 'string' } };
}
export const dnsLabel = (what: string): S => custom(str, (v, p, o) => checkDnsLabel(v, p, o, what));
export const dnsSubdomain = custom(str, (v, p, o) => {
  if (typeof v === 'string' && v !== '' && (v.length > 253 || !DNS1123_SUBDOMAIN.test(v))) {
    o.push({
      path: p,
      message: `${JSON.stringify(v)} is not a valid Kubernetes object name`,
      hint: 'a DNS-1123 subdomain: lowercase letters, digits, "-" and "."',
    });
  }
});
export const duration = custom(str, (v, p, o) => {
  if (typeof v === 'string' && durationMs(v) === undefined) {
    o.push({ path: p, message: `${JSON.stringify(v)} is not a duration`, hint: DURATION_HINT });
  }
});

// Kubernetes quantities (resource.Quantity): a signed decimal with an SI or binary suffix or an exponent.
export const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;
export const QUANTITY_HINT = 'a Kubernetes quantity such as 100m, 0.5 or 2 (CPU), 128Mi or 1Gi (memory)';
export const quantity = custom(ios, (v, p, o) => {
  const q = String(v).trim();
  if (!QUANTITY.test(q)) o.push({ path: p, message: `${JSON.stringify(v)} is not a quantity`, hint: QUANTITY_HINT });
  else if (q.startsWith('-') && Number(q.replace(/[^0-9.eE+-]/g, '').replace(/[eE].*$/, '')) !== 0)
    o.push({ path: p, message: `${JSON.stringify(v)} is negative`, hint: `resources are 0 or more: ${QUANTITY_HINT}` });
});
/** An int-or-percent (rolling update, disruption budget): a count of pods, or "N%"; `max100` for what cannot exceed all pods. */
export const intOrPercent = (max100: boolean): S =>
  custom(ios, (v, p, o) => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0)
        o.push({ path: p, message: `${v} is not a number of pods`, hint: 'an integer >= 0, or a percentage such as "25%"' });
      return;
    }
    const m = /^(\d+)%$/.exec(String(v));
    if (!m)
      o.push({
        path: p,
        message: `${JSON.stringify(v)} is neither a number of pods nor a percentage`,
        hint: 'an integer >= 0, or a percentage such as "25%"',
      });
    else if (max100 && Number(m[1]) > 100)
      o.push({ path: p, message: `${v} is more than 100%`, hint: 'a percentage from 0% to 100%, or a number of pods' });
  });
/** A sampling percentage such as traceSampling: 0.0 to 100.0. */
export const percentage = custom(num, (v, p, o) => {
  if (typeof v === 'number' && (v < 0 || v > 100))
    o.push({ path: p, message: `${v} is not a percentage`, hint: 'a number from 0.0 to 100.0' });
});
export const PORT_HINT = 'a port number from 1 to 65535';
export const port: S = { t: 'int', min: 1, max: 65535, hint: PORT_HINT };
/** A container port by number or by name (an IANA service name: at most 15 lowercase letters, digits and "-"). */
export const targetPort = custom(ios, (v, p, o) => {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 1 || v > 65535)
      o.push({ path: p, message: `${v} is not a port`, hint: `${PORT_HINT}, or a port name` });
  } else if (!/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(v as string) || !/[a-z]/.test(v as string)) {
    o.push({
      path: p,
      message: `${JSON.stringify(v)} is neither a port number nor a port name`,
      hint: `${PORT_HINT}, or a name of at most 15 lowercase letters, digits and "-"`,
    });
  }
});
// An image registry path (the docker reference grammar's domain[:port] then lowercase path components), e.g.
// docker.io/istio, gcr.io/istio-release, registry.local:5000/mirror/istio.
export const HUB =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d{1,5})?|\[[0-9a-fA-F:]+\](?::\d{1,5})?)(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
export const hub = custom(str, (v, p, o) => {
  if (typeof v === 'string' && v !== '' && (!HUB.test(v) || v.length > 255)) {
    o.push({
      path: p,
      message: `${JSON.stringify(v)} is not an image registry path`,
      hint: 'REGISTRY[:PORT]/PATH without a tag, e.g. docker.io/istio or registry.local:5000/istio (lowercase path)',
    });
  }
});

// ---- Kubernetes pieces (the shapes of core/v1, apps/v1, autoscaling/v2, policy/v1 that k8s settings use) ----

export const toleration = fields({
  key: str,
  operator: oneOf('Exists', 'Equal'),
  value: str,
  effect: oneOf('', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'),
  tolerationSeconds: int,
});
export const envVar = fields({ name: str, value: str, valueFrom: obj }, false, (v, p, o) => {
  if (isMap(v) && typeof v.name !== 'string') o.push({ path: `${p}.name`, message: 'is required', hint: 'the environment variable name' });
});
export const resources = fields({ limits: { t: 'map', of: quantity }, requests: { t: 'map', of: quantity }, claims: list(obj) });
export const metricTarget = fields({
  type: oneOf('Utilization', 'Value', 'AverageValue'),
  averageUtilization: int,
  averageValue: ios,
  value: ios,
});
export const metricId = fields({ name: str, selector: obj });
export const metric = fields({
  type: oneOf('Resource', 'Pods', 'Object', 'External', 'ContainerResource'),
  resource: fields({ name: str, target: metricTarget }),
  containerResource: fields({ name: str, container: str, target: metricTarget }),
  pods: fields({ metric: metricId, target: metricTarget }),
  object: fields({ describedObject: obj, metric: metricId, target: metricTarget }),
  external: fields({ metric: metricId, target: metricTarget }),
});
export const hpaSpec = fields(
  { scaleTargetRef: obj, minReplicas: { t: 'int', min: 1 }, maxReplicas: { t: 'int', min: 1 }, metrics: list(metric), behavior: obj },
  false,
  (v, p, o) => {
    if (isMap(v) && typeof v.minReplicas === 'number' && typeof v.maxReplicas === 'number' && v.minReplicas > v.maxReplicas) {
      o.push({
        path: `${p}.minReplicas`,
        message: `${v.minReplicas} is greater than maxReplicas ${v.maxReplicas}`,
        hint: 'minReplicas <= maxReplicas',
      });
    }
  },
);
export const servicePort = fields({
  name: str,
  port,
  targetPort,
  protocol: oneOf('TCP', 'UDP', 'SCTP'),
  nodePort: {
    t: 'int',
    min: 0,
    max: 65535,
    hint: 'a port number from 30000 to 32767 (the default node port range), or 0 to let Kubernetes choose',
  },
  appProtocol: str,
});
export const service = fields({
  type: oneOf('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'),
  ports: list(servicePort),
  selector: strMap,
  clusterIP: str,
  clusterIPs: list(str),
  externalIPs: list(str),
  loadBalancerIP: str,
  loadBalancerSourceRanges: list(str),
  loadBalancerClass: str,
  externalName: str,
  externalTrafficPolicy: oneOf('Cluster', 'Local'),
  internalTrafficPolicy: oneOf('Cluster', 'Local'),
  healthCheckNodePort: int,
  publishNotReadyAddresses: bool,
  sessionAffinity: oneOf('None', 'ClientIP'),
  sessionAffinityConfig: obj,
  ipFamilies: list(str),
  ipFamilyPolicy: str,
  allocateLoadBalancerNodePorts: bool,
  trafficDistribution: str,
});
export const overlay = fields(
  { apiVersion: str, kind: str, name: str, patches: list(fields({ path: str, value: anyValue })) },
  false,
  (v, p, o) => {
    if (!isMap(v)) return;
    if (typeof v.kind !== 'string' || !v.kind)
      o.push({ path: `${p}.kind`, message: 'is required', hint: 'the kind of the rendered object to patch, e.g. Deployment' });
    if (typeof v.name !== 'string' || !v.name)
      o.push({ path: `${p}.name`, message: 'is required', hint: 'the name of the rendered object to patch' });
    if (Array.isArray(v.patches))
      v.patches.forEach((x, i) => {
        if (!isMap(x)) return;
        if (typeof x.path !== 'string' || !x.path) o.push({ path: `${p}.patches[${i}].path`, message: 'is required' });
        else {
          try {
            parsePath(x.path);
          } catch (e) {
            if (!(e instanceof PathSyntaxError)) throw e;
            o.push({
              path: `${p}.patches[${i}].path`,
              message: `malformed path: ${e.message}`,
              hint: `${PATH_FORMS}, e.g. spec.template.spec.containers.[name:discovery].args.[:--log_as_json]`,
            });
          }
        }
      });
  },
);
export const named =
  (what: string): Check =>
  (v, p, o) => {
    if (isMap(v) && (typeof v.name !== 'string' || !v.name)) o.push({ path: `${p}.name`, message: 'is required', hint: what });
  };
export const k8s = fields({
  affinity: fields({ nodeAffinity: obj, podAffinity: obj, podAntiAffinity: obj }),
  env: list(envVar),
  hpaSpec,
  imagePullPolicy: oneOf('Always', 'IfNotPresent', 'Never'),
  nodeSelector: labelMap,
  podDisruptionBudget: fields(
    {
      minAvailable: intOrPercent(true),
      maxUnavailable: intOrPercent(true),
      selector: obj,
      unhealthyPodEvictionPolicy: oneOf('IfHealthyBudget', 'AlwaysAllow'),
    },
    false,
    (v, p, o) => {
      if (isMap(v) && v.minAvailable != null && v.maxUnavailable != null)
        o.push({
          path: `${p}.maxUnavailable`,
          message: 'cannot be set together with minAvailable',
          hint: 'set one of minAvailable and maxUnavailable',
        });
    },
  ),
  podAnnotations: strMap,
  priorityClassName: str,
  readinessProbe: fields({
    exec: obj,
    httpGet: obj,
    tcpSocket: obj,
    grpc: obj,
    initialDelaySeconds: nonNeg,
    timeoutSeconds: nonNeg,
    periodSeconds: nonNeg,
    successThreshold: nonNeg,
    failureThreshold: nonNeg,
    terminationGracePeriodSeconds: int,
  }),
  replicaCount: nonNeg,
  resources,
  service,
  serviceAnnotations: strMap,
  strategy: fields({
    type: oneOf('RollingUpdate', 'Recreate'),
    rollingUpdate: fields({ maxSurge: intOrPercent(false), maxUnavailable: intOrPercent(true) }),
  }),
  tolerations: list(toleration),
  securityContext: obj,
  volumes: list(custom(obj, named('the volume name'))),
  volumeMounts: list(
    custom(
      fields({ name: str, mountPath: str, readOnly: bool, subPath: str, subPathExpr: str, mountPropagation: str, recursiveReadOnly: str }),
      named('the volume to mount'),
    ),
  ),
  overlays: list(overlay),
});

// A tag names the `istiod-revision-tag-<tag>` Service, a DNS-1035 label of at most 63 characters.
export const MAX_TAG_LENGTH = 63 - 'istiod-revision-tag-'.length;
export function checkRevisionTag(v: unknown, path: string, out: FieldIssue[]): void {
  if (typeof v !== 'string') return;
  if (v.length > MAX_TAG_LENGTH || !DNS1123_LABEL.test(v)) {
    out.push({
      path,
      message: `${JSON.stringify(v)} is not a valid revision tag`,
      hint: `a DNS-1123 label of at most ${MAX_TAG_LENGTH} characters (it names the Service istiod-revision-tag-<tag>)`,
    });
  }
}
