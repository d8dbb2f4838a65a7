// Typed views of the objects the operator reads back from the API server: live Deployments and DaemonSets, pods,
// webhook configurations, Services and their endpoints, ConfigMaps, CRDs, lists, Status answers. Each view names
// the fields the code reads, all optional (the API server may leave any out, and list items carry no kind); the
// rest of an object stays `unknown`, so reading a field nobody declared here is a compile error, not a guess.
// Rendered objects (K8sObject) are plain data of the same shapes, so the views fit them too.
import type { ObjectMeta } from './types.js';
// The metadata parts rendered and live objects share are declared with ObjectMeta (types.ts); re-exported here for readers of live objects.
export type { FieldsV1, ManagedFieldsEntry, OwnerReference } from './types.js';

/** metadata of an object the API server returned: it always has a name. */
export interface LiveMeta extends ObjectMeta {
  name: string;
}

/** A status condition as objects report it (ours are api/types.ts's Condition, with every field set). */
export interface LiveCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

export interface LiveStatus {
  observedGeneration?: number;
  conditions?: LiveCondition[];
  [k: string]: unknown;
}

/** Any object read from the API server. kind and apiVersion are absent on list items. */
export interface LiveObject {
  apiVersion?: string;
  kind?: string;
  metadata: LiveMeta;
  status?: LiveStatus;
  [k: string]: unknown;
}

/** A list answer. */
export interface List<T = LiveObject> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** One event of a watch stream: ADDED, MODIFIED, DELETED, BOOKMARK, or ERROR with a Status as its object. */
export interface WatchEvent<T = LiveObject> {
  type: string;
  object: T;
}

/** The Status object the API server answers errors (and some deletes) with. */
export interface ApiStatus {
  kind?: string;
  status?: string;
  reason?: string;
  message?: string;
  code?: number;
  details?: {
    name?: string;
    kind?: string;
    retryAfterSeconds?: number;
    causes?: Array<{ reason?: string; message?: string; field?: string }>;
  };
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

export interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: EnvVar[];
  volumeMounts?: Array<{ name: string; mountPath?: string; [k: string]: unknown }>;
  [k: string]: unknown;
}

export interface Volume {
  name: string;
  secret?: { secretName?: string; optional?: boolean; [k: string]: unknown };
  configMap?: { name?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  serviceAccountName?: string;
  [k: string]: unknown;
}

/** A Deployment or DaemonSet: the status fields of both, as readiness reads them. */
export interface LiveWorkload extends LiveObject {
  spec?: {
    replicas?: number;
    selector?: LabelSelector;
    template?: { metadata?: ObjectMeta; spec?: PodSpec };
    [k: string]: unknown;
  };
  status?: LiveStatus & {
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    desiredNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
    numberReady?: number;
  };
}

export interface ContainerStatus {
  name: string;
  ready?: boolean;
  state?: { waiting?: { reason?: string; message?: string }; [k: string]: unknown };
  [k: string]: unknown;
}

export interface LivePod extends LiveObject {
  spec?: PodSpec;
  status?: LiveStatus & { phase?: string; containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] };
}

export interface ServiceReference {
  name: string;
  namespace: string;
  path?: string;
  port?: number;
}

export interface RuleWithOperations {
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
}

/** One webhook of a Mutating- or ValidatingWebhookConfiguration. */
export interface Webhook {
  name: string;
  clientConfig?: { service?: ServiceReference; url?: string; caBundle?: string };
  rules?: RuleWithOperations[];
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  failurePolicy?: string;
  reinvocationPolicy?: string;
  [k: string]: unknown;
}

export interface LiveWebhookConfiguration extends LiveObject {
  webhooks?: Webhook[];
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  [k: string]: unknown;
}

export interface LiveService extends LiveObject {
  spec?: { type?: string; selector?: Record<string, string>; ports?: ServicePort[]; externalName?: string; [k: string]: unknown };
}

/** discovery.k8s.io/v1 EndpointSlice. */
export interface LiveEndpointSlice extends LiveObject {
  endpoints?: Array<{
    addresses?: string[];
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
    [k: string]: unknown;
  }>;
  ports?: Array<{ name?: string; port?: number; protocol?: string }>;
}

/** core/v1 Endpoints. */
export interface LiveEndpoints extends LiveObject {
  subsets?: Array<{
    addresses?: Array<{ ip: string; [k: string]: unknown }>;
    notReadyAddresses?: Array<{ ip: string }>;
    ports?: Array<{ name?: string; port?: number }>;
  }>;
}

/** apiextensions.k8s.io/v1 CustomResourceDefinition. */
export interface LiveCRD extends LiveObject {
  spec?: { group?: string; [k: string]: unknown };
}

export interface LiveConfigMap extends LiveObject {
  data?: Record<string, string>;
}

export interface LiveSecret extends LiveObject {
  type?: string;
  data?: Record<string, string>;
}

/** authorization.k8s.io/v1 SelfSubjectAccessReview, as answered. */
export interface AccessReview {
  status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}
