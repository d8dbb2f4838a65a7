import { InputError } from '../api/errors.js';
import { ownerKey, type Owner } from '../api/owner.js';
import { resourcePath, type KubeClient } from '../apply/client.js';

// One owner per install: an install whose owner is a live IstioOperator is the operator's. The command line
// must not install over it (the operator would put its own spec back, or prune what the CLI added) nor remove
// it (the operator would reinstall it), unless the user says so explicitly.

/** The flag that lets the command line act on an install an IstioOperator manages. */
export const TAKE_OVER_FLAG = '--take-over';

/** `namespace/name` of the live IstioOperators (none when the CRD is not installed). */
export async function liveIstioOperators(client: KubeClient): Promise<Set<string>> {
  const list = await client.request<{ items?: Array<{ metadata?: { name?: string; namespace?: string; deletionTimestamp?: string } }> }>(
    'GET',
    resourcePath('install.istio.io', 'v1alpha1', 'istiooperators'),
    { allow404: true },
  );
  return new Set((list?.items ?? []).filter((i) => !i.metadata?.deletionTimestamp).map((i) => ownerKey({ name: i.metadata?.name ?? '', namespace: i.metadata?.namespace ?? '' })));
}

/**
 * Refuses (InputError naming the IstioOperator) when any of `owners` is a live IstioOperator the operator manages,
 * unless `takeOver`. `what` says what the command would do: "install over", "uninstall".
 */
export async function refuseOperatorManaged(client: KubeClient, owners: Owner[], what: string, takeOver: boolean): Promise<void> {
  if (takeOver || !owners.length) return;
  const live = await liveIstioOperators(client);
  const managed = [...new Set(owners.map(ownerKey).filter((k) => live.has(k)))];
  if (!managed.length) return;
  throw new InputError([
    {
      path: 'metadata',
      message: `the install is managed by the operator through IstioOperator ${managed.join(', ')}: the command line does not ${what} it`,
      hint: `change or delete that IstioOperator instead (kubectl edit|delete istiooperator -n <namespace> <name>), or pass ${TAKE_OVER_FLAG} to ${what} it anyway`,
    },
  ]);
}
