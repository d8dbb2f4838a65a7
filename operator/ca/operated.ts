// Mode operator: the operator's own CA, created, renewed and rotated as due, with every step decided by
// planCa on what the two secrets hold and written root first.
import type { KubeClient } from '../apply/client.js';
import { InputError, formatIssue, type Warning } from '../api/errors.js';
import { LABEL_OWNER_NAME } from '../api/labels.js';
import { bundleFor, bundleFromSecretData } from './bundle.js';
import { createIntermediate, createRoot, type KeyPairPem } from './generate.js';
import { applySecret, ensureNamespace, getSecret, restartIstiods } from './kube.js';
import { overlapFor, planCa, type CaAction } from './rotation.js';
import { caSecretBody, labelsFor, rootSecretBody, sameContent } from './secrets.js';
import { CACERTS_SECRET, ROOT_SECRET } from './settings.js';
import { cert, checkKey, info, issuedBy, issuerOf, passedBefore, readRoot, rememberPass, stateOf, trustedRoots } from './state.js';
import {
  CaSecretError,
  DEFAULT_OVERLAP_MS,
  type CaOutcome,
  type CaResult,
  type CaStatus,
  type CaTarget,
  type PrepareCaOptions,
  type RootState,
} from './types.js';
import { inspectBundle } from './validate.js';

// Operator mode keeps two secrets in the Istio namespace:
//   istio-operator-ca-root  the root's certificate and key (and, during a root rotation, the previous root's),
//                           plus the rotation phase in annotations. istiod never mounts it.
//   cacerts                 what istiod mounts: an intermediate signed by the root, its key, the chain and
//                           the trusted roots (both, during a root rotation).
// Every decision comes from planCa() on what is read back, so a crash between two writes resumes where it
// stopped. The root secret is always written before cacerts for the same reason: its phase says which root
// must have issued the intermediate, and a stale cacerts is then re-derived from it.

/** How long istiod's workload certificates live; a root rotation's overlap shorter than this gets a warning (see DEFAULT_OVERLAP_MS). */
const WORKLOAD_CERT_LIFETIME_MS = 86_400_000;

// Dated, so the two roots of a rotation can be told apart in status, Events and openssl output.
function rootName(now: Date): string {
  return `Istio Root CA ${now.toISOString().slice(0, 16)}Z`;
}

