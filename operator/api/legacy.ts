import type { Warning } from './errors.js';
import { isMap, clone } from './merge.js';
import type { IstioOperatorSpec, Values } from './types.js';

// IstioOperator files copied from older docs. Nothing here answers "unknown field": a setting with a modern
// equivalent is moved there (the warning names old and new), a removed feature is dropped and the warning
// says what replaced it. Runs on a spec before validation; returns a new spec.

export interface Translated {
  spec: IstioOperatorSpec;
  warnings: Warning[];
}

const REMOVED_COMPONENTS: Record<string, string> = {
  galley: 'Galley was merged into istiod in Istio 1.5; config validation is values.global.configValidation',
  policy: 'Mixer policy is gone since Istio 1.8; use AuthorizationPolicy and Envoy ext_authz (meshConfig.extensionProviders)',
  telemetry:
    'Mixer telemetry is gone since Istio 1.8; proxies report metrics themselves, configured with the Telemetry API (values.telemetry.v2)',
  sidecarInjector:
    'the sidecar injector was merged into istiod in Istio 1.5; configure injection with values.sidecarInjectorWebhook and namespace labels',
  nodeAgent: 'the node agent is gone since Istio 1.5; the istio-agent in every proxy serves SDS',
};

const REMOVED_VALUES: Record<string, string> = {
  mixer: 'Mixer was removed in Istio 1.8; use the Telemetry API and AuthorizationPolicy',
  grafana: 'bundled addons were removed in Istio 1.8; install Grafana from samples/addons or its own chart',
  kiali: 'bundled addons were removed in Istio 1.8; install Kiali with its own operator or chart',
  prometheus: 'bundled addons were removed in Istio 1.8; install Prometheus separately (see samples/addons)',
  tracing: 'bundled addons were removed in Istio 1.8; install a tracing backend separately and set meshConfig.extensionProviders',
  istiocoredns: 'istiocoredns was removed in Istio 1.8; use DNS proxying (meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE)',
  galley: 'Galley was merged into istiod in Istio 1.5',
  security: 'Citadel was merged into istiod in Istio 1.5; CA settings are components.ca',
  nodeagent: 'the node agent was removed in Istio 1.5',
  clusterResources: 'removed: cluster-scoped resources are always installed with the base component',
  certmanager: "removed in Istio 1.8; use cert-manager's istio-csr, or components.ca",
};

const REMOVED_GLOBALS: Record<string, string> = {
  controlPlaneSecurityEnabled: 'the control plane always uses mTLS since Istio 1.5; nothing to set',
  disablePolicyChecks: 'Mixer policy was removed in Istio 1.8',
  policyCheckFailOpen: 'Mixer policy was removed in Istio 1.8',
  enableHelmTest: 'removed: the installer does not run Helm tests',
  useMCP: 'removed in Istio 1.8: istiod reads configuration directly',
  tracer: 'removed: configure tracing with meshConfig.extensionProviders and the Telemetry API',
  k8sIngress: 'removed: use meshConfig.ingressControllerMode / ingressClass',
};

