import { InputError } from '../api/errors.js';
import { readStatus, type InstallStatus } from '../install/survey.js';
import { OUTPUT_FLAG, outputFormat, parseArgs, printStructured, table, usageFor, type FlagSpec } from './args.js';
import { CLUSTER_FLAGS, clientFrom } from './install.js';

// `istio-operator status`: every install in the cluster, ours or not. Parsing and printing only (install/survey.ts reads).

export const summary = 'List every Istio install: owner, revision, release, health, tags and proxies per revision';

const SPECS: FlagSpec[] = [OUTPUT_FLAG, ...CLUSTER_FLAGS];

const proxies = (i: InstallStatus) =>
  i.proxies.pods
    ? `${i.proxies.pods} (${Object.entries(i.proxies.versions)
        .map(([v, n]) => `${n}×${v}`)
        .join(', ')})`
    : '0';

export async function run(argv: string[]): Promise<number> {
  const { flags, positional, help } = parseArgs(argv, SPECS, 'status');
  if (help) {
    process.stdout.write(
      usageFor(
        'status [-o text|json|yaml]',
        `${summary}. Installs by IstioOperator (this operator or its CLI), istioctl, Helm and Sail are all listed; proxies are the injected pods (sidecar.istio.io/status) and their proxy image versions.`,
        SPECS,
      ),
    );
    return 0;
  }
  if (positional.length)
    throw new InputError([{ path: positional[0]!, message: 'unexpected argument to "status"', hint: 'flags only; see --help' }]);
  const format = outputFormat(flags.output);
  const client = clientFrom(flags);
  try {
    const report = await readStatus(client);
    if (await printStructured(format, report)) return 0;
    if (!report.installs.length) process.stdout.write('No Istio install found.\n');
    else {
      process.stdout.write(
        table([
          ['OWNER', 'REVISION', 'RELEASE', 'VERSION', 'HEALTH', 'ISTIO NAMESPACE', 'TAGS', 'PROXIES'],
          ...report.installs.map((i) => [
            i.owner,
            i.revision,
            i.release || '?',
            i.version || '?',
            i.health,
            i.istioNamespace,
            i.tags.join(',') || '-',
            proxies(i),
          ]),
        ]),
      );
      for (const i of report.installs)
        if (i.message && (i.health !== 'HEALTHY' || i.remote)) process.stdout.write(`  ${i.owner}: ${i.message}\n`);
    }
    for (const p of report.orphanProxies) {
      process.stdout.write(
        `! ${p.pods} proxies of revision ${p.revision} (${Object.keys(p.versions).join(', ')}) have no control plane: restart them into another revision\n`,
      );
    }
    return 0;
  } finally {
    client.close();
  }
}

/** What `completion` offers after this command (completion.ts). */
export const completion = { flags: SPECS };
