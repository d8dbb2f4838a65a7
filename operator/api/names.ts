// The one place that names Istio's revisioned and namespaced objects. Render's templates get every name from here,
// and apply, revision, ca and the tests call the same functions, so a name can never be spelled two ways.
// `revision` is '' for the default revision; `namespace` is the namespace istiod runs in.

export const DEFAULT_ISTIO_NAMESPACE = 'istio-system';
/** The `istio.io/rev` value of the default revision. */
export const DEFAULT_REVISION = 'default';

/** `istio.io/rev` label value: the revision, or `default`. */
export const revLabel = (revision: string): string => revision || DEFAULT_REVISION;
/** The revision as names carry it: '' for the default revision (which is labelled `default`). */
export const revisionOf = (revLabelValue: string): string => (revLabelValue === DEFAULT_REVISION ? '' : revLabelValue);
/** '' or `-<revision>`: what revisioned names append. */
export const revSuffix = (revision: string): string => (revision ? `-${revision}` : '');
/** Cluster-scoped objects of an Istio namespace other than istio-system carry `-<namespace>`, as Istio's charts name them. */
const nsSuffix = (namespace: string): string => (namespace === DEFAULT_ISTIO_NAMESPACE ? '' : `-${namespace}`);

/** istiod's Deployment, Service, ServiceAccount, HPA, PDB and NetworkPolicy. */
export const istiodName = (revision: string): string => `istiod${revSuffix(revision)}`;
/** A remote cluster's Service for the primary's istiod (global.remotePilotAddress): istiod's own name, or
 *  `istiod[-<revision>]-remote` beside a local injector istiod (istiodRemote.enabledLocalInjectorIstiod). */
export const remoteIstiodName = (revision: string, localInjector: boolean): string =>
  `${istiodName(revision)}${localInjector ? '-remote' : ''}`;
/** Where proxies of a revision reach istiod (discovery and certificates). */
export const istiodAddress = (revision: string, namespace: string): string => `${istiodName(revision)}.${namespace}.svc:15012`;
/** The mesh config ConfigMap. */
export const meshConfigMapName = (revision: string): string => `istio${revSuffix(revision)}`;
export const injectorConfigMapName = (revision: string): string => `istio-sidecar-injector${revSuffix(revision)}`;
export const valuesConfigMapName = (revision: string): string => `values${revSuffix(revision)}`;
export const jwksConfigMapName = (revision: string): string => `pilot-jwks-extra-cacerts${revSuffix(revision)}`;

// Cluster roles of a revision carry the namespace always (Istio names them <base>[-<revision>]-<namespace>).
export const istiodClusterRoleName = (revision: string, namespace: string): string =>
  `istiod-clusterrole${revSuffix(revision)}-${namespace}`;
export const gatewayControllerRoleName = (revision: string, namespace: string): string =>
  `istiod-gateway-controller${revSuffix(revision)}-${namespace}`;
export const readerClusterRoleName = (revision: string, namespace: string): string =>
  `istio-reader-clusterrole${revSuffix(revision)}-${namespace}`;
/** The reader ServiceAccount of the base component, shared by every revision of a namespace. */
export const READER_SERVICE_ACCOUNT = 'istio-reader-service-account';

/** A revision's own injector webhook configuration. */
export const injectorWebhookName = (revision: string, namespace: string): string =>
  `istio-sidecar-injector${revSuffix(revision)}${nsSuffix(namespace)}`;
/** A revision's validating webhook configuration (it always carries the Istio namespace). */
export const validatorWebhookName = (revision: string, istioNamespace: string): string =>
  `istio-validator${revSuffix(revision)}-${istioNamespace}`;

/** Revision tags: `istio-revision-tag-<tag>[-<namespace>]`, its Service, and the default tag's validator. */
export const DEFAULT_TAG = 'default';
export const tagWebhookName = (tag: string, namespace: string): string => `istio-revision-tag-${tag}${nsSuffix(namespace)}`;
export const TAG_SERVICE_PREFIX = 'istiod-revision-tag-';
export const tagServiceName = (tag: string): string => `${TAG_SERVICE_PREFIX}${tag}`;
export const DEFAULT_VALIDATOR = 'istiod-default-validator';

/** Multi-cluster: the Secret on a primary holding a remote cluster's kubeconfig (`remote-secret create`), as istioctl
 *  names it; a config cluster's (external control plane) is `istio-kubeconfig`, its kubeconfig under key `config`. */
export const REMOTE_SECRET_PREFIX = 'istio-remote-secret-';
export const remoteSecretName = (cluster: string): string => `${REMOTE_SECRET_PREFIX}${cluster}`;
export const CONFIG_SECRET_NAME = 'istio-kubeconfig';
export const CONFIG_SECRET_KEY = 'config';
/** The long-lived token Secret of the account a remote secret authenticates as (istioctl's name for it). */
export const tokenSecretName = (serviceAccount: string): string => `${serviceAccount}-istio-remote-secret-token`;

/** A gateway's ServiceAccount. */
export const gatewayServiceAccountName = (gateway: string): string => `${gateway}-service-account`;

/** The plug-in CA secret istiod mounts (mode `operator`, and `provided` unless the user names another). */
export const CA_SECRET = 'cacerts';
/** istiod's own self-signed CA secret (mode `istiod`). */
export const SELF_SIGNED_CA_SECRET = 'istio-ca-secret';
/** The root certificate istiod writes into every namespace. */
export const ROOT_CERT_CONFIGMAP = 'istio-ca-root-cert';

/** The CNI agent: ServiceAccount, ClusterRoles and ConfigMap `istio-cni*`, DaemonSet `istio-cni-node`. */
export const CNI_NAME = 'istio-cni';
export const CNI_DAEMONSET = `${CNI_NAME}-node`;
/** ztunnel's DaemonSet and ServiceAccount (values.ztunnel.resourceName renames them). */
export const ZTUNNEL_DEFAULT_NAME = 'ztunnel';
export const ztunnelName = (resourceName?: unknown): string => String(resourceName || ZTUNNEL_DEFAULT_NAME);
