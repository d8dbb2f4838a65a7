import { InputError } from '../api/errors.js';
import { ownerKey, type Owner } from '../api/owner.js';
import { ApiError, resourcePath, type KubeClient } from '../apply/client.js';

// One owner per install: an install whose owner is a live IstioOperator is the operator's. The command line
// must not install over it (the operator would put its own spec back, or prune what the CLI added) nor remove
// it (the operator would reinstall it), unless the user says so explicitly.

/** The flag that lets the command line act on an install an IstioOperator manages. */
export const TAKE_OVER_FLAG = '--take-over';

/**
 * Which of `owners` is a live IstioOperator: one GET each (the owners of one install are few), so a user with
 * rights only on the IstioOperators they name is not refused for want of a cluster-wide list. A 404 (no such
 * IstioOperator, or no CRD) is "not managed"; a read that is refused leaves it unknown (returned apart).
 */
export async function managedBy(client: KubeClient, owners: Owner[]): Promise<{ managed: string[]; unknown: string[] }> {
  const managed: string[] = [];
  const unknown: string[] = [];
  for (const key of [...new Set(owners.filter((o) => o.name && o.namespace).map(ownerKey))]) {
    const [namespace, name] = key.split('/') as [string, string];
    try {
      const iop = await client.request<{ metadata?: { deletionTimestamp?: string } }>(
        'GET',
        resourcePath('install.istio.io', 'v1alpha1', 'istiooperators', namespace, name),
        { allow404: true },
      );
      if (iop && !iop.metadata?.deletionTimestamp) managed.push(key);
    } catch (e) {
      if (e instanceof ApiError && (e.code === 403 || e.code === 401)) unknown.push(key);
      else throw e;
    }
  }
  return { managed, unknown };
}

/**
 * Refuses (InputError naming the IstioOperator) when any of `owners` is a live IstioOperator the operator manages,
 * unless `takeOver`. `what` says what the command would do: "install over", "uninstall". Returns a warning when
 * an owner's IstioOperator could not be read (the check could not be made for it).
 */
export async function refuseOperatorManaged(
  client: KubeClient,
  owners: Owner[],
  what: string,
  takeOver: boolean,
): Promise<string | undefined> {
  if (takeOver || !owners.length) return undefined;
  const { managed, unknown } = await managedBy(client, owners);
  if (managed.length) {
    throw new InputError([
      {
        path: 'metadata',
        message: `the install is managed by the operator through IstioOperator ${managed.join(', ')}: the command line does not ${what} it`,
        hint: `change or delete that IstioOperator instead (kubectl edit|delete istiooperator -n <namespace> <name>), or pass ${TAKE_OVER_FLAG} to ${what} it anyway`,
      },
    ]);
  }
  return unknown.length
    ? `could not read IstioOperator ${unknown.join(', ')} (not allowed): whether the operator manages this install was not checked`
    : undefined;
}
