// The one place that names the labels this project writes and reads: the ownership labels render puts on every
// object (apply finds, prunes and hands over objects by them), and Istio's own labels for revisions, tags and
// injection (the revision layer reads them to tell who uses a revision).

/** Which component of the IstioOperator an object belongs to (`Pilot`, `Base`, ...), as Istio's installer labels it. */
export const LABEL_COMPONENT = 'operator.istio.io/component';
/** The owning IstioOperator's name and namespace. */
export const LABEL_OWNER_NAME = 'install.operator.istio.io/owning-resource';
export const LABEL_OWNER_NAMESPACE = 'install.operator.istio.io/owning-resource-namespace';
/** The Istio version an object was rendered for. */
export const LABEL_VERSION = 'operator.istio.io/version';
/** Istio's revision label: on control-plane objects, namespaces and pods. */
export const LABEL_REVISION = 'istio.io/rev';
/** Istio's revision tag label, on a tag's webhook and Service. */
export const LABEL_TAG = 'istio.io/tag';
/** Namespaces opt into the default revision with istio-injection=enabled; pods with sidecar.istio.io/inject. */
export const LABEL_INJECTION = 'istio-injection';
export const LABEL_INJECT_POD = 'sidecar.istio.io/inject';
/** An object labelled with this (value "true") is never pruned, as istioctl honours it. */
export const LABEL_NOT_PRUNED = 'install.operator.istio.io/owning-resource-not-pruned';
/** Marks our inventory ConfigMaps, so uninstall --purge can find every owner's. */
export const LABEL_INVENTORY = 'install.operator.istio.io/inventory';

/** Multi-cluster: istiod reads the Secrets of its namespace labelled `istio/multiCluster: "true"` as remote clusters'
 *  kubeconfigs, one per data key (the cluster's name); the annotation names the cluster too (istioctl writes both). */
export const LABEL_MULTICLUSTER = 'istio/multiCluster';
export const ANNOTATION_CLUSTER = 'networking.istio.io/cluster';

export const OWNERSHIP_LABELS = [LABEL_COMPONENT, LABEL_OWNER_NAME, LABEL_OWNER_NAMESPACE, LABEL_VERSION, LABEL_REVISION] as const;

/**
 * A string made valid as a label value (at most 63 of [A-Za-z0-9._-], alphanumeric at both ends), so that a tag
 * like `1.30.0@sha256:...` or an unusual name never makes the whole render unappliable. '' stays ''.
 */
export function labelValue(s: unknown): string {
  if (s === undefined || s === null) return '';
  return String(s)
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
}
