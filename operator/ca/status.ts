// The read-only side of the CA, for `ca status` and `ca rotate` without a file: what the CA in a namespace
// looks like and what is due, and the target an operator-managed CA recorded on its root secret.
import type { KubeClient } from '../apply/client.js';
import { InputError, type FieldIssue, type Warning } from '../api/errors.js';
import type { CaMode } from '../api/types.js';
import { bundleFromSecretData, splitPem } from './bundle.js';
import { getSecret } from './kube.js';
import { overlapFor, planCa, type CaAction } from './rotation.js';
import { decode, labelsFor, savedSettings } from './secrets.js';
import { CACERTS_KEYS, CACERTS_SECRET, DEFAULT_CA_SETTINGS, ROOT_SECRET } from './settings.js';
import { cert, info, issuedBy, issuerOf, readRoot, stateOf, trustedRoots } from './state.js';
import { DEFAULT_OVERLAP_MS, ISTIOD_SELF_SIGNED_SECRET, type CaStatus, type CaTarget } from './types.js';
import { inspectBundle } from './validate.js';

export interface CaReport extends CaStatus {
  /** How the mode was found: from the IstioOperator, or guessed from the secrets in the namespace. */
  modeFrom: 'spec' | 'cluster';
  /** Operator mode: the step planCa would take now, if any. */
  due?: { kind: CaAction['kind']; reason: string };
  warnings: Warning[];
  /** Problems that would stop istiod from using its CA secret. */
  issues: FieldIssue[];
}

/**
 * What the CA in a namespace looks like, read only. Without a target mode, the mode is guessed from the
 * secrets present: the operator's root secret → operator; a cacerts secret → provided; else istiod.
 */
export async function readCaStatus(
  client: KubeClient,
  where: { namespace: string; target?: CaTarget; overlapMs?: number },
  now = new Date(),
): Promise<CaReport> {
  const ns = where.namespace;
  const t = where.target;
  const [rootLive, named] = await Promise.all([getSecret(client, ns, ROOT_SECRET), getSecret(client, ns, t?.secretName ?? CACERTS_SECRET)]);
  const mode: CaMode = t?.mode ?? (rootLive ? 'operator' : named ? 'provided' : 'istiod');
  const report: CaReport = { mode, modeFrom: t ? 'spec' : 'cluster', namespace: ns, roots: [], warnings: [], issues: [] };
  let secretName = t?.secretName ?? CACERTS_SECRET;
  let settings = t?.settings ?? DEFAULT_CA_SETTINGS;
  if (mode === 'operator' && rootLive && !t) {
    const saved = savedSettings(rootLive);
    if (saved) ({ secretName, settings } = saved);
  }
  const caLive = secretName === (t?.secretName ?? CACERTS_SECRET) ? named : await getSecret(client, ns, secretName);

  if (mode === 'external') {
    if (t?.address) report.address = t.address;
    if (caLive)
      report.warnings.push({ path: `secret ${ns}/${secretName}`, message: 'exists, but istiod does not use it in external mode' });
    return report;
  }
  if (mode === 'istiod') {
    const self = await getSecret(client, ns, ISTIOD_SELF_SIGNED_SECRET);
    const c = decode(self?.data, CACERTS_KEYS.caCert);
    if (c) {
      try {
        report.roots = [info(c)];
        report.intermediate = info(c);
        report.secretName = ISTIOD_SELF_SIGNED_SECRET;
      } catch {
        report.warnings.push({
          path: `secret ${ns}/${ISTIOD_SELF_SIGNED_SECRET}: ${CACERTS_KEYS.caCert}`,
          message: 'is not a readable certificate',
        });
      }
    } else
      report.warnings.push({
        path: `secret ${ns}/${ISTIOD_SELF_SIGNED_SECRET}`,
        message: 'not found: istiod has not created its self-signed CA yet (is istiod running?)',
      });
    if (caLive)
      report.warnings.push({
        path: `secret ${ns}/${secretName}`,
        message: 'exists: istiod mounts it when present and uses it instead of its self-signed CA',
      });
    return report;
  }

  report.secretName = secretName;
  if (!caLive) {
    report.issues.push({
      path: `secret ${ns}/${secretName}`,
      message: 'not found',
      hint:
        mode === 'operator'
          ? 'run istio-operator install (or let the operator reconcile) to create it'
          : `create it with ${Object.values(CACERTS_KEYS).join(', ')}`,
    });
  } else {
    const ins = inspectBundle(bundleFromSecretData(caLive.data), `${ns}/${secretName}`, now, settings.renewBeforeMs);
    report.issues.push(...ins.issues);
    report.warnings.push(...ins.warnings);
    report.roots = ins.roots;
    if (ins.intermediate) report.intermediate = ins.intermediate;
  }
  if (mode !== 'operator') return report;

  report.rootSecretName = ROOT_SECRET;
  if (!rootLive) {
    report.issues.push({
      path: `secret ${ns}/${ROOT_SECRET}`,
      message: 'not found',
      hint: 'run istio-operator install (or let the operator reconcile) to create the CA',
    });
    return report;
  }
  try {
    const { state, warnings } = readRoot(rootLive, ns);
    report.warnings.push(...warnings);
    if (state.phase !== 'none') report.rotation = { phase: state.phase, ...(state.since ? { since: state.since.toISOString() } : {}) };
    const b = caLive ? bundleFromSecretData(caLive.data) : {};
    if (b.caCert && report.issues.length === 0) {
      if (!issuedBy(b.caCert, issuerOf(state).certPem)) {
        report.due = {
          kind: 'renew-intermediate',
          reason: `the intermediate was not issued by the ${state.phase === 'trust-both' ? 'previous' : 'current'} root`,
        };
      } else {
        const plan = planCa(
          stateOf(state, { certPem: b.caCert, keyPem: '' }),
          settings,
          now,
          overlapFor(settings, where.overlapMs ?? DEFAULT_OVERLAP_MS),
        );
        if (plan.kind === 'none') report.nextCheck = plan.nextCheck.toISOString();
        else report.due = { kind: plan.kind, reason: plan.reason };
      }
      const want = trustedRoots(state)
        .map((p) => cert(p).fingerprint256)
        .sort()
        .join();
      const have = splitPem(b.rootCert ?? '')
        .map((p) => cert(p).fingerprint256)
        .sort()
        .join();
      if (want !== have)
        report.warnings.push({
          path: `secret ${ns}/${secretName}: ${CACERTS_KEYS.rootCert}`,
          message: `does not hold the roots the rotation state calls for (${state.phase === 'none' ? 'the current root' : 'the current and the previous root'}); the next install or reconcile rewrites it`,
        });
    }
  } catch (e) {
    if (e instanceof InputError) report.issues.push(...e.issues);
    else throw e;
  }
  return report;
}

/** The CA target of an operator-managed CA already in the cluster, from what its root secret recorded. */
export async function targetFromCluster(client: KubeClient, namespace: string): Promise<CaTarget | undefined> {
  const root = await getSecret(client, namespace, ROOT_SECRET);
  if (!root) return undefined;
  const saved = savedSettings(root);
  const labels = labelsFor(root, { labels: {} } as Pick<CaTarget, 'labels'>);
  return {
    mode: 'operator',
    namespace,
    secretName: saved?.secretName ?? CACERTS_SECRET,
    settings: saved?.settings ?? DEFAULT_CA_SETTINGS,
    labels,
  };
}
