import semver from 'semver';

// Istio supports revision-based (canary) upgrades across at most two minor versions.
export const MAX_MINOR_SKIP = 2;

/** Oldest Kubernetes minor each Istio minor supports (Istio's support matrix). */
export const MIN_KUBERNETES: Record<string, string> = {
  '1.24': '1.28',
  '1.25': '1.29',
  '1.26': '1.29',
  '1.27': '1.29',
  '1.28': '1.30',
  '1.29': '1.31',
  '1.30': '1.32',
};

export interface InstalledRevision {
  revision: string;
  /** Istio version running in that revision (its tag), e.g. `1.29.0`. */
  version: string;
  namespace: string;
  /** Revision tags pointing at it. */
  tags: string[];
  /** Namespaces using it, and pods still on it. */
  namespaces: string[];
  pods: number;
  gateways: string[];
}

export interface PlanInput {
  target: string;
  kubernetesVersion: string;
  installed: InstalledRevision[];
  /** Webhook configurations with injection selectors that would overlap the new revision's. */
  overlappingWebhooks?: string[];
  /** Name of the new revision (default: revisionForVersion(target)). */
  newRevision?: string;
}

export interface Precheck {
  name: string;
  ok: boolean;
  message: string;
}

export interface UpgradeStep {
  title: string;
  detail: string;
  /** A command to run, or a manifest to apply. */
  command?: string;
  manifest?: string;
}

export interface UpgradePlan {
  ok: boolean;
  target: string;
  newRevision: string;
  prechecks: Precheck[];
  steps: UpgradeStep[];
}

/** `1.30.0` → `1-30-0`: the revision name Istio's docs use for a version. */
export function revisionForVersion(v: string): string {
  return v.replace(/\./g, '-').replace(/[^a-z0-9-]/gi, '-').toLowerCase();
}

function minor(v: string): string | undefined {
  const c = semver.coerce(v);
  return c ? `${c.major}.${c.minor}` : undefined;
}

export function planUpgrade(input: PlanInput): UpgradePlan {
  const target = semver.coerce(input.target);
  const checks: Precheck[] = [];
  const newRevision = input.newRevision || revisionForVersion(input.target);
  if (!target) {
    return { ok: false, target: input.target, newRevision, prechecks: [{ name: 'target version', ok: false, message: `"${input.target}" is not a version (expected e.g. 1.30.0)` }], steps: [] };
  }
  const from = input.installed;
  if (from.length === 0) checks.push({ name: 'installed revisions', ok: false, message: 'no installed revision found: use `istio-operator install` for a first install' });
  for (const r of from) {
    const v = semver.coerce(r.version);
    if (!v) {
      checks.push({ name: `revision ${r.revision || 'default'}`, ok: false, message: `cannot tell its version from "${r.version}"` });
      continue;
    }
    const skip = (target.major - v.major) * 100 + (target.minor - v.minor);
    if (skip > MAX_MINOR_SKIP) {
      checks.push({ name: `skip from ${r.version}`, ok: false, message: `${r.version} → ${target.version} crosses ${skip} minor versions; Istio supports canary upgrades across at most ${MAX_MINOR_SKIP} (upgrade through ${target.major}.${v.minor + MAX_MINOR_SKIP} first)` });
    } else if (skip < 0) {
      checks.push({ name: `direction from ${r.version}`, ok: false, message: `${target.version} is older than the running ${r.version}: a minor downgrade is not supported in place; install the older revision beside it and move namespaces back instead` });
    } else {
      checks.push({ name: `skip from ${r.version}`, ok: true, message: `${r.version} → ${target.version}: ${skip} minor version(s)` });
    }
    if (r.revision === newRevision) checks.push({ name: 'revision name', ok: false, message: `revision ${newRevision} already exists` });
  }
  const tm = minor(target.version)!;
  const minK8s = MIN_KUBERNETES[tm];
  const k8s = minor(input.kubernetesVersion);
  if (!minK8s) checks.push({ name: 'kubernetes version', ok: true, message: `no support data for Istio ${tm}; check its release notes (cluster runs ${input.kubernetesVersion})` });
  else if (!k8s || semver.lt(semver.coerce(k8s)!, semver.coerce(minK8s)!)) checks.push({ name: 'kubernetes version', ok: false, message: `Istio ${tm} needs Kubernetes ${minK8s} or newer; the cluster runs ${input.kubernetesVersion}` });
  else checks.push({ name: 'kubernetes version', ok: true, message: `Kubernetes ${input.kubernetesVersion} >= ${minK8s}` });
  for (const w of input.overlappingWebhooks ?? []) checks.push({ name: 'webhook overlap', ok: false, message: `${w} would also inject pods selected for ${newRevision}` });

  const ok = checks.every((c) => c.ok);
  const steps: UpgradeStep[] = [];
  if (ok) {
    const old = [...from].sort((a, b) => semver.compare(semver.coerce(a.version)!, semver.coerce(b.version)!));
    const ns = from[0]?.namespace ?? 'istio-system';
    steps.push({
      title: `Install revision ${newRevision} beside the running one`,
      detail: 'The new control plane starts next to the old one; nothing moves yet.',
      manifest: [
        'apiVersion: install.istio.io/v1alpha1',
        'kind: IstioOperator',
        'metadata:',
        `  name: control-plane-${newRevision}`,
        `  namespace: ${ns}`,
        'spec:',
        `  revision: ${newRevision}`,
        `  tag: ${target.version}`,
        // Same Istio namespace as the running revision: a revision elsewhere would be another mesh.
        ...(ns !== 'istio-system' ? [`  namespace: ${ns}`, '  values:', '    global:', `      istioNamespace: ${ns}`] : []),
        '  components:',
        '    ingressGateways: []   # gateways stay with the revision or tag they point at (see the runbook)',
        '',
      ].join('\n'),
      command: `kubectl apply -f control-plane-${newRevision}.yaml   # or: istio-operator install -f control-plane-${newRevision}.yaml`,
    });
    for (const r of old) {
      for (const tag of r.tags) {
        steps.push({ title: `Move tag ${tag} to ${newRevision}`, detail: `Namespaces labelled istio.io/rev=${tag} inject ${newRevision} from now on.`, command: `istio-operator tag set ${tag} --revision ${newRevision} --overwrite` });
      }
      const direct = r.namespaces;
      if (direct.length) {
        steps.push({
          title: `Restart workloads on ${r.revision || 'default'}`,
          detail: `${r.pods} pod(s) in ${direct.length} namespace(s) (${direct.slice(0, 10).join(', ')}${direct.length > 10 ? ', ...' : ''}) still run ${r.version}. Namespaces labelled with the revision itself (not a tag) need relabelling first.`,
          command: direct.map((n) => `kubectl rollout restart deployment -n ${n}`).join('\n'),
        });
      }
      if (r.gateways.length) {
        steps.push({ title: 'Gateways', detail: `In place: ${r.gateways.join(', ')} follow the revision or tag they point at; restart them after the tag moves. Canary: install a second gateway Deployment on ${newRevision} and shift traffic before removing the old one.` });
      }
      steps.push({ title: 'Check that nothing uses the old revision', detail: 'Namespaces, pods and tags are counted; removal is refused while any remain.', command: 'istio-operator upgrade status' });
      steps.push({ title: `Remove revision ${r.revision || 'default'}`, detail: 'Only that revision\'s objects go; CRDs and the new revision stay.', command: `istio-operator uninstall --revision ${r.revision || 'default'}` });
    }
  }
  return { ok, target: target.version, newRevision, prechecks: checks, steps };
}
