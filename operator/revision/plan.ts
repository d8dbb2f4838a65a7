import yaml from 'js-yaml';
import semver from 'semver';
import { RELEASES, versionOfTag, type Release } from '../api/releases.js';
import { FEATURES } from '../render/features.js';
import { resolveIstioOperator } from '../api/resolve.js';
import { render } from '../render/index.js';
import type { Values } from '../api/types.js';

// Istio supports revision-based (canary) upgrades across at most two minor versions.
export const MAX_MINOR_SKIP = 2;

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
  /** The spec it was installed from, as its inventory recorded it (installs before that record have none). */
  spec?: Record<string, unknown>;
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
  /** The release line whose manifests the new revision gets, when the target is a supported release. */
  release?: string;
  newRevision: string;
  prechecks: Precheck[];
  steps: UpgradeStep[];
  /** What the target release installs differently from the oldest running one (render/features.ts). */
  changes: string[];
  /** The objects step 1's IstioOperator installs, as `Kind namespace/name` (rendered, nothing applied). */
  objects?: string[];
}

/** The objects an IstioOperator manifest installs, rendered offline: what the plan's first step adds. */
export function plannedObjects(manifest: string): string[] {
  const { install } = resolveIstioOperator({ files: [{ name: 'planned revision', text: manifest }] });
  return render(install).objects.map((o) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`);
}

/**
 * Step 1's IstioOperator: the running revision's own profile and settings (from its inventory) with the new
 * revision and tag, and no gateways (they stay with the revision or tag they point at; the runbook moves them).
 * An install recorded without its spec gets the default profile, and the comment says to copy the settings.
 */
export function canaryManifest(running: InstalledRevision | undefined, newRevision: string, target: string): string {
  const ns = running?.namespace ?? 'istio-system';
  const spec: Values = structuredClone(running?.spec ?? {});
  for (const k of ['revision', 'tag', 'hub']) delete spec[k];
  if (spec.values?.global) {
    for (const k of ['tag', 'hub']) delete spec.values.global[k];
    if (!Object.keys(spec.values.global).length) delete spec.values.global;
    if (!Object.keys(spec.values).length) delete spec.values;
  }
  // Same Istio namespace as the running revision: a revision elsewhere would be another mesh.
  if (ns !== 'istio-system') {
    spec.namespace = ns;
    spec.values = { ...(spec.values ?? {}), global: { ...(spec.values?.global ?? {}), istioNamespace: ns } };
  }
  spec.components = { ...(spec.components ?? {}), ingressGateways: [], egressGateways: [] };
  const { profile, ...rest } = spec;
  const doc = {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { name: `control-plane-${newRevision}`, namespace: ns },
    spec: { ...(profile ? { profile } : {}), revision: newRevision, tag: target, ...rest },
  };
  const text = yaml.dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false });
  const header = running?.spec
    ? `# Revision ${running.revision || 'default'}'s profile and settings (from its inventory), as revision ${newRevision} on Istio ${target}.\n`
    : `# Revision ${running?.revision || 'default'} was installed before its settings were recorded: copy its profile and settings into spec.\n`;
  return (
    header +
    text.replace(
      /^(\s*)ingressGateways: \[\]$/m,
      '$1ingressGateways: []   # gateways stay with the revision or tag they point at (see the runbook)',
    )
  );
}

/** `1.30.0` → `1-30-0`: the revision name Istio's docs use for a version. */
export function revisionForVersion(v: string): string {
  return v
    .replace(/\./g, '-')
    .replace(/[^a-z0-9-]/gi, '-')
    .toLowerCase();
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
    return {
      ok: false,
      target: input.target,
      newRevision,
      prechecks: [{ name: 'target version', ok: false, message: `"${input.target}" is not a version (expected e.g. 1.30.0)` }],
      steps: [],
      changes: [],
    };
  }
  const release = releaseOf(input.target);
  checks.push(
    release
      ? {
          name: 'target release',
          ok: true,
          message: `Istio ${input.target} renders the ${release.line} manifests${release.ga ? '' : ' (a release candidate)'}`,
        }
      : {
          name: 'target release',
          ok: false,
          message: `Istio ${versionOfTag(input.target)?.line ?? input.target} is not supported by this version of istio-operator (supported: ${RELEASES.map((r) => r.line).join(', ')})`,
        },
  );
  const from = input.installed;
  if (from.length === 0)
    checks.push({
      name: 'installed revisions',
      ok: false,
      message: 'no installed revision found: use `istio-operator install` for a first install',
    });
  for (const r of from) {
    const v = semver.coerce(r.version);
    if (!v) {
      checks.push({ name: `revision ${r.revision || 'default'}`, ok: false, message: `cannot tell its version from "${r.version}"` });
      continue;
    }
    const skip = (target.major - v.major) * 100 + (target.minor - v.minor);
    if (skip > MAX_MINOR_SKIP) {
      checks.push({
        name: `skip from ${r.version}`,
        ok: false,
        message: `${r.version} → ${target.version} crosses ${skip} minor versions; Istio supports canary upgrades across at most ${MAX_MINOR_SKIP} (upgrade through ${target.major}.${v.minor + MAX_MINOR_SKIP} first)`,
      });
    } else if (skip < 0) {
      checks.push({
        name: `direction from ${r.version}`,
        ok: false,
        message: `${target.version} is older than the running ${r.version}: a minor downgrade is not supported in place; install the older revision beside it and move namespaces back instead`,
      });
    } else {
      checks.push({ name: `skip from ${r.version}`, ok: true, message: `${r.version} → ${target.version}: ${skip} minor version(s)` });
    }
    if (r.revision === newRevision) checks.push({ name: 'revision name', ok: false, message: `revision ${newRevision} already exists` });
  }
  if (release) checks.push(kubernetesCheck(release, input.kubernetesVersion));
  for (const w of input.overlappingWebhooks ?? [])
    checks.push({ name: 'webhook overlap', ok: false, message: `${w} would also inject pods selected for ${newRevision}` });

  const ok = checks.every((c) => c.ok);
  const steps: UpgradeStep[] = [];
  if (ok) {
    const old = [...from].sort((a, b) => semver.compare(semver.coerce(a.version)!, semver.coerce(b.version)!));
    const ns = from[0]?.namespace ?? 'istio-system';
    steps.push({
      title: `Install revision ${newRevision} beside the running one`,
      detail: 'The new control plane starts next to the old one; nothing moves yet.',
      manifest: canaryManifest(
        [...from].filter((r) => r.namespace === ns).sort((a, b) => semver.compare(semver.coerce(b.version)!, semver.coerce(a.version)!))[0],
        newRevision,
        input.target,
      ),
      command: `kubectl apply -f control-plane-${newRevision}.yaml   # or: istio-operator install -f control-plane-${newRevision}.yaml`,
    });
    for (const r of old) {
      for (const tag of r.tags) {
        steps.push({
          title: `Move tag ${tag} to ${newRevision}`,
          detail: `Namespaces labelled istio.io/rev=${tag} inject ${newRevision} from now on.`,
          command: `istio-operator tag set ${tag} --revision ${newRevision} --overwrite`,
        });
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
        steps.push({
          title: 'Gateways',
          detail: `In place: ${r.gateways.join(', ')} follow the revision or tag they point at; restart them after the tag moves. Canary: install a second gateway Deployment on ${newRevision} and shift traffic before removing the old one.`,
        });
      }
      steps.push({
        title: 'Check that nothing uses the old revision',
        detail: 'Namespaces, pods and tags are counted; removal is refused while any remain.',
        command: 'istio-operator upgrade status',
      });
      steps.push({
        title: `Remove revision ${r.revision || 'default'}`,
        detail: "Only that revision's objects go; CRDs and the new revision stay.",
        command: `istio-operator uninstall --revision ${r.revision || 'default'}`,
      });
    }
  }
  const oldest = [...from]
    .map((r) => semver.coerce(r.version))
    .filter((v): v is semver.SemVer => !!v)
    .sort(semver.compare)[0];
  const changes = release && oldest ? changesBetween(oldest.minor, Number(release.line.split('.')[1])) : [];
  return { ok, target: input.target, ...(release ? { release: release.line } : {}), newRevision, prechecks: checks, steps, changes };
}