export function translateLegacy(input: IstioOperatorSpec, root = 'spec'): Translated {
  const spec: Values = clone(input ?? {});
  const warnings: Warning[] = [];
  const warn = (path: string, message: string) => warnings.push({ path: `${root}.${path}`, message });

  if ('installPackagePath' in spec) {
    warn(
      'installPackagePath',
      'is ignored: charts are built into istio-operator; use spec.tag and spec.hub to choose the Istio version and images',
    );
    delete spec.installPackagePath;
  }
  if ('addonComponents' in spec) {
    warn(
      'addonComponents',
      'was removed in Istio 1.8 (bundled Prometheus, Grafana, Kiali, tracing); install addons separately (samples/addons)',
    );
    delete spec.addonComponents;
  }

  const comps = isMap(spec.components) ? spec.components : undefined;
  if (comps) {
    if ('citadel' in comps) {
      const c = comps.citadel;
      if (isMap(c) && c.enabled === false) {
        warn(
          'components.citadel',
          'Citadel was merged into istiod in Istio 1.5 and is now components.ca; "enabled: false" has no modern meaning and was dropped (to use a CA outside istiod set components.ca.mode: provided or external)',
        );
      } else {
        if (!isMap(comps.ca)) comps.ca = { mode: 'istiod' };
        warn(
          'components.citadel',
          `Citadel was merged into istiod in Istio 1.5; translated to components.ca (mode: ${comps.ca.mode ?? 'istiod'})${isMap(c) && c.k8s ? "; its k8s settings were dropped (istiod's are components.pilot.k8s)" : ''}`,
        );
      }
      delete comps.citadel;
    }
    for (const [name, why] of Object.entries(REMOVED_COMPONENTS)) {
      if (name in comps) {
        warn(`components.${name}`, `dropped: ${why}`);
        delete comps[name];
      }
    }
    if ('istiodRemote' in comps) {
      const r = comps.istiodRemote;
      if (isMap(r) && typeof r.enabled === 'boolean') {
        spec.values = isMap(spec.values) ? spec.values : {};
        spec.values.istiodRemote = isMap(spec.values.istiodRemote) ? spec.values.istiodRemote : {};
        if (spec.values.istiodRemote.enabled === undefined) spec.values.istiodRemote.enabled = r.enabled;
        warn(
          'components.istiodRemote',
          `was removed in Istio 1.24; translated to values.istiodRemote.enabled (use profile: remote for a remote cluster)`,
        );
      } else warn('components.istiodRemote', 'was removed in Istio 1.24; use profile: remote');
      delete comps.istiodRemote;
    }
    for (const key of ['base', 'pilot', 'cni', 'ztunnel']) {
      if (isMap(comps[key])) translateK8s(comps[key].k8s, `components.${key}.k8s`, warn);
    }
    for (const key of ['ingressGateways', 'egressGateways']) {
      if (Array.isArray(comps[key]))
        comps[key].forEach((g: unknown, i: number) => isMap(g) && translateK8s(g.k8s, `components.${key}[${i}].k8s`, warn));
    }
  }

  const values = isMap(spec.values) ? spec.values : undefined;
  if (values) {
    for (const [key, why] of Object.entries(REMOVED_VALUES)) {
      if (key in values) {
        warn(`values.${key}`, `dropped: ${why}`);
        delete values[key];
      }
    }
    // Istio before 1.24 told istiod about the CNI agent with values.istio_cni; today that is values.pilot.cni.
    if ('istio_cni' in values) {
      const old = values.istio_cni;
      const moved: string[] = [];
      if (isMap(old)) {
        for (const [k, target] of [
          ['enabled', 'pilot.cni.enabled'],
          ['chained', 'cni.chained'],
          ['provider', 'pilot.cni.provider'],
        ] as const) {
          if (old[k] === undefined || old[k] === null) continue;
          const [top, ...rest] = target.split('.');
          let cur: Values = (values[top!] = isMap(values[top!]) ? values[top!] : {});
          for (const p of rest.slice(0, -1)) cur = cur[p] = isMap(cur[p]) ? cur[p] : {};
          const last = rest[rest.length - 1]!;
          if (cur[last] === undefined) {
            cur[last] = old[k];
            moved.push(`istio_cni.${k} → values.${target}`);
          }
        }
      }
      warn(
        'values.istio_cni',
        moved.length
          ? `is deprecated; translated: ${moved.join(', ')}`
          : "is deprecated and dropped: the CNI agent is components.cni, istiod's use of it values.pilot.cni",
      );
      delete values.istio_cni;
    }
    const g = isMap(values.global) ? values.global : undefined;
    if (g) {
      const mesh = () => (spec.meshConfig = isMap(spec.meshConfig) ? spec.meshConfig : {});
      const move = (oldKey: string, value: unknown, newKey: string, oldPath = `values.global.${oldKey}`) => {
        const m = mesh();
        if (m[newKey] === undefined) {
          m[newKey] = value;
          warn(oldPath, `is deprecated; translated to meshConfig.${newKey}: ${JSON.stringify(value)}`);
        } else {
          warn(oldPath, `is deprecated and ignored: meshConfig.${newKey} is also set and wins`);
        }
      };
      if ('mtls' in g) {
        const m = g.mtls;
        if (isMap(m) && 'auto' in m && m.auto !== null) move('mtls.auto', m.auto, 'enableAutoMtls');
        if (isMap(m) && 'enabled' in m)
          warn(
            'values.global.mtls.enabled',
            'was removed in Istio 1.5; mesh-wide mTLS is set with a PeerAuthentication in the root namespace (mtls.mode: STRICT)',
          );
        delete g.mtls;
      }
      if ('outboundTrafficPolicy' in g) {
        const o = g.outboundTrafficPolicy;
        if (isMap(o) && typeof o.mode === 'string') {
          const m = mesh();
          m.outboundTrafficPolicy = isMap(m.outboundTrafficPolicy) ? m.outboundTrafficPolicy : {};
          if (m.outboundTrafficPolicy.mode === undefined) {
            m.outboundTrafficPolicy.mode = o.mode;
            warn('values.global.outboundTrafficPolicy', `is deprecated; translated to meshConfig.outboundTrafficPolicy.mode: ${o.mode}`);
          } else
            warn(
              'values.global.outboundTrafficPolicy',
              'is deprecated and ignored: meshConfig.outboundTrafficPolicy.mode is also set and wins',
            );
        } else
          warn(
            'values.global.outboundTrafficPolicy',
            'is deprecated; set meshConfig.outboundTrafficPolicy.mode (ALLOW_ANY or REGISTRY_ONLY)',
          );
        delete g.outboundTrafficPolicy;
      }
      if ('trustDomain' in g) {
        move('trustDomain', g.trustDomain, 'trustDomain');
        delete g.trustDomain;
      }
      if ('enableTracing' in g) {
        move('enableTracing', g.enableTracing, 'enableTracing');
        delete g.enableTracing;
      }
      if (isMap(g.proxy)) {
        for (const k of ['accessLogFile', 'accessLogFormat', 'accessLogEncoding']) {
          if (k in g.proxy) {
            move(k, g.proxy[k], k, `values.global.proxy.${k}`);
            delete g.proxy[k];
          }
        }
      }
      for (const [key, why] of Object.entries(REMOVED_GLOBALS)) {
        if (key in g) {
          warn(`values.global.${key}`, `dropped: ${why}`);
          delete g[key];
        }
      }
    }
  }
  // Drop maps that only held legacy settings, so a migrated file does not keep `global: {}`.
  if (warnings.length) {
    if (
      isMap(spec.values) &&
      isMap(spec.values.global) &&
      Object.keys(spec.values.global).length === 0 &&
      !isEmptyMap(input?.values?.global)
    )
      delete spec.values.global;
    if (isMap(spec.values) && Object.keys(spec.values).length === 0 && !isEmptyMap(input?.values)) delete spec.values;
    if (isMap(spec.components) && Object.keys(spec.components).length === 0 && !isEmptyMap(input?.components)) delete spec.components;
  }
  return { spec, warnings };
}

