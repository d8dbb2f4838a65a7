import { InputError, type FieldIssue, type Warning } from './errors.js';
import { API_VERSION, KIND, type IstioOperator, type IstioOperatorSpec, type ObjectMeta, type Values } from './types.js';
import { parseIstioOperator } from './parse.js';
import { parseSet, applySet, type SetFlag } from './setpath.js';
import { mergeSpec, stripNulls, isMap } from './merge.js';
import { loadProfile } from './profiles.js';
import { translateLegacy } from './legacy.js';
import { validateSpec, validateMetadata } from './validate.js';
import { didYouMean } from './schema.js';
import { checkMeshConfig } from './meshconfig.js';
import { resolvedInstall, type ResolvedInstall } from './install.js';
import { RELEASE_ANNOTATION } from './releases.js';

// The one entry point from user input to a merged, validated IstioOperator:
//   default < profile < -f files (in order) < --set (in order) < --revision,
// then legacy translation and validation. Issues from every step are collected and thrown together.

export interface ResolveInput {
  files?: Array<{ name: string; text: string }>;
  sets?: string[];
  revision?: string;
  /** The Istio release to render (the CLI's --release): sets the release annotation, as a file would. */
  release?: string;
  force?: boolean;
  /** `spec.profile` may be a file path (CLI: yes; the in-cluster operator should pass false). Default true. */
  allowProfilePaths?: boolean;
}
export interface Resolved {
  install: ResolvedInstall;
  warnings: Warning[];
}

export function resolveIstioOperator(input: ResolveInput): Resolved {
  const issues: FieldIssue[] = [];
  const collect = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      if (e instanceof InputError) issues.push(...e.issues);
      else throw e;
    }
  };

  const iops: IstioOperator[] = [];
  for (const f of input.files ?? []) collect(() => iops.push(parseIstioOperator(f.text, f.name)));
  const sets: SetFlag[] = [];
  for (const s of input.sets ?? []) collect(() => sets.push(parseSet(s)));
  if (issues.length) throw new InputError(issues);

  return resolveParsed(iops, sets, input);
}

