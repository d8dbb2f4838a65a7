import type { CaMode, Values } from '../api/types.js';
import type { Release } from '../api/releases.js';

// The contract between render's TypeScript and the Handlebars templates in manifests/.
// Templates read only this; everything they need is computed before (values.ts), so a template
// never decides a name or a default on its own.

/** Component keys as the IstioOperator spells them, and the `operator.istio.io/component` label Istio uses. */
export const COMPONENTS = {
  base: 'Base',
  pilot: 'Pilot',
  ingressGateways: 'IngressGateways',
  egressGateways: 'EgressGateways',
  cni: 'Cni',
  ztunnel: 'Ztunnel',
} as const;
export type ComponentKey = keyof typeof COMPONENTS;

export interface RenderContext {
  /** Istio's values tree (same key names as Istio's charts: global, pilot, sidecarInjectorWebhook, gateways, telemetry, ...),
   *  merged: our defaults < profile < user files < --set, plus what components.* settings translate into. */
  values: Values;
  /** Final mesh config: defaults < values.meshConfig < spec.meshConfig. */
  meshConfig: Record<string, unknown>;
  /** `spec.revision`, '' for the default revision. */
  revision: string;
  /** The `istio.io/rev` label value: the revision, or `default`. */
  rev: string;
  /** '' or `-<revision>`: appended to revisioned names (istiod-R, istio-R, istio-sidecar-injector-R, ...). */
  revSuffix: string;
  /** Namespace this component installs into. */
  namespace: string;
  /** Namespace of istiod (values.global.istioNamespace). */
  istioNamespace: string;
  /** Istio version being rendered, for labels. */
  version: string;
  /** The Istio release line whose manifests are rendered (render/features.ts says what differs between lines). */
  release: Release;
  ca: CaContext;
  /** Set only for gateway templates: one context per named gateway. */
  gateway?: GatewayContext;
}

export interface CaContext {
  mode: CaMode;
  /** Secret istiod mounts as `cacerts` in `operator` and `provided` modes. */
  secretName: string;
  /** `external` mode: CA_ADDR and EXTERNAL_CA. */
  address?: string;
  externalCA?: string;
}

export interface GatewayContext {
  /** Deployment/Service name, e.g. `istio-ingressgateway`. */
  name: string;
  namespace: string;
  type: 'ingress' | 'egress';
  /** Pod/selector labels: `app` and `istio` defaults merged with the gateway's `label`. */
  labels: Record<string, string>;
  /** values.gateways.istio-ingressgateway (or -egressgateway) merged with this gateway's settings. */
  values: Values;
  serviceAccountName: string;
}
