// The Istio releases whose real istiod the tests run, and where each one's reference material lives.
// build.sh holds the list of releases it can build (with their go.mod replaces); this module decides which of
// them the integration tests run against.
import * as path from 'node:path';
import { repoRoot } from '../cluster/controlplane.js';

/**
 * Releases the istio integration tests run by default: those our render is correct for today. The render is
 * being made per release (1.29.6, 1.30.3, 1.31.0-rc.0); add each release here once it is. Today's render carries
 * 1.31/1.32-era injection templates, which 1.30.3's istiod rejects.
 */
export const DEFAULT_TESTED_RELEASES = ['1.31.0-rc.0'] as const;

/** ISTIO_OPERATOR_TEST_ISTIO_RELEASES="1.30.3 1.31.0-rc.0" runs others (local dev, proving a test can fail). */
export function testedReleases(): string[] {
  const env = process.env.ISTIO_OPERATOR_TEST_ISTIO_RELEASES?.trim();
  return env ? env.split(/[\s,]+/) : [...DEFAULT_TESTED_RELEASES];
}

/** Istio's own goldens and inputs for a release (`istioctl manifest generate` test data, vendored in test/fixtures). */
export function referenceDir(release: string): string {
  return path.join(repoRoot, 'test', 'fixtures', 'istio', 'releases', release);
}
