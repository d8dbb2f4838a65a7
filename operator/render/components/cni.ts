import yaml from 'js-yaml';
import type { Values } from '../../api/types.js';
import type { RenderContext } from '../context.js';
import { renderComponentTemplates } from '../engine.js';
import type { K8sObject } from '../../api/types.js';
import { CNI_DAEMONSET, CNI_NAME } from '../../api/names.js';
import { gracePeriod, imageOf, logLevel, resourceQuota } from './nodeagent.js';
import { asList, asMap, hasEntries, isMap, stringMap } from './util.js';
import { platformOf } from '../platforms.js';

// The Istio CNI node agent (Istio's `cni` chart): a DaemonSet on every node that installs the CNI plugin and
// redirects pod traffic, its ServiceAccount, ClusterRoles, the ConfigMap the agent reads its settings from and,
// when asked, a ResourceQuota and a NetworkPolicy. Like every component here, this file decides names, lists and
// conditions; the templates in manifests/cni only lay them out.

export function renderCni(ctx: RenderContext): K8sObject[] {
  return renderComponentTemplates('cni', { cni: cniView(ctx) }, { release: ctx.release });
}

/** Everything the cni templates print. Exported for tests. */
export function cniView(ctx: RenderContext) {
  const values = ctx.values ?? {};
  const global: Values = values.global ?? {};
  const v: Values = values.cni ?? {};
  const ambient: Values = asMap(v.ambient);
  const repair: Values = asMap(v.repair);
  const namespace = ctx.namespace;
  const common = { 'app.kubernetes.io/name': CNI_NAME, 'app.kubernetes.io/part-of': 'istio' };
  const selector = { 'k8s-app': CNI_DAEMONSET };
  const image = imageOf(v, global, ctx.version, 'install-cni');
  const ambientOn = ambient.enabled === true;
  const hostNetwork = ambientOn && ambient.shareHostNetworkNamespace === true;

  const podAnnotations: Record<string, string> = {
    'sidecar.istio.io/inject': 'false',
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': '15014',
    'prometheus.io/path': '/metrics',
  };
  // Nodes whose default AppArmor profile blocks the capabilities the agent needs; the annotation is the only
  // switch Kubernetes before 1.30 reads.
  if (v.useAppArmorAnnotation !== false) podAnnotations['container.apparmor.security.beta.kubernetes.io/install-cni'] = 'unconfined';
  Object.assign(podAnnotations, stringMap(v.podAnnotations));

  const pullSecrets = asList(global.imagePullSecrets).filter((s) => typeof s === 'string' && s);
  const platform = platformOf(values);
  const scope = String(global.resourceScope || 'all');
  const repairOn = repair.enabled !== false;
  // Repairing in place needs nothing more; deleting or labelling broken pods does (labels via the narrower pods/status).
  const repairInPlace = repair.repairPods === true;

  return {
    name: CNI_NAME,
    namespace,
    // As Istio's chart labels them: `app` on the agent's objects, `k8s-app: istio-cni-repair` on the bindings of its
    // repair and ambient roles.
    labels: { app: CNI_NAME, ...common },
    repairBindingLabels: { 'k8s-app': `${CNI_NAME}-repair`, ...common },
    quotaLabels: { ...common },
    networkPolicyLabels: { ...selector, ...common },
    serviceAccountName: CNI_NAME,
    imagePullSecrets: pullSecrets,
    // One ClusterRole (and its binding) per job, so each can be read, and removed, on its own.
    // On OpenShift the agent runs under the privileged SecurityContextConstraints, which its account must be allowed to use.
    openshift: platform === 'openshift',
    // With Multus (cni.provider multus, as on OpenShift) the plugin is not chained into the primary CNI's config:
    // pods ask for it by the NetworkAttachmentDefinition `default/istio-cni`, which the injector names in their
    // k8s.v1.cni.cncf.io/networks annotation. Istio always puts it in `default`, whatever the install's namespace.
    networkAttachment:
      v.provider === 'multus' && (scope === 'all' || scope === 'namespace') ? { name: CNI_NAME, namespace: 'default' } : undefined,
    repairRole: repairOn
      ? {
          name: `${CNI_NAME}-repair-role`,
          bindingName: `${CNI_NAME}-repair-rolebinding`,
          deletesPods: !repairInPlace && repair.deletePods === true,
          labelsPods: !repairInPlace && repair.deletePods !== true && repair.labelPods === true,
        }
      : undefined,
    // The agent marks each pod it enrolled in ambient (an annotation written through pods/status) and reads its own
    // DaemonSet (only that one, by name).
    ambientRoleName: ambientOn ? `${CNI_NAME}-ambient` : undefined,
    configMapName: `${CNI_NAME}-config`,
    configData: configData(v, ambient, repair, global, ctx.version),
    daemonSetName: CNI_DAEMONSET,
    daemonSetLabels: { ...selector, ...common, ...stringMap(v.daemonSetLabels) },
    selector,
    updateStrategy: isMap(v.updateStrategy) ? v.updateStrategy : undefined,
    podLabels: { ...selector, 'sidecar.istio.io/inject': 'false', 'istio.io/dataplane-mode': 'none', ...common, ...stringMap(v.podLabels) },
    podAnnotations,
    hostNetwork,
    tolerations: asList(v.tolerations),
    // Minimum shutdown time: the agent removes its CNI config and lets in-flight pod setups finish.
    terminationGracePeriodSeconds: gracePeriod(v),
    affinity: hasEntries(v.affinity) ? v.affinity : undefined,
    image,
    imagePullPolicy: v.pullPolicy || global.imagePullPolicy ? String(v.pullPolicy || global.imagePullPolicy) : undefined,
    seLinuxOptions: hasEntries(v.seLinuxOptions) ? v.seLinuxOptions : undefined,
    seccompProfile: hasEntries(v.seccompProfile) ? v.seccompProfile : undefined,
    logLevel: logLevel(v, global),
    logAsJson: !!global.logAsJson,
    ambient: ambientOn,
    cniBinDir: String(v.cniBinDir || '/opt/cni/bin'),
    cniConfDir: String(v.cniConfDir || '/etc/cni/net.d'),
    cniNetnsDir: String(v.cniNetnsDir || '/var/run/netns'),
    resources: hasEntries(v.resources) ? v.resources : global.defaultResources,
    resourceQuota: resourceQuota(v, `${CNI_NAME}-resource-quota`),
    networkPolicy: global.networkPolicy?.enabled === true,
  };
}

