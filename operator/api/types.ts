// The IstioOperator API (install.istio.io/v1alpha1) as Istio 1.30 defines it, plus `components.ca`.
// Plain data types: parsing, validation and defaults live beside this file.

export const API_GROUP = 'install.istio.io';
export const API_VERSION = 'install.istio.io/v1alpha1';
export const KIND = 'IstioOperator';

/** A Kubernetes object as rendered and applied: plain data, no classes. Every layer passes these. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
};

export type JSONValue = string | number | boolean | null | JSONValue[] | { [k: string]: JSONValue };
/**
 * A Helm-style values tree, as parsed from the user's YAML and the profiles. validate.ts checks it against its schema;
 * the renderer then reads it at the paths that schema allows, hundreds of them, and hands subtrees to templates.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- validated by validate.ts's schema, then read at its paths by render/; as Record<string, unknown> it fails 137 reads in operator/ (tsc), most in render/components
export type Values = Record<string, any>;

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  generation?: number;
  resourceVersion?: string;
  uid?: string;
  finalizers?: string[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
  ownerReferences?: OwnerReference[];
  managedFields?: ManagedFieldsEntry[];
}

export interface IstioOperator {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata?: ObjectMeta;
  spec?: IstioOperatorSpec;
  status?: IstioOperatorStatus;
}

export interface IstioOperatorSpec {
  /** A built-in profile name (`default`, `demo`, ...) or a path to an IstioOperator file. */
  profile?: string;
  /** Deprecated: installation charts path. Accepted and ignored with a warning. */
  installPackagePath?: string;
  hub?: string;
  tag?: string | number;
  /** Namespace the control plane installs into (default `istio-system`). */
  namespace?: string;
  /** Control plane revision; empty means the default revision. */
  revision?: string;
  compatibilityVersion?: string;
  meshConfig?: Values;
  components?: ComponentsSpec;
  values?: Values;
  unvalidatedValues?: Values;
}

export interface ComponentsSpec {
  base?: ComponentSpec;
  pilot?: ComponentSpec;
  cni?: ComponentSpec;
  ztunnel?: ComponentSpec;
  ingressGateways?: GatewaySpec[];
  egressGateways?: GatewaySpec[];
  ca?: CaSpec;
}

export interface ComponentSpec {
  enabled?: boolean;
  namespace?: string;
  hub?: string;
  tag?: string | number;
  k8s?: KubernetesResourceSpec;
}

export interface GatewaySpec extends ComponentSpec {
  name?: string;
  label?: Record<string, string>;
}

export type CaMode = 'istiod' | 'operator' | 'provided' | 'external';

export interface CaSpec {
  /** Who issues workload certificates. Default `istiod` (self-signed). */
  mode?: CaMode;
  /** `provided`: the user's cacerts-style secret in the Istio namespace (default `cacerts`). */
  secretName?: string;
  /** `operator`: generated CA settings. */
  keyType?: 'RSA' | 'ECDSA';
  keySize?: number;
  rootLifetime?: string;
  intermediateLifetime?: string;
  renewBefore?: string;
  /** `external`: the signer's address (CA_ADDR) and type (EXTERNAL_CA). */
  address?: string;
  externalCA?: string;
}

export interface KubernetesResourceSpec {
  affinity?: Record<string, unknown>;
  env?: Array<Record<string, unknown>>;
  hpaSpec?: Record<string, unknown>;
  imagePullPolicy?: string;
  nodeSelector?: Record<string, string>;
  podDisruptionBudget?: Record<string, unknown>;
  podAnnotations?: Record<string, string>;
  priorityClassName?: string;
  readinessProbe?: Record<string, unknown>;
  replicaCount?: number;
  resources?: Record<string, unknown>;
  service?: Record<string, unknown>;
  serviceAnnotations?: Record<string, string>;
  strategy?: Record<string, unknown>;
  tolerations?: Array<Record<string, unknown>>;
  securityContext?: Record<string, unknown>;
  volumes?: Array<Record<string, unknown>>;
  volumeMounts?: Array<Record<string, unknown>>;
  overlays?: K8sObjectOverlay[];
}

export interface K8sObjectOverlay {
  apiVersion?: string;
  kind: string;
  name: string;
  patches?: Array<{ path: string; value?: unknown }>;
}

export type OverallStatus = 'NONE' | 'HEALTHY' | 'RECONCILING' | 'UPDATING' | 'ERROR' | 'ACTION_REQUIRED';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface IstioOperatorStatus {
  status?: OverallStatus;
  message?: string;
  observedGeneration?: number;
  componentStatus?: Record<string, { status: OverallStatus; error?: string }>;
  conditions?: Condition[];
  /** The Istio release installed by the last successful apply. */
  istio?: { release: string; version: string };
  /** Set when the install is a remote: the primary it points at (install/remote.ts). */
  remote?: RemoteStatus;
  [k: string]: unknown;
}

/** A remote cluster's install (no istiod of its own): which primary it points at, as the status reports it. */
export interface RemoteStatus {
  /** values.global.multiCluster.clusterName: this cluster's name in the mesh (Istio's default is Kubernetes). */
  clusterName: string;
  /** values.global.network, when set. */
  network?: string;
  /** values.global.meshID, when set. */
  meshID?: string;
  /** values.global.remotePilotAddress: the primary's istiod, which this cluster's `istiod` Service leads to. */
  remotePilotAddress?: string;
  /** Where this cluster's API server sends pods to be injected: `URL <url>` or `Service <ns>/<name><path>`. */
  injection?: string;
}

/** One field manager's entry in metadata.managedFields. */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: FieldsV1;
}

/** The set of fields a manager owns: `f:<name>`, `k:<key JSON>`, `v:<value JSON>` and `i:<index>` steps, `.` for the node itself. */
export interface FieldsV1 {
  [step: string]: FieldsV1;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}
