import path from 'node:path';
import { packageRoot } from '../../operator/paths.js';

// Where the vendored reference material lives (test/fixtures; see its NOTICE): one place, so that no test reads
// ../shared and a clone alone runs the suite.

export const fixturesDir = path.join(packageRoot, 'test', 'fixtures');
export const argocdFixturesDir = path.join(fixturesDir, 'argocd');
/** The newest release's fixtures: what single-release tests compare against. */
export const NEWEST_FIXTURE_RELEASE = '1.31.0-rc.0';

/** `test/fixtures/istio/releases/<tag>`: SOURCE, crds/, golden/{inputs,outputs}, golden/platform/{inputs,outputs},
 *  golden/multicluster/{inputs,outputs}, golden/live/{inputs,outputs}, profiles/, helm-profiles/, values/. */
export function releaseFixturesDir(tag = NEWEST_FIXTURE_RELEASE): string {
  return path.join(fixturesDir, 'istio', 'releases', tag);
}
/** Sets of golden cases beside Istio's own, each what the real istioctl of the release renders (cases in istio/CASES.md):
 *  `multicluster` for the IstioOperators of multi-cluster meshes (scripts/multicluster-goldens.sh); `platform` for
 *  values.global.platform and the openshift profiles (scripts/platform-goldens.sh; what each platform changes in
 *  istio/releases/PLATFORMS.md); `live` for every input of Istio's own corpus, with the flags Istio's test gives them
 *  (scripts/live-goldens.sh): the release's truth where Istio's vendored goldens lag its charts. */
export type GoldenSet = 'multicluster' | 'platform' | 'live';
const goldenDir = (tag: string, set?: GoldenSet) =>
  set ? path.join(releaseFixturesDir(tag), 'golden', set) : path.join(releaseFixturesDir(tag), 'golden');
export const goldenInputsDir = (tag = NEWEST_FIXTURE_RELEASE, set?: GoldenSet) => path.join(goldenDir(tag, set), 'inputs');
export const goldenOutputsDir = (tag = NEWEST_FIXTURE_RELEASE, set?: GoldenSet) => path.join(goldenDir(tag, set), 'outputs');
