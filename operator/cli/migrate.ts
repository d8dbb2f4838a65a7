import { parseIstioOperator } from '../api/parse.js';
import { translateLegacy } from '../api/legacy.js';
import { validateSpec } from '../api/validate.js';
import { loadProfile } from '../api/profiles.js';
import { InputError, formatWarning, type FieldIssue } from '../api/errors.js';
import type { IstioOperator } from '../api/types.js';
import { FLAGS, parseArgs, readInputFiles, usageFor, type FlagSpec } from './args.js';
import { dumpYaml } from './profile.js';

export const summary = 'Print a modernised IstioOperator for a legacy one';

const specs: FlagSpec[] = [{ ...FLAGS.filename, help: 'The IstioOperator file to modernise ("-" reads stdin)' }, FLAGS.force];
const USAGE = usageFor(
  'migrate -f OLD.yaml',
  'Translate fields from older Istio releases (citadel, galley, policy, telemetry, sidecarInjector, nodeAgent,\n' +
    "values.global.mtls, outboundTrafficPolicy, autoscaling/v2beta1 metrics, ...) into today's IstioOperator.\n" +
    'The result is printed to stdout; what was translated or dropped is listed on stderr. Comments are not kept.',
  specs,
);

export async function run(argv: string[]): Promise<number> {
  const { flags, positional, help } = parseArgs(argv, specs, 'migrate');
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const names: string[] = [...flags.filename, ...positional];
  if (names.length !== 1) {
    throw new InputError([
      {
        path: '-f',
        message: names.length ? `migrate takes one file, got ${names.length}` : 'missing the file to migrate',
        hint: 'istio-operator migrate -f old.yaml',
      },
    ]);
  }
  const [file] = readInputFiles(names);
  const { iop, warnings } = migrateIstioOperator(parseIstioOperator(file.text, file.name), flags.force);
  for (const w of warnings) process.stderr.write(`warning: ${formatWarning(w)}\n`);
  process.stdout.write(dumpYaml(iop));
  return 0;
}

/** The user's own document, modernised and validated, without merging any profile into it. */
export function migrateIstioOperator(iop: IstioOperator, force = false) {
  const t = translateLegacy(iop.spec ?? {});
  const v = validateSpec(t.spec);
  const issues: FieldIssue[] = [...v.issues];
  const warnings = [...t.warnings, ...v.warnings];
  if (force) warnings.push(...v.valueIssues.map((i) => ({ path: i.path, message: `${i.message} [ignored because of --force]` })));
  else issues.push(...v.valueIssues);
  if (t.spec.profile) {
    try {
      loadProfile(t.spec.profile);
    } catch (e) {
      if (e instanceof InputError) issues.push(...e.issues);
      else throw e;
    }
  }
  if (issues.length) throw new InputError(issues);
  const out: IstioOperator = { apiVersion: iop.apiVersion, kind: iop.kind };
  if (iop.metadata) out.metadata = iop.metadata;
  out.spec = t.spec;
  return { iop: out, warnings };
}

/** What `completion` offers after this command (completion.ts). */
export const completion = { flags: specs };
