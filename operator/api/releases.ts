import semver from 'semver';
import type { FieldIssue, Warning } from './errors.js';

// The release catalog: every Istio release line this project installs, one row each, as data. A row says which
// patch is the newest we know (what an install without a tag gets), whether it is GA, and which Kubernetes and
// compatibilityVersion values the line supports. What the line renders differently from the others is in
// render/features.ts; adding a release is a row here and the differences it brings there.

export interface Release {
  /** The release line, e.g. `1.30`. */
  line: string;
  /** The newest patch of the line we know; installs without a tag get it. */
  patch: string;
  /** Released for production use; a release candidate is installed only when asked for by tag. */
  ga: boolean;
  /**
   * Kubernetes minors the line supports: `min` is istioctl's hard floor (istioctl/pkg/install/k8sversion of that
   * release), `max` the newest Istio's support matrix lists for it.
   */
  kubernetes: { min: string; max: string };
}

export const RELEASES: readonly Release[] = Object.freeze([
  { line: '1.29', patch: '1.29.6', ga: true, kubernetes: { min: '1.30', max: '1.35' } },
  { line: '1.30', patch: '1.30.3', ga: true, kubernetes: { min: '1.32', max: '1.36' } },
  // The newest 1.31 source available is 1.31.0-rc.0: every 1.31.x tag renders as this line.
  { line: '1.31', patch: '1.31.0-rc.0', ga: false, kubernetes: { min: '1.32', max: '1.37' } },
]);

/** What an install gets without a tag: the newest GA line's newest patch. */
export const DEFAULT_RELEASE: Release = [...RELEASES].reverse().find((r) => r.ga)!;

/**
 * Names the release of an image tag that is not a version (a digest, a custom build): the metadata annotation,
 * so that an IstioOperator written for Istio's own tools still validates there. Value: a line (`1.30`) or a patch.
 */
export const RELEASE_ANNOTATION = 'install.operator.istio.io/release';

export const minorOf = (r: Release): number => Number(r.line.split('.')[1]);

/** One line per release for people: `1.30 (1.30.3, default)`, `1.31 (1.31.0-rc.0, release candidate)`. */
export function describeRelease(r: Release): string {
  const notes = [r.patch, ...(r === DEFAULT_RELEASE ? ['default'] : []), ...(!r.ga ? ['release candidate'] : [])];
  return `${r.line} (${notes.join(', ')}; Kubernetes ${r.kubernetes.min}-${r.kubernetes.max})`;
}
export const releaseLines = (): string[] => RELEASES.map((r) => r.line);

/** `1.30.3`, `1.30.3-distroless`, `1.31.0-rc.0`, `1.30`: the Istio version an image tag names, or undefined. */
export function versionOfTag(tag: string): { version: string; line: string } | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?((?:-(?:alpha|beta|rc)(?:\.?\d+)?))?(?:-(?:distroless|debug))?$/.exec(tag.trim());
  if (!m) return undefined;
  const patch = m[3] ?? '0';
  return { version: `${m[1]}.${m[2]}.${patch}${m[4] ?? ''}`, line: `${m[1]}.${m[2]}` };
}

export interface ChosenRelease {
  release: Release;
  /** The image tag to install (the user's, or the release's patch). */
  tag: string;
  /** The Istio version installed: the tag's version, or the release's patch when the tag names none. */
  version: string;
}

const supported = () => `supported releases: ${RELEASES.map((r) => `${r.line} (${r.patch})`).join(', ')}`;

function lineOf(v: string, path: string, issues: FieldIssue[]): Release | undefined {
  const parsed = versionOfTag(v);
  const line = parsed?.line ?? (/^\d+\.\d+$/.test(v) ? v : undefined);
  if (!line) {
    issues.push({
      path,
      message: `"${v}" is not an Istio version`,
      hint: `a release line such as ${DEFAULT_RELEASE.line} or a version such as ${DEFAULT_RELEASE.patch}; ${supported()}`,
    });
    return undefined;
  }
  const r = RELEASES.find((x) => x.line === line);
  if (!r) issues.push({ path, message: `Istio ${line} is not supported by this version of istio-operator`, hint: supported() });
  return r;
}

/**
 * The release an install renders. The release annotation, when present, decides it (the tag is then only the image
 * tag, as istioctl of one release renders any image tag with its own charts); else the image tag, when it is a
 * version; with no tag at all, the newest GA release. Errors name the field; warnings say when a patch is newer than
 * the catalog knows (rendered as its line) or when the annotation and a version tag disagree.
 */
export function chooseRelease(
  input: { tag?: string; tagField: string; annotation?: string },
  issues: FieldIssue[],
  warnings: Warning[],
): ChosenRelease | undefined {
  const annotationPath = `metadata.annotations["${RELEASE_ANNOTATION}"]`;
  const tag = input.tag === undefined || input.tag === '' ? undefined : String(input.tag);
  const fromTag = tag !== undefined ? versionOfTag(tag) : undefined;
  const named = input.annotation ? versionOfTag(input.annotation) : undefined;
  const namedPatch = named && /^\d+\.\d+\.\d+/.test(input.annotation!) ? named.version : undefined;

  if (input.annotation) {
    const release = lineOf(input.annotation, annotationPath, issues);
    if (!release) return undefined;
    if (fromTag && fromTag.line !== release.line) {
      warnings.push({
        path: annotationPath,
        message: `names Istio ${release.line} while ${input.tagField} "${tag}" is Istio ${fromTag.line}: rendering the ${release.line} manifests with image tag "${tag}"`,
      });
    }
    const version = fromTag?.line === release.line ? fromTag.version : (namedPatch ?? release.patch);
    return { release, tag: tag ?? namedPatch ?? release.patch, version };
  }
  if (tag === undefined) return { release: DEFAULT_RELEASE, tag: DEFAULT_RELEASE.patch, version: DEFAULT_RELEASE.patch };
  if (!fromTag) {
    // A digest or a custom build: the tag says nothing about the manifests it needs.
    issues.push({
      path: input.tagField,
      message: `"${tag}" is not an Istio version, so the release to render cannot be told from it`,
      hint: `name the release with the annotation ${RELEASE_ANNOTATION}: "${DEFAULT_RELEASE.line}" (or the CLI's --release); ${supported()}`,
    });
    return undefined;
  }
  const release = lineOf(tag, input.tagField, issues);
  if (!release) return undefined;
  const asked = semver.parse(fromTag.version);
  if (asked && semver.gt(asked, semver.parse(release.patch)!)) {
    warnings.push({
      path: input.tagField,
      message: `Istio ${fromTag.version} is newer than the newest ${release.line} patch this version of istio-operator knows (${release.patch}); rendering the ${release.line} manifests`,
    });
  }
  return { release, tag, version: fromTag.version };
}
