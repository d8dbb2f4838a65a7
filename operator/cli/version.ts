import fs from 'node:fs';
import { InputError } from '../api/errors.js';
import { DEFAULT_RELEASE, describeRelease, RELEASES } from '../api/releases.js';
import { packageVersion } from '../controller/selfmanifests.js';
import { OUTPUT_FLAG, outputFormat, parseArgs, printStructured, usageFor, type FlagSpec } from './args.js';

// `istio-operator version`: the client's version (package.json, which the image tag and the chart's appVersion
// follow) and what the build recorded (scripts/buildinfo.mjs writes dist/operator/buildinfo.json). Printing only.

export const summary = 'Print the client version and build information';

const FLAGS: FlagSpec[] = [OUTPUT_FLAG];

export interface BuildInfo {
  /** The git commit the build was made from, when the build knew it. */
  commit?: string;
}

export function buildInfo(): BuildInfo {
  try {
    return JSON.parse(fs.readFileSync(new URL('../buildinfo.json', import.meta.url), 'utf8')) as BuildInfo;
  } catch {
    return {};
  }
}

/** The Istio releases this client installs (api/releases.ts), and the one an install without a tag gets. */
export function extraVersionInfo(): Record<string, string | string[]> {
  return { istioReleases: RELEASES.map(describeRelease), defaultIstio: DEFAULT_RELEASE.patch };
}

export function versionInfo(): Record<string, unknown> {
  return {
    version: packageVersion(),
    commit: buildInfo().commit ?? 'unknown',
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    ...extraVersionInfo(),
  };
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, FLAGS, 'version');
  if (a.help) {
    process.stdout.write(usageFor('version [-o text|json|yaml]', summary + '.', FLAGS));
    return 0;
  }
  if (a.positional.length)
    throw new InputError([{ path: a.positional[0]!, message: 'unexpected argument to "version"', hint: 'only -o text|json|yaml' }]);
  const format = outputFormat(a.flags.output);
  const info = versionInfo();
  if (!(await printStructured(format, info))) {
    for (const [k, v] of Object.entries(info)) process.stdout.write(`${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}\n`);
  }
  return 0;
}

/** What `completion` offers after this command (completion.ts). */
export const completion = { flags: FLAGS };
