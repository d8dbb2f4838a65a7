// The real istiod (`pilot-discovery`) of a release, built from Istio's source by build.sh (cached; a no-op once
// built). A build failure is an error naming the release: tests never fall back to anything else.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../cluster/controlplane.js';

const BUILD_SCRIPT = path.join(repoRoot, 'test', 'istio', 'build.sh');

/** Path of pilot-discovery for each release, building the missing ones (progress on our stderr). */
export async function istiodBinaries(releases: string[]): Promise<Map<string, string>> {
  const child = spawn('bash', [BUILD_SCRIPT], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ISTIO_OPERATOR_ISTIO_RELEASES: releases.join(' ') },
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    process.stderr.write(d);
  });
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
  });
  if (code !== 0) {
    throw new Error(
      `building istiod ${releases.join(', ')} failed (bash ${path.relative(repoRoot, BUILD_SCRIPT)} exited ${code}):\n${err.trim().split('\n').slice(-40).join('\n')}`,
    );
  }
  const dirs = out.trim().split('\n');
  const result = new Map<string, string>();
  for (const release of releases) {
    const dir = dirs.find((d) => path.basename(d) === `istio-${release}`);
    const bin = dir && path.join(dir, 'pilot-discovery');
    if (!bin || !fs.existsSync(bin))
      throw new Error(`build.sh did not report a pilot-discovery for ${release} (printed ${JSON.stringify(out.trim())})`);
    result.set(release, bin);
  }
  return result;
}

export async function istiodBinary(release: string): Promise<string> {
  return (await istiodBinaries([release])).get(release)!;
}

/**
 * `gateway-render.test` of a release (built by build.sh beside pilot-discovery): that release's Gateway API
 * deployment controller, run offline on an injector config (see gatewayrender/render_test.go.tmpl).
 */
export async function gatewayRenderBinary(release: string): Promise<string> {
  const bin = path.join(path.dirname(await istiodBinary(release)), 'gateway-render.test');
  if (!fs.existsSync(bin)) throw new Error(`build.sh did not build ${bin}`);
  return bin;
}