/** Same as resolveIstioOperator for already-parsed objects (the controller hands in the CR it read). */
export function resolveParsed(
  iops: IstioOperator[],
  sets: SetFlag[],
  opts: { revision?: string; release?: string; force?: boolean; allowProfilePaths?: boolean } = {},
): Resolved {
  const issues: FieldIssue[] = [];
  const warnings: Warning[] = [];

  let user: IstioOperatorSpec = {};
  let metadata: ObjectMeta = {};
  for (const iop of iops) {
    user = mergeSpec(user, iop.spec ?? {}, '', true);
    // Metadata comes from the user's documents only: a profile never names the owner of what is rendered.
    if (iop.metadata) metadata = mergeSpec(metadata, iop.metadata, 'metadata');
  }
  if (opts.release !== undefined && opts.release !== '')
    metadata = { ...metadata, annotations: { ...(metadata.annotations ?? {}), [RELEASE_ANNOTATION]: opts.release } };

  // YAML reads `profile: 1` as a number; taking the default profile instead would install something else silently.
  if (user.profile !== undefined && user.profile !== null && typeof user.profile !== 'string') {
    issues.push({
      path: 'spec.profile',
      message: `must be a profile name, got ${typeof user.profile} ${JSON.stringify(user.profile)}`,
      hint: 'a built-in profile (ambient, default, demo, empty, minimal, preview, remote, stable) or a file path, as a string',
    });
  }
  // The profile is chosen before sets are applied to the merged tree, so `--set profile=X` must be seen first.
  let profile = typeof user.profile === 'string' && user.profile !== '' ? user.profile : 'default';
  let profileField = 'spec.profile';
  for (const s of sets) {
    if (s.path === 'profile') {
      profile = String(s.value);
      profileField = '--set profile';
    }
  }
  let base: IstioOperatorSpec = {};
  try {
    base = loadProfile(profile, profileField, opts.allowProfilePaths !== false);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    issues.push(...e.issues);
    profile = typeof user.profile === 'string' ? user.profile : profile;
  }

  let spec: Values = mergeSpec(base, user);
  // The user's own settings, without the profile's, for the inventory (errors are reported on the merged spec).
  const userSpec: Values = mergeSpec({}, user);
  for (const s of sets) {
    try {
      applySet(spec, s);
      applySet(userSpec, s);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      issues.push(...e.issues);
    }
  }
  // spec.profile first, as people write it, and as the name (or path) that was resolved.
  const { profile: _p, ...rest } = stripNulls(spec);
  spec = { profile, ...rest };
  if (opts.revision !== undefined && opts.revision !== '') spec.revision = opts.revision;
  const { profile: _up, ...userRest } = stripNulls(userSpec);
  // Legacy fields written as the current API, as the merged spec has them.
  const ownSpec = translateLegacy({ profile, ...userRest, ...(spec.revision ? { revision: spec.revision } : {}) }).spec;

  const t = translateLegacy(spec);
  warnings.push(...t.warnings);
  spec = t.spec;

  warnings.push(...numericTagWarnings(spec));
  const v = validateSpec(spec);
  issues.push(...validateMetadata(metadata), ...v.issues);
  warnings.push(...v.warnings);
  if (opts.force) {
    for (const i of v.valueIssues)
      warnings.push({ path: i.path, message: `${i.message}${i.hint ? ` (${i.hint})` : ''} [ignored because of --force]` });
  } else issues.push(...v.valueIssues);
  const iop: IstioOperator = { apiVersion: API_VERSION, kind: KIND, spec };
  if (isMap(metadata) && Object.keys(metadata).length) iop.metadata = metadata;
  let install: ResolvedInstall | undefined;
  try {
    install = resolvedInstall(iop, warnings, ownSpec);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    issues.push(...e.issues);
  }
  // meshConfig is checked against the MeshConfig of the release this install renders, known only now.
  if (install) {
    const line = install.release.line;
    issues.push(...checkMeshConfig(spec.meshConfig, 'spec.meshConfig', line, didYouMean));
    const valueMesh = checkMeshConfig(isMap(spec.values) ? spec.values.meshConfig : undefined, 'spec.values.meshConfig', line, didYouMean);
    if (opts.force)
      for (const i of valueMesh)
        warnings.push({ path: i.path, message: `${i.message}${i.hint ? ` (${i.hint})` : ''} [ignored because of --force]` });
    else issues.push(...valueMesh);
  }
  if (issues.length || !install) throw new InputError(dedupe(issues));
  return { install, warnings };
}

function dedupe(issues: FieldIssue[]): FieldIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}\u0000${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// YAML reads `tag: 1.30` as the number 1.3; the image would then be pulled as :1.3. Say so rather than guess.
function numericTagWarnings(spec: Values): Warning[] {
  const out: Warning[] = [];
  const check = (tag: unknown, path: string) => {
    if (typeof tag === 'number' && !Number.isInteger(tag)) {
      out.push({
        path,
        message: `is the number ${tag}, used as image tag "${tag}"; quote it if you meant a version such as "${tag.toFixed(2)}"`,
      });
    }
  };
  check(spec.tag, 'spec.tag');
  const c = isMap(spec.components) ? spec.components : {};
  for (const k of ['base', 'pilot', 'cni', 'ztunnel']) if (isMap(c[k])) check(c[k].tag, `spec.components.${k}.tag`);
  for (const k of ['ingressGateways', 'egressGateways']) {
    if (Array.isArray(c[k])) c[k].forEach((g: unknown, i: number) => isMap(g) && check(g.tag, `spec.components.${k}[${i}].tag`));
  }
  if (isMap(spec.values) && isMap(spec.values.global)) check(spec.values.global.tag, 'spec.values.global.tag');
  return out;
}
