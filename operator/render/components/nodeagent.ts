import type { Values } from '../../api/types.js';
import { hasEntries } from './util.js';

// What the two node agents (cni and ztunnel) share: each is a DaemonSet with its own image settings beside
// the global ones, a shutdown grace period, and an optional ResourceQuota that admits node-critical pods.

/** `<hub>/<image>:<tag>[-<variant>]` from the component's values, falling back to global; a name with `/` is a full reference. */
export function imageOf(v: Values, global: Values, version: string, defaultImage: string): string {
  const name = String(v.image || defaultImage);
  if (name.includes('/')) return name;
  const variant = v.variant || global.variant;
  return `${v.hub || global.hub}/${name}:${v.tag || global.tag || version}${variant ? `-${variant}` : ''}`;
}

/**
 * The agent's `--log_output_level`: its own setting, else the global one. Istio's control-plane default
 * `default:info` names only the default scope, which for these agents is the plain level.
 */
export function logLevel(v: Values, global: Values): string {
  const own = v.logging?.level;
  if (own) return String(own);
  const g = String(global.logging?.level || 'info');
  const m = /^default:([a-z]+)$/.exec(g);
  return m ? m[1]! : g;
}

/**
 * Some platforms (GKE) admit system-node-critical pods only in namespaces with a quota for that priority class:
 * the quota's name and its pod count, when asked for.
 */
export function resourceQuota(v: Values, name: string): { name: string; pods: string } | undefined {
  const q = v.resourceQuotas;
  if (!hasEntries(q) || q.enabled !== true) return undefined;
  return { name, pods: String(q.pods ?? 5000) };
}

/** How long a node agent gets to shut down (values.<agent>.terminationGracePeriodSeconds, 30 s by default). */
export function gracePeriod(v: Values): number {
  return typeof v.terminationGracePeriodSeconds === 'number' ? v.terminationGracePeriodSeconds : 30;
}