function isEmptyMap(x: unknown): boolean {
  return isMap(x) && Object.keys(x).length === 0;
}

// autoscaling/v2beta1 metric shapes → autoscaling/v2.
function translateK8s(k8s: unknown, path: string, warn: (p: string, m: string) => void): void {
  if (!isMap(k8s) || !isMap(k8s.hpaSpec) || !Array.isArray(k8s.hpaSpec.metrics)) return;
  k8s.hpaSpec.metrics.forEach((m: unknown, i: number) => {
    if (!isMap(m)) return;
    const at = `${path}.hpaSpec.metrics[${i}]`;
    if (isMap(m.resource)) {
      const r = m.resource;
      const target = legacyTarget(r, 'targetAverageUtilization', 'targetAverageValue', undefined);
      if (target) {
        r.target = target;
        warn(`${at}.resource`, `autoscaling/v2beta1 fields translated to autoscaling/v2: target ${JSON.stringify(target)}`);
      }
    }
    for (const kind of ['pods', 'object', 'external'] as const) {
      const x = m[kind];
      if (!isMap(x) || !('metricName' in x || 'targetValue' in x || 'targetAverageValue' in x || ('averageValue' in x && !x.target)))
        continue;
      const target = legacyTarget(
        x,
        undefined,
        kind === 'object' ? 'averageValue' : 'targetAverageValue',
        kind === 'pods' ? undefined : 'targetValue',
      );
      if ('metricName' in x) {
        x.metric = { name: x.metricName, ...(isMap(x.metricSelector) ? { selector: x.metricSelector } : {}) };
        delete x.metricName;
        delete x.metricSelector;
      }
      if (kind === 'object' && isMap(x.target) && x.target.kind) {
        x.describedObject = x.target;
        delete x.target;
      }
      if (target) x.target = target;
      warn(`${at}.${kind}`, `autoscaling/v2beta1 fields translated to autoscaling/v2: ${JSON.stringify(x)}`);
    }
  });
}

function legacyTarget(x: Values, util: string | undefined, avg: string, value: string | undefined): Record<string, unknown> | undefined {
  let t: Record<string, unknown> | undefined;
  if (util && x[util] !== undefined) t = { type: 'Utilization', averageUtilization: x[util] };
  else if (x[avg] !== undefined) t = { type: 'AverageValue', averageValue: x[avg] };
  else if (value && x[value] !== undefined) t = { type: 'Value', value: x[value] };
  for (const k of [util, avg, value]) if (k) delete x[k];
  return t;
}
