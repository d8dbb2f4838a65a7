import { writesOf, type KubeClient } from '../apply/client.js';
import { InputError } from '../api/errors.js';
import type { ResolvedInstall } from '../api/install.js';
import { operated } from './operated.js';
import { provided } from './provided.js';
import { caTargetFrom, type CaResult, type CaStatus, type CaTarget, type PrepareCaOptions } from './types.js';

// The CA's cluster side: what `install` and the operator call before applying the rendered objects, so
// that istiod finds its `cacerts` secret ready (operator mode) or valid (provided mode) when it starts.
// The modes live in provided.ts and operated.ts (which explains the operator's two secrets and why a crash
// between two writes is safe); types.ts holds the vocabulary, state.ts and secrets.ts the pure reads and
// secret bodies, kube.ts the apiserver calls, and status.ts the read-only view for `ca status`.
//
// Nothing returned here (messages, errors, status) carries key material: keys are read, used and written
// back into secrets, never formatted.

/**
 * Gets the CA ready before the rendered objects are applied. `istiod`/`external`: no request at all.
 * `provided`: validates the user's secret; a bad one throws CaSecretError and nothing is written.
 * `operator`: creates, renews or rotates the generated CA as due. A second call with nothing due reads
 * two secrets and writes nothing.
 */
export async function prepareCa(
  client: KubeClient,
  install: ResolvedInstall,
  now = new Date(),
  opts: PrepareCaOptions = {},
): Promise<CaResult> {
  return reconcileCa(client, caTargetFrom(install), now, opts);
}

export async function reconcileCa(client: KubeClient, target: CaTarget, now = new Date(), opts: PrepareCaOptions = {}): Promise<CaResult> {
  const before = writesOf(client.counts);
  let r: Omit<CaResult, 'writes'>;
  if (opts.rotate && target.mode !== 'operator') {
    throw new InputError([
      {
        path: 'spec.components.ca.mode',
        message: `is "${target.mode}": only a CA the operator generated can be rotated by it`,
        hint:
          target.mode === 'provided'
            ? `replace the certificates in secret ${target.namespace}/${target.secretName} (istiod reloads them), or use mode: operator`
            : 'mode: operator',
      },
    ]);
  }
  if (target.mode === 'istiod' || target.mode === 'external') {
    const status: CaStatus = {
      mode: target.mode,
      namespace: target.namespace,
      roots: [],
      ...(target.address ? { address: target.address } : {}),
    };
    const message =
      target.mode === 'istiod'
        ? "istiod's self-signed CA: nothing to prepare"
        : `certificates come from the external signer${target.address ? ` at ${target.address}` : ''}: nothing to prepare`;
    r = { mode: target.mode, outcome: 'none', message, warnings: [], status, written: [], restarted: [] };
  } else if (target.mode === 'provided') {
    r = await provided(client, target, now);
  } else {
    r = await operated(client, target, now, opts);
  }
  return { ...r, writes: writesOf(client.counts) - before };
}