export async function operated(client: KubeClient, t: CaTarget, now: Date, opts: PrepareCaOptions): Promise<Omit<CaResult, 'writes'>> {
  if (t.secretName === ROOT_SECRET) {
    throw new InputError([
      {
        path: 'spec.components.ca.secretName',
        message: `"${ROOT_SECRET}" is where the operator keeps its root; istiod must never mount it`,
        hint: `${CACERTS_SECRET} (the default)`,
      },
    ]);
  }
  const overlapMs = overlapFor(t.settings, opts.overlapMs ?? DEFAULT_OVERLAP_MS);
  const [rootLive, caLive] = await Promise.all([getSecret(client, t.namespace, ROOT_SECRET), getSecret(client, t.namespace, t.secretName)]);
  const warnings: Warning[] = [];
  if (overlapMs < WORKLOAD_CERT_LIFETIME_MS) {
    warnings.push({
      path: 'spec.components.ca.rootLifetime',
      message: `is short: a root rotation keeps both roots trusted for only ${Math.round(overlapMs / 60_000)}m per phase, less than the 24h workload certificates live, so workloads may not have the new root in time`,
    });
  }
  const steps: string[] = [];
  let outcome: CaOutcome = 'none';
  let root: RootState;
  let rootChanged = false;

  if (!rootLive) {
    if (caLive && !caLive.metadata.labels?.[LABEL_OWNER_NAME]) {
      throw new CaSecretError([
        {
          path: `secret ${t.namespace}/${t.secretName}`,
          message: 'exists and was not created by istio-operator; mode operator would replace the CA every workload trusts',
          hint: 'to keep using it set spec.components.ca.mode: provided; to let the operator make a new CA, delete the secret first',
        },
      ]);
    }
    root = { current: await createRoot(t.settings, now, rootName(now)), phase: 'none' };
    rootChanged = true;
    outcome = 'created';
    steps.push(
      `created a new root CA (${info(root.current.certPem).subject}, expires on ${info(root.current.certPem).notAfter}) in secret ${t.namespace}/${ROOT_SECRET}`,
    );
  } else {
    const key = checkKey('root', client, rootLive);
    const r = readRoot(rootLive, t.namespace, !passedBefore(key, now));
    rememberPass(key, -Infinity, Infinity);
    root = r.state;
    warnings.push(...r.warnings);
  }

  // The intermediate in cacerts, if it is usable and issued by the root the phase says.
  let inter: KeyPairPem | undefined;
  let unusable: string | undefined;
  if (!caLive) unusable = `secret ${t.namespace}/${t.secretName} did not exist`;
  else {
    const b = bundleFromSecretData(caLive.data);
    const key = checkKey('cacerts', client, caLive, cert(issuerOf(root).certPem).fingerprint256);
    if (passedBefore(key, now)) inter = { certPem: b.caCert!, keyPem: b.caKey! };
    else {
      const ins = inspectBundle(b, `${t.namespace}/${t.secretName}`, now, 0);
      if (ins.issues.length) unusable = `secret ${t.namespace}/${t.secretName} was not usable: ${ins.issues.map(formatIssue).join('; ')}`;
      else if (!issuedBy(b.caCert!, issuerOf(root).certPem))
        unusable = `the intermediate in secret ${t.namespace}/${t.secretName} was not issued by the ${root.phase === 'trust-both' ? 'previous' : 'current'} root`;
      else {
        inter = { certPem: b.caCert!, keyPem: b.caKey! };
        // The check holds while every certificate in the bundle is within its validity.
        const all = [ins.intermediate!, ...ins.roots];
        rememberPass(key, Math.max(...all.map((c) => Date.parse(c.notBefore))), Math.min(...all.map((c) => Date.parse(c.notAfter))));
      }
    }
  }

  let plan: CaAction;
  if (opts.rotate === 'root') {
    if (root.phase !== 'none') {
      throw new InputError([
        {
          path: 'ca rotate --root',
          message: `a root rotation is already in progress (phase ${root.phase} since ${root.since?.toISOString()})`,
          hint: 'it moves to its next phase on its own once the overlap has passed',
        },
      ]);
    }
    plan = { kind: 'start-root-rotation', reason: 'requested' };
  } else if (opts.rotate === 'intermediate') {
    plan = { kind: 'renew-intermediate', reason: 'requested' };
  } else if (!inter) {
    plan = { kind: 'renew-intermediate', reason: unusable! };
  } else {
    plan = planCa(stateOf(root, inter), t.settings, now, overlapMs);
  }

  switch (plan.kind) {
    case 'none':
      break;
    case 'renew-intermediate':
      inter = undefined;
      if (outcome === 'none') outcome = 'renewed';
      if (!rootChanged) steps.push(`renewing the intermediate CA (${plan.reason})`);
      break;
    case 'start-root-rotation': {
      const fresh = await createRoot(t.settings, now, rootName(now));
      root = { current: fresh, previous: root.current, phase: 'trust-both', since: now };
      rootChanged = true;
      outcome = 'rotation-started';
      steps.push(
        `started a root rotation (${plan.reason}): new root ${info(fresh.certPem).subject} (expires on ${info(fresh.certPem).notAfter}); both roots are trusted, the intermediate is still issued by the old root`,
      );
      break;
    }
    case 'switch-intermediate':
      root = { ...root, phase: 'switch', since: now };
      rootChanged = true;
      inter = undefined;
      outcome = 'switched';
      steps.push(`root rotation: the intermediate is now issued by the new root (${plan.reason}); both roots stay trusted`);
      break;
    case 'drop-old-root': {
      const old = root.previous ? info(root.previous.certPem) : undefined;
      root = { current: root.current, phase: 'none' };
      rootChanged = true;
      outcome = 'old-root-dropped';
      steps.push(
        `root rotation finished: dropped the old root${old ? ` (serial ${old.serialNumber})` : ''} from the trust bundle (${plan.reason})`,
      );
      break;
    }
  }
  if (!inter) {
    inter = await createIntermediate(issuerOf(root), t.settings, now);
    steps.push(
      `issued intermediate ${info(inter.certPem).subject} (expires on ${info(inter.certPem).notAfter}) into secret ${t.namespace}/${t.secretName}`,
    );
    if (outcome === 'none') outcome = 'renewed';
  }

  const rootBody = rootSecretBody(t, root, labelsFor(rootLive, t));
  const caBody = caSecretBody(t, bundleFor(inter, issuerOf(root).certPem, trustedRoots(root)), labelsFor(caLive, t));
  const written: string[] = [];
  // Root first: its phase decides which root must have issued cacerts, so a crash in between is repaired next time.
  const writeRoot = rootChanged || !sameContent(rootBody, rootLive);
  const writeCa = !sameContent(caBody, caLive);
  if ((writeRoot || writeCa) && !rootLive && !opts.dryRun) await ensureNamespace(client, t.namespace);
  if (writeRoot) {
    if (!opts.dryRun) await applySecret(client, rootBody);
    written.push(`${t.namespace}/${ROOT_SECRET}`);
  }
  if (writeCa) {
    if (!opts.dryRun) await applySecret(client, caBody);
    written.push(`${t.namespace}/${t.secretName}`);
  }
  if (outcome === 'none' && written.length) steps.push(`brought ${written.join(' and ')} back in line with the CA's state`);
  // A CA made just now has no istiod using it yet (or one whose Deployment install is about to change anyway).
  const restarted =
    writeCa && outcome !== 'created' && opts.restartIstiod !== false ? await restartIstiods(client, t, now, !!opts.dryRun) : [];
  if (restarted.length) steps.push(`restarted ${restarted.map((d) => `deployment ${d}`).join(', ')} to load it`);

  const next = planCa(stateOf(root, inter), t.settings, now, overlapMs);
  const status: CaStatus = {
    mode: 'operator',
    namespace: t.namespace,
    secretName: t.secretName,
    rootSecretName: ROOT_SECRET,
    intermediate: info(inter.certPem),
    roots: trustedRoots(root).map(info),
    ...(root.phase !== 'none' ? { rotation: { phase: root.phase, ...(root.since ? { since: root.since.toISOString() } : {}) } } : {}),
    nextCheck: (next.kind === 'none' ? next.nextCheck : now).toISOString(),
  };
  const message = steps.length
    ? steps.join('; ') + (opts.dryRun ? ' (dry run: nothing written)' : '')
    : `CA up to date: intermediate expires on ${status.intermediate!.notAfter}, root on ${status.roots[0]!.notAfter}${root.phase !== 'none' ? `; root rotation in phase ${root.phase} since ${status.rotation?.since}` : ''}`;
  return { mode: 'operator', outcome, message, warnings, status, written, restarted };
}
