// The Istio releases whose real istiod the tests run, and where each one's reference material lives.
// build.sh holds the list of releases it can build (with their go.mod replaces); this module decides which of
// them the integration tests run against.
import * as path from 'node:path';
import { repoRoot } from '../cluster/controlplane.js';

/**
 * Releases the istio integration tests run by default: every release of the catalog, each against its own istiod.
 * The render is made per release (render/features.ts), and each release's istiod accepts our config and injects
 * the pods, and deploys the gateways, that it does from Istio's own config for that release.
 */
export const DEFAULT_TESTED_RELEASES = ['1.29.6', '1.30.3', '1.31.0-rc.0'] as const;

/** ISTIO_OPERATOR_TEST_ISTIO_RELEASES="1.30.3 1.31.0-rc.0" runs others (local dev, proving a test can fail). */
export function testedReleases(): string[] {
  const env = process.env.ISTIO_OPERATOR_TEST_ISTIO_RELEASES?.trim();
  return env ? env.split(/[\s,]+/) : [...DEFAULT_TESTED_RELEASES];
}

/** Istio's own goldens and inputs for a release (`istioctl manifest generate` test data, vendored in test/fixtures). */
export function referenceDir(release: string): string {
  return path.join(repoRoot, 'test', 'fixtures', 'istio', 'releases', release);
}
