// The golden cases of Istio's own `manifest generate` test, as CASES.md describes them.
// Where CASES.md and the golden file disagree, the golden file wins (it is what Istio actually rendered):
// - flag_output renders the flag_output.yaml input (empty + pilot); the golden holds only Deployment istiod.
// - flag_output_set_values has no input file and sets `values.global.proxy.image=mynewproxy`; its golden
//   holds the ingress gateway Deployment whose proxy image is `mynewproxy`.

import type { GoldenSet } from './compare.js';

export interface GoldenCase {
  name: string;
  /** Istio's own goldens (default) or the platform goldens generated with the real istioctl (golden/platform/). */
  set?: GoldenSet;
  /** File under golden/inputs/, or undefined when the case has no input file (flags only). */
  input?: string;
  /** File under golden/outputs/, or undefined when there is no golden (all_off: must render nothing). */
  golden?: string;
  /** Objects kept from our render, `Kind:namespace:name` with `*` for any part; `['*']` keeps the whole render.
   *  Only the golden's objects are compared field by field; the select decides which of OUR objects count as
   *  "extra" (rendered but absent from the golden). */
  select: string[];
  /** Golden objects not compared (CASES.md says so). */
  skip?: string[];
  sets?: string[];
  force?: boolean;
  /** Set while a case needs something the project does not render yet; the reason is printed. */
  pending?: string;
  /** Differences understood and accepted, each with its reason: `match` is a regular expression tested against
   *  `<Kind:namespace:name> <path>`. They still count against the share; the report lists them apart. */
  explained?: Array<{ match: string; reason: string }>;
  /** The same, for one release's goldens only (key: the fixture release, e.g. 1.29.6). */
  explainedIn?: Record<string, Array<{ match: string; reason: string }>>;
}

export function explainedFor(c: GoldenCase, release: string): Array<{ match: string; reason: string }> {
  return [...(c.explained ?? []), ...(c.explainedIn?.[release] ?? [])];
}

// The same istiod (empty profile + pilot) is rendered by pilot_default, install_package_path, all_on and flag_output;
// flag_output's golden alone has no port 15012 and has GOMEMLIMIT, so it was generated from another chart version.
const FLAG_OUTPUT_VINTAGE = 'flag_output\'s golden is from another chart version: the goldens of pilot_default, install_package_path and ' +
  'all_on render the same istiod with port 15012 and without GOMEMLIMIT; no render can match both';

// Istio's manifest-generate test renders most cases from a chart snapshot kept in its testdata
// (operator/cmd/mesh/testdata/manifest-generate/data-snapshot.tar.gz; only cases marked liveCharts use
// manifests/charts). In 1.29.6 that snapshot predates the release's own charts, which istioctl 1.29.6 embeds and
// renders (manifests/manifest.go: go:embed charts). Where the two disagree we render what istioctl 1.29.6 renders.
const SNAPSHOT_1_29 = (what: string) =>
  `Istio 1.29.6's golden is rendered from its test's older chart snapshot; the charts istioctl 1.29.6 embeds ${what}, as 1.30 does`;
const CNI_1_29 = {
  match: '^DaemonSet:[^ ]+:istio-cni-node spec\\.template\\.spec\\.(terminationGracePeriodSeconds|containers\\[name=install-cni\\]\\.(ports\\[name=metrics\\]\\.hostPort|env\\[name=ALLOW_SWITCH_TO_HOST_NS\\]|securityContext\\.(privileged|capabilities\\.add\\[\\d+\\])))$',
  reason: SNAPSHOT_1_29(
    '(manifests/charts/istio-cni/templates/daemonset.yaml, values.yaml) run the agent unprivileged with NET_ADMIN, NET_RAW, SYS_PTRACE, SYS_ADMIN and DAC_OVERRIDE, ' +
      'no hostPort, ALLOW_SWITCH_TO_HOST_NS set and a 30 s grace period',
  ),
};
const ZTUNNEL_1_29 = {
  match: '^DaemonSet:[^ ]+:ztunnel spec\\.template\\.spec\\.containers\\[name=istio-proxy\\]\\.env\\[name=ZTUNNEL_CPU_LIMIT\\]$',
  reason: SNAPSHOT_1_29('(manifests/charts/ztunnel/templates/daemonset.yaml) set ZTUNNEL_CPU_LIMIT'),
};
const GATEWAY_PDB_1_29 = {
  match: '^PodDisruptionBudget:[^ ]+:istio-(ingress|egress)gateway $',
  reason: SNAPSHOT_1_29('(manifests/charts/gateways/istio-*/templates/poddisruptionbudget.yaml) render a gateway budget only when more than one replica can run'),
};

