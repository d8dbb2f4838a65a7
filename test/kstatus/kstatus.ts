import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../cluster/controlplane.js';

// The real kstatus library (sigs.k8s.io/cli-utils/pkg/kstatus/status, what Flux's health checks and
// `kubectl wait`-style tools of cli-utils run), built from test/kstatus by its build.sh: our status is proven by
// what that library concludes, not by our reading of it.

export interface KstatusResult {
  name: string;
  /** Current | InProgress | Failed | Terminating | NotFound | Unknown */
  status: string;
  message: string;
}

let binary: string | undefined;

/** Builds (once; cached in ~/.cache by source hash) and returns the reader's path. A build failure fails the test. */
export function kstatusBinary(): string {
  binary ??= execFileSync('bash', [path.join(repoRoot, 'test', 'kstatus', 'build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .at(-1)!;
  return binary;
}

/** kstatus of each object, computed by the Go library. */
export function kstatus(objects: unknown[]): KstatusResult[] {
  const out = execFileSync(kstatusBinary(), [], { input: JSON.stringify(objects), encoding: 'utf8' });
  return JSON.parse(out) as KstatusResult[];
}