/** The agent's settings, read through envFrom: every value a string, as ConfigMap data must be. */
function configData(v: Values, ambient: Values, repair: Values, global: Values, version: string): Record<string, string> {
  const s = (x: unknown) => (x === undefined || x === null ? '' : String(x));
  const data: Record<string, string> = {
    CURRENT_AGENT_VERSION: s(v.tag || global.tag || version),
    AMBIENT_ENABLED: s(ambient.enabled === true),
    AMBIENT_ENABLEMENT_SELECTOR: yaml.dump(asList(ambient.enablementSelectors), { lineWidth: -1, noRefs: true, sortKeys: true }),
    AMBIENT_DNS_CAPTURE: s(ambient.dnsCapture !== false),
    AMBIENT_IPV6: s(ambient.ipv6 !== false),
    AMBIENT_RECONCILE_POD_RULES_ON_STARTUP: s(ambient.reconcileIptablesOnStartup === true),
    ENABLE_AMBIENT_DETECTION_RETRY: s(ambient.enableAmbientDetectionRetry === true),
    ISTIO_OWNED_CNI_CONFIG: s(v.istioOwnedCNIConfig === true),
    CHAINED_CNI_PLUGIN: s(v.chained !== false),
    EXCLUDE_NAMESPACES: asList(v.excludeNamespaces).map(String).join(','),
    REPAIR_ENABLED: s(repair.enabled !== false),
    REPAIR_LABEL_PODS: s(repair.labelPods === true),
    REPAIR_DELETE_PODS: s(repair.deletePods === true),
    REPAIR_REPAIR_PODS: s(repair.repairPods !== false),
    REPAIR_INIT_CONTAINER_NAME: s(repair.initContainerName || 'istio-validation'),
    REPAIR_BROKEN_POD_LABEL_KEY: s(repair.brokenPodLabelKey || 'cni.istio.io/uninitialized'),
    REPAIR_BROKEN_POD_LABEL_VALUE: s(repair.brokenPodLabelValue ?? 'true'),
    NATIVE_NFTABLES: s(global.nativeNftables === true),
  };
  // An empty value would read as "unset" on some Kubernetes versions: leave the key out instead.
  if (v.cniConfFileName) data.CNI_CONF_NAME = s(v.cniConfFileName);
  if (ambient.configDir) data.AMBIENT_CONFIG_DIR = s(ambient.configDir);
  if (v.istioOwnedCNIConfig === true) data.ISTIO_OWNED_CNI_CONF_FILENAME = s(v.istioOwnedCNIConfigFileName || '02-istio-cni.conflist');
  for (const [k, val] of Object.entries(asMap(v.env))) data[k] = s(val);
  return data;
}
