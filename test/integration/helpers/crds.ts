// CRDs that platforms bring and a plain control plane lacks, installed by the tests that render for those platforms.
// Cluster-scoped and shared by every test file: applied idempotently (server-side apply, one field manager), never
// deleted (another file may be using it), so any number of tests may ask at once.
import { kubectl, waitEstablished } from './cluster.js';

/**
 * Multus's NetworkAttachmentDefinition (k8s.cni.cncf.io/v1), as OpenShift and upstream Multus define it: the openshift
 * platform renders one (`default/istio-cni`). Same names, scope and schema as Multus's CRD, so the apiserver checks
 * what we render as it would there.
 */
export const NETWORK_ATTACHMENT_DEFINITION_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: network-attachment-definitions.k8s.cni.cncf.io
  labels:
    istio-operator.test/owner: integration
spec:
  group: k8s.cni.cncf.io
  scope: Namespaced
  names:
    plural: network-attachment-definitions
    singular: network-attachment-definition
    kind: NetworkAttachmentDefinition
    shortNames: [net-attach-def]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        description: NetworkAttachmentDefinition is a CRD schema specified by the Network Plumbing Working Group to express the intent for attaching pods to one or more logical or physical networks.
        type: object
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            description: NetworkAttachmentDefinition spec defines the desired state of a network attachment
            type: object
            properties:
              config:
                description: NetworkAttachmentDefinition config is a JSON-formatted CNI configuration
                type: string
`;

/** Installs the NetworkAttachmentDefinition CRD (if needed) and waits until the apiserver serves the kind. */
export async function ensureNetworkAttachmentDefinitionCrd(): Promise<void> {
  const apply = await kubectl(['apply', '--server-side', '--field-manager=istio-operator-tests', '--force-conflicts', '-f', '-'], {
    input: NETWORK_ATTACHMENT_DEFINITION_CRD,
    timeoutMs: 60_000,
  });
  if (apply.code !== 0) throw new Error(`installing the NetworkAttachmentDefinition CRD: ${apply.stderr}`);
  await waitEstablished('network-attachment-definitions.k8s.cni.cncf.io');
}
