import type { KubeClient } from '../apply/client.js';

import { planUninstall, uninstall, type UninstallOptions, type UninstallPlan, type UninstallResult } from '../apply/uninstall.js';
import { explainUsage, readSnapshot, usageFrom, type ClusterSnapshot, type UsageReason } from './cluster.js';
import { type Owner } from '../api/owner.js';

// Guarded removal: a revision that namespaces, pods or revision tags still use is refused unless forced,
// because removing it breaks injection for those workloads. The apply layer only deletes; this decides.

export type RevisionUser = UsageReason;

export interface RemovalOptions extends UninstallOptions {
  /** Remove even while the revision is in use (the CLI's --force, said loudly). */
  force?: boolean;
}

export interface RemovalPlan extends UninstallPlan {
  users: RevisionUser[];
}

export class RevisionInUseError extends Error {
  constructor(
    readonly revisions: string[],
    readonly users: RevisionUser[],
  ) {
    super(
      `revision ${revisions.join(', ')} is still in use (rerun with --force to remove it anyway):\n` +
        users.map((u) => `  ${u.kind} ${u.name}: ${u.why}`).join('\n'),
    );
    this.name = 'RevisionInUseError';
  }
}

/**
 * Namespaces, pods and tags that still use each revision. Tags the removed owners installed go with them and
 * do not count by themselves. If the cluster cannot be read, the revision counts as in use and the reason is
 * the one user listed.
 */
export async function revisionUsers(client: KubeClient, revs: string[], owners: Owner[]): Promise<RevisionUser[]> {
  if (!revs.length) return [];
  let snap: ClusterSnapshot;
  try {
    snap = await readSnapshot(client);
  } catch (e) {
    return revs.map((rev) => ({
      kind: 'Unknown',
      name: rev,
      why: `cannot tell whether revision ${rev} is in use (${(e as Error).message}); treating it as in use`,
    }));
  }
  const exceptOwners = owners.map((o) => ({ name: o.name, namespace: o.namespace }));
  return revs.flatMap((rev) => explainUsage(snap, usageFrom(snap, rev, { exceptOwners })));
}

/** What would be removed, and who still uses it. */
export async function planRemoval(client: KubeClient, opts: RemovalOptions): Promise<RemovalPlan> {
  const plan = await planUninstall(client, opts);
  const users = await revisionUsers(
    client,
    revisionsOf(plan),
    plan.inventories.map((i) => i.owner),
  );
  return { ...plan, users };
}

/** Removes the planned revision(s); refuses with RevisionInUseError while they are in use, unless forced. */
export async function removeRevision(client: KubeClient, opts: RemovalOptions, plan?: RemovalPlan): Promise<UninstallResult> {
  plan ??= await planRemoval(client, opts);
  if (plan.users.length && !opts.force) throw new RevisionInUseError(revisionsOf(plan), plan.users);
  return uninstall(client, opts, plan);
}

export function describeUsers(users: RevisionUser[]): string[] {
  return users.map((u) => `${u.kind} ${u.name}: ${u.why}`);
}

function revisionsOf(plan: UninstallPlan): string[] {
  return [...new Set(plan.inventories.map((i) => i.owner.rev))];
}