export const CASES: GoldenCase[] = [
  { name: 'all_on', input: 'all_on.yaml', golden: 'all_on.golden-show-in-gh-pull-request.yaml', select: ['*'], skip: ['ConfigMap:*:istio'], explainedIn: { '1.29.6': [GATEWAY_PDB_1_29] } },
  { name: 'all_off', input: 'all_off.yaml', select: ['*'] },
  { name: 'pilot_default', input: 'pilot_default.yaml', golden: 'pilot_default.golden.yaml', select: ['*'] },
  { name: 'pilot_k8s_settings', input: 'pilot_k8s_settings.yaml', golden: 'pilot_k8s_settings.golden.yaml', select: ['Deployment:*:istiod', 'HorizontalPodAutoscaler:*:istiod'] },
  { name: 'pilot_override_values', input: 'pilot_override_values.yaml', golden: 'pilot_override_values.golden.yaml', select: ['Deployment:*:istiod', 'HorizontalPodAutoscaler:*:istiod'] },
  { name: 'pilot_disable_tracing', input: 'pilot_disable_tracing.yaml', golden: 'pilot_disable_tracing.golden.yaml', select: ['ConfigMap:*:istio'] },
  { name: 'pilot_hpa_pdb', input: 'pilot_hpa_pdb.yaml', golden: 'pilot_hpa_pdb.golden.yaml', select: ['HorizontalPodAutoscaler:*:istiod', 'PodDisruptionBudget:*:istiod'] },
  { name: 'autoscaling_v2', input: 'autoscaling_v2.yaml', golden: 'autoscaling_v2.golden.yaml', select: ['HorizontalPodAutoscaler:*:istiod', 'HorizontalPodAutoscaler:*:istio-ingressgateway'] },
  { name: 'ingressgateway_k8s_settings', input: 'ingressgateway_k8s_settings.yaml', golden: 'ingressgateway_k8s_settings.golden.yaml', select: ['Deployment:*:istio-ingressgateway*', 'Service:*:istio-ingressgateway*'] },
  { name: 'networkpolicy_enabled', input: 'networkpolicy_enabled.yaml', golden: 'networkpolicy_enabled.golden.yaml', select: ['NetworkPolicy:*:istiod'] },
  { name: 'istio-cni', input: 'istio-cni.yaml', golden: 'istio-cni.golden.yaml', select: ['DaemonSet:*:istio-cni-node'], explainedIn: { '1.29.6': [CNI_1_29] } },
  { name: 'istio-cni_tolerations', input: 'istio-cni_tolerations.yaml', golden: 'istio-cni_tolerations.golden.yaml', select: ['DaemonSet:*:istio-cni-node'], explainedIn: { '1.29.6': [CNI_1_29] } },
  { name: 'ztunnel', input: 'ztunnel.yaml', golden: 'ztunnel.golden.yaml', select: ['DaemonSet:*:ztunnel'], explainedIn: { '1.29.6': [ZTUNNEL_1_29] } },
  { name: 'ztunnel_tolerations', input: 'ztunnel_tolerations.yaml', golden: 'ztunnel_tolerations.golden.yaml', select: ['DaemonSet:*:ztunnel'], explainedIn: { '1.29.6': [ZTUNNEL_1_29] } },
  { name: 'sidecar_template', input: 'sidecar_template.yaml', golden: 'sidecar_template.golden.yaml', select: ['ConfigMap:*:istio-sidecar-injector'] },
  // Istio passes its charts directory; ours has no charts, so any path shows the flag is accepted (and ignored).
  { name: 'install_package_path', input: 'install_package_path.yaml', golden: 'install_package_path.golden.yaml', select: ['Deployment:*:istiod'], sets: ['installPackagePath=manifests'] },
  { name: 'flag_values_enable_egressgateway', golden: 'flag_values_enable_egressgateway.golden.yaml', select: ['Service:*:istio-egressgateway'], sets: ['values.gateways.istio-egressgateway.enabled=true'] },
  { name: 'flag_force', input: 'flag_force.yaml', golden: 'flag_force.golden.yaml', select: [], force: true },
  { name: 'flag_output', input: 'flag_output.yaml', golden: 'flag_output.golden.yaml', select: ['Deployment:*:istiod'],
    explained: [{ match: 'ports\\[containerPort=15012\\]|env\\[name=GOMEMLIMIT\\]', reason: FLAG_OUTPUT_VINTAGE }] },
  { name: 'flag_output_set_values', golden: 'flag_output_set_values.golden.yaml', select: ['Deployment:*:istio-ingressgateway'], sets: ['values.global.proxy.image=mynewproxy'] },
];

// values.global.platform and the openshift profiles, as the real istioctl of each release renders them
// (golden/platform/, CASES.md; what each platform changes: releases/PLATFORMS.md). The whole render is compared,
// CRDs aside: the goldens were generated without them.
export const PLATFORMS = ['gke', 'k3d', 'k3s', 'microk8s', 'minikube', 'openshift'] as const;
const EVERY_KIND_BUT_CRDS = ['ClusterRole:*:*', 'ClusterRoleBinding:*:*', 'ConfigMap:*:*', 'DaemonSet:*:*', 'Deployment:*:*', 'Endpoints:*:*',
  'HorizontalPodAutoscaler:*:*', 'MutatingWebhookConfiguration:*:*', 'NetworkAttachmentDefinition:*:*', 'NetworkPolicy:*:*',
  'PodDisruptionBudget:*:*', 'ResourceQuota:*:*', 'Role:*:*', 'RoleBinding:*:*', 'Service:*:*', 'ServiceAccount:*:*',
  'ValidatingWebhookConfiguration:*:*'];
const platformCase = (name: string): GoldenCase => ({ name: `platform/${name}`, set: 'platform', input: `${name}.yaml`, golden: `${name}.golden.yaml`, select: EVERY_KIND_BUT_CRDS });

export const PLATFORM_CASES: GoldenCase[] = [
  ...['default-cni', 'ambient'].flatMap((base) => [base, ...PLATFORMS.map((p) => `${base}_${p}`)]),
  'openshift',
  'openshift-ambient',
].map(platformCase);

CASES.push(...PLATFORM_CASES);