/** The catalog's release for a target version, or undefined when no supported line has it. */
function releaseOf(target: string): Release | undefined {
  const line = versionOfTag(target)?.line;
  return RELEASES.find((r) => r.line === line);
}

/** The cluster's Kubernetes against the release's range (api/releases.ts): below the floor is a blocker, above the matrix a note. */
export function kubernetesCheck(release: Release, kubernetesVersion: string): Precheck {
  const k8s = semver.coerce(minor(kubernetesVersion) ?? '');
  const min = semver.coerce(release.kubernetes.min)!;
  const max = semver.coerce(release.kubernetes.max)!;
  if (!k8s)
    return { name: 'kubernetes version', ok: false, message: `cannot tell the cluster's Kubernetes version from "${kubernetesVersion}"` };
  if (semver.lt(k8s, min))
    return {
      name: 'kubernetes version',
      ok: false,
      message: `Istio ${release.line} needs Kubernetes ${release.kubernetes.min} or newer; the cluster runs ${kubernetesVersion}`,
    };
  if (semver.gt(k8s, max))
    return {
      name: 'kubernetes version',
      ok: true,
      message: `Kubernetes ${kubernetesVersion} is newer than Istio ${release.line} is tested with (${release.kubernetes.min}-${release.kubernetes.max})`,
    };
  return {
    name: 'kubernetes version',
    ok: true,
    message: `Kubernetes ${kubernetesVersion} is within Istio ${release.line}'s ${release.kubernetes.min}-${release.kubernetes.max}`,
  };
}

/** What the install gains between two minors: each feature that arrived after `fromMinor`, up to `toMinor`. */
export function changesBetween(fromMinor: number, toMinor: number): string[] {
  return Object.values(FEATURES)
    .filter((f) => {
      const m = Number(f.since.split('.')[1]);
      return m > fromMinor && m <= toMinor;
    })
    .map((f) => `${f.since}: ${f.what}`);
}
