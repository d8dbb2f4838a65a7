import type { Values } from '../api/types.js';
import { minorOf, type Release } from '../api/releases.js';

// `values.global.platform` (or `values.platform`): what a Kubernetes distribution needs different from a plain
// cluster, as each supported Istio release defines it. Istio layers the platform's values over the chart defaults,
// the values profile and the compatibility version, and under the user's values, in every chart it renders.
// Its platform file names keys at the root of each chart; here they are placed in our unified values tree, chart by
// chart: the CNI chart's root is values.cni, istiod's is values.pilot, ztunnel's is values.ztunnel. A key Istio puts
// at every chart's root goes to each chart that has it in its own values or shows it in its `values` ConfigMap.
// Facts per release: test/fixtures/istio/releases/PLATFORMS.md, measured against the real istioctl's renders.

/** What a platform says, by whom it is read. */
interface PlatformSettings {
  /** The CNI agent's host paths and plugin mode. Istio's istiod chart receives the same block as its own `cni`, so
   *  istiod's view of the CNI (values.pilot.cni, which the injector reads) carries it too. */
  cni?: Values;
  /** Security and admission settings of both node agents (values.cni and values.ztunnel); istiod's chart receives
   *  them too and lists them in its `values` ConfigMap. */
  nodeAgents?: Values;
  /** istiod's settings that Istio keeps under `pilot` (its `values` ConfigMap shows them there too). */
  pilot?: Values;
  /** istiod's settings at its chart root. */
  istiod?: Values;
}

/** SELinux type of OpenShift's privileged containers: the node agents write host paths and enter pods' namespaces. */
const SPC_T = { type: 'spc_t' };

/** One entry per platform; a function of the release, for the settings that differ between release lines. */
const PLATFORMS_TABLE: Record<string, (release: Release) => PlatformSettings> = {
  // GKE admits system-node-critical pods only in namespaces with a quota for that priority class. The CNI binary
  // directory is left empty so that Istio's template picks GKE's own (/home/kubernetes/bin) when it can see the
  // cluster's version; a render without a cluster, as ours always is, gets /opt/cni/bin.
  gke: () => ({
    cni: { cniBinDir: '', resourceQuotas: { enabled: true } },
    nodeAgents: { resourceQuotas: { enabled: true } },
  }),
  // k3d runs k3s in containers: the CNI binaries live at the container's /bin.
  k3d: () => ({ cni: { cniConfDir: '/var/lib/rancher/k3s/agent/etc/cni/net.d', cniBinDir: '/bin' } }),
  k3s: () => ({ cni: { cniConfDir: '/var/lib/rancher/k3s/agent/etc/cni/net.d', cniBinDir: '/var/lib/rancher/k3s/data/cni' } }),
  // microk8s is a snap: its CNI lives under the snap's current revision.
  microk8s: () => ({
    cni: { cniConfDir: '/var/snap/microk8s/current/args/cni-network', cniBinDir: '/var/snap/microk8s/current/opt/cni/bin' },
  }),
  // minikube's docker driver keeps pods' network namespaces where docker does.
  minikube: () => ({ cni: { cniNetnsDir: '/var/run/docker/netns' } }),
  // OpenShift runs Multus: Istio's CNI plugin is a standalone plugin Multus calls through a NetworkAttachmentDefinition
  // (not chained into the primary CNI's config), under Multus's paths; the agents run as spc_t under the privileged
  // SCC; istiod trusts the ztunnel of kube-system. Istio 1.31 also has istiod's termination message fall back to its
  // log, as OpenShift's tooling expects.
  openshift: (release) => ({
    cni: {
      cniBinDir: '/var/lib/cni/bin',
      cniConfDir: '/etc/cni/multus/net.d',
      chained: false,
      cniConfFileName: 'istio-cni.conf',
      provider: 'multus',
    },
    nodeAgents: { seLinuxOptions: SPC_T },
    pilot: {
      cni: { enabled: true, provider: 'multus' },
      ...(minorOf(release) >= 31 ? { terminationMessagePolicy: 'FallbackToLogsOnError' } : {}),
    },
    istiod: { trustedZtunnelNamespace: 'kube-system' },
  }),
};

/** The platforms a release knows (the same six in 1.29, 1.30 and 1.31: each release's helm-profiles/platform-*.yaml). */
export function platformsOf(_release: Release): string[] {
  return Object.keys(PLATFORMS_TABLE).sort();
}

/** The platform an install asks for: `values.platform`, else `values.global.platform` (as Istio's charts read it); '' for none. */
export function platformOf(values: Values | undefined): string {
  const p = values?.platform || values?.global?.platform;
  return p === undefined || p === null ? '' : String(p);
}

/** A platform's settings for `release`, or undefined for a platform the release does not know (case-sensitive, as Istio). */
function settingsOf(platform: string, release: Release): PlatformSettings | undefined {
  if (!Object.prototype.hasOwnProperty.call(PLATFORMS_TABLE, platform)) return undefined;
  return PLATFORMS_TABLE[platform]!(release);
}

const copy = <T>(v: T): T => structuredClone(v);

/**
 * The values a platform layers under the user's, in our unified tree; undefined for an unknown platform.
 * `cni` goes to the CNI agent and to istiod's view of it, `nodeAgents` to both agents and istiod's root,
 * `pilot` and `istiod` to istiod.
 */
export function platformValues(platform: string, release: Release): Values | undefined {
  const s = settingsOf(platform, release);
  if (!s) return undefined;
  const out: Values = {};
  const cni = { ...copy(s.nodeAgents ?? {}), ...copy(s.cni ?? {}) };
  if (Object.keys(cni).length) out.cni = cni;
  if (s.nodeAgents) out.ztunnel = copy(s.nodeAgents);
  const pilot: Values = { ...copy(s.nodeAgents ?? {}), ...copy(s.istiod ?? {}) };
  const pilotCni = { ...copy(s.cni ?? {}), ...copy(s.pilot?.cni ?? {}) };
  Object.assign(pilot, copy(s.pilot ?? {}));
  if (Object.keys(pilotCni).length) pilot.cni = pilotCni;
  if (Object.keys(pilot).length) out.pilot = pilot;
  return out;
}
