import yaml from 'js-yaml';
import type { Values } from '../../api/types.js';
import type { RenderContext } from '../context.js';
import { renderComponentTemplates } from '../engine.js';
import type { K8sObject } from '../../api/types.js';
import { CNI_DAEMONSET, CNI_NAME } from '../../api/names.js';
import { gracePeriod, imageOf, logLevel, networkPolicy, resourceQuota } from './nodeagent.js';
import { asList, asMap, fieldRef, hasEntries, isMap, stringMap } from './util.js';

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

  const env: Array<Record<string, unknown>> = [
    { name: 'REPAIR_NODE_NAME', valueFrom: fieldRef('spec.nodeName', false) },
    { name: 'REPAIR_RUN_AS_DAEMON', value: 'true' },
    { name: 'REPAIR_SIDECAR_ANNOTATION', value: 'sidecar.istio.io/status' },
  ];
  // Without the host's network namespace the agent enters it itself when it has to (in-pod redirection).
  if (!hostNetwork) env.push({ name: 'ALLOW_SWITCH_TO_HOST_NS', value: 'true' });
  env.push(
    { name: 'NODE_NAME', valueFrom: fieldRef('spec.nodeName') },
    { name: 'GOMEMLIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1' } } },
    { name: 'GOMAXPROCS', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1' } } },
    { name: 'POD_NAME', valueFrom: fieldRef('metadata.name', false) },
    { name: 'POD_NAMESPACE', valueFrom: fieldRef('metadata.namespace', false) },
  );

  const args = [`--log_output_level=${logLevel(v, global)}`];
  if (global.logAsJson) args.push('--log_as_json');

  const securityContext: Record<string, unknown> = {
    privileged: false,
    runAsGroup: 0,
    runAsUser: 0,
    runAsNonRoot: false,
    capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW', 'SYS_PTRACE', 'SYS_ADMIN', 'DAC_OVERRIDE'] },
  };
  if (Object.keys(asMap(v.seLinuxOptions)).length) securityContext.seLinuxOptions = v.seLinuxOptions;
  if (Object.keys(asMap(v.seccompProfile)).length) securityContext.seccompProfile = v.seccompProfile;

  const volumeMounts: Array<Record<string, unknown>> = [
    { mountPath: '/host/opt/cni/bin', name: 'cni-bin-dir' },
    // /proc of the host: to find pods' network namespaces (repair, ambient).
    { mountPath: '/host/proc', name: 'cni-host-procfs', readOnly: true },
    { mountPath: '/host/etc/cni/net.d', name: 'cni-net-dir' },
    // The socket the CNI plugin (run by the kubelet) reports new pods on.
    { mountPath: '/var/run/istio-cni', name: 'cni-socket-dir' },
  ];
  if (ambientOn) {
    volumeMounts.push(
      // Pods' network namespaces appear here after the agent starts: they must propagate into the container.
      { mountPath: '/host/var/run/netns', mountPropagation: 'HostToContainer', name: 'cni-netns-dir' },
      // ztunnel's socket: the agent hands it each ambient pod's network namespace.
      { mountPath: '/var/run/ztunnel', name: 'cni-ztunnel-sock-dir' },
    );
  }
  const volumes: Array<Record<string, unknown>> = [
    { name: 'cni-bin-dir', hostPath: { path: String(v.cniBinDir || '/opt/cni/bin') } },
    { name: 'cni-host-procfs', hostPath: { path: '/proc', type: 'Directory' } },
    { name: 'cni-net-dir', hostPath: { path: String(v.cniConfDir || '/etc/cni/net.d') } },
    { name: 'cni-socket-dir', hostPath: { path: '/var/run/istio-cni' } },
    // DirectoryOrCreate: the directory appears only once the first non-host-network pod runs on the node.
    { name: 'cni-netns-dir', hostPath: { path: String(v.cniNetnsDir || '/var/run/netns'), type: 'DirectoryOrCreate' } },
  ];
  if (ambientOn) volumes.push({ name: 'cni-ztunnel-sock-dir', hostPath: { path: '/var/run/ztunnel', type: 'DirectoryOrCreate' } });

  const container: Record<string, unknown> = {
    name: 'install-cni',
    image,
    ...(v.pullPolicy || global.imagePullPolicy ? { imagePullPolicy: String(v.pullPolicy || global.imagePullPolicy) } : {}),
    ports: [{ containerPort: 15014, name: 'metrics', protocol: 'TCP' }],
    readinessProbe: { httpGet: { path: '/readyz', port: 8000 } },
    securityContext,
    command: ['install-cni'],
    args,
    env,
    envFrom: [{ configMapRef: { name: `${CNI_NAME}-config` } }],
    volumeMounts,
    resources: hasEntries(v.resources) ? v.resources : global.defaultResources,
  };

  const pullSecrets = asList(global.imagePullSecrets).filter((s) => typeof s === 'string' && s);

  return {
    name: CNI_NAME,
    namespace,
    labels: { ...common },
    serviceAccountName: CNI_NAME,
    imagePullSecrets: pullSecrets,
    clusterRoles: clusterRoles(v, repair, ambientOn, String(values.platform ?? global.platform ?? '')),
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
    container,
    volumes,
    resourceQuota: resourceQuota(v, `${CNI_NAME}-resource-quota`),
    // Metrics scraping only; the agent talks to the API server and, in ambient, to ztunnel over a host socket.
    networkPolicy: global.networkPolicy?.enabled === true ? networkPolicy(selector, [15014]) : undefined,
  };
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** One ClusterRole (and its binding) per job, so each can be read, and removed, on its own. */
function clusterRoles(v: Values, repair: Values, ambientOn: boolean, platform: string): Array<{ name: string; bindingName: string; rules: Rule[] }> {
  const base: Rule[] = [{ apiGroups: [''], resources: ['pods', 'nodes', 'namespaces'], verbs: ['get', 'list', 'watch'] }];
  if (platform === 'openshift') base.push({ apiGroups: ['security.openshift.io'], resources: ['securitycontextconstraints'], verbs: ['use'] });
  const roles = [{ name: CNI_NAME, bindingName: CNI_NAME, rules: base }];
  if (repair.enabled !== false) {
    const rules: Rule[] = [{ apiGroups: [''], resources: ['pods'], verbs: ['watch', 'get', 'list'] }];
    // Repairing in place needs nothing more; deleting or labelling broken pods does (labels via the narrower pods/status).
    if (repair.repairPods !== true) {
      if (repair.deletePods === true) rules.push({ apiGroups: [''], resources: ['pods'], verbs: ['delete'] });
      else if (repair.labelPods === true) rules.push({ apiGroups: [''], resources: ['pods/status'], verbs: ['patch', 'update'] });
    }
    roles.push({ name: `${CNI_NAME}-repair-role`, bindingName: `${CNI_NAME}-repair-rolebinding`, rules });
  }
  // The agent marks each pod it enrolled in ambient (an annotation written through pods/status).
  if (ambientOn) roles.push({ name: `${CNI_NAME}-ambient`, bindingName: `${CNI_NAME}-ambient`, rules: [{ apiGroups: [''], resources: ['pods/status'], verbs: ['patch', 'update'] }] });
  return roles;
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
