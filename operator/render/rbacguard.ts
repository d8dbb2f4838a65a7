import type { FieldIssue } from '../api/errors.js';
import type { K8sObject } from '../api/types.js';

// Overlays are the escape hatch for anything the k8s settings cannot say, and the operator applies what they
// produce with its own rights, which include `escalate` and `bind` (it must, to install istiod's roles). So an
// overlay may narrow RBAC but never widen it: after the patches, every rule a Role or ClusterRole grants must
// already have been granted by the render, a binding may only lose subjects and never change its role, and no
// object may be renamed or moved (which could retarget another install's object). Without this, anyone allowed to
// write an IstioOperator could grant themselves cluster-admin through the operator.

const RBAC_ROLES = new Set(['ClusterRole', 'Role']);
const RBAC_BINDINGS = new Set(['ClusterRoleBinding', 'RoleBinding']);

type Rule = { apiGroups?: string[]; resources?: string[]; verbs?: string[]; resourceNames?: string[]; nonResourceURLs?: string[] };
export interface GuardSnapshot {
  object: K8sObject;
  name: string;
  namespace?: string;
  rules?: Rule[];
  subjects?: unknown[];
  roleRef?: unknown;
  aggregationRule?: unknown;
}

/** What an overlay must not widen, taken before the patches. */
export function snapshotGuarded(objects: K8sObject[]): GuardSnapshot[] {
  return objects.map((o) => ({
    object: o,
    name: o.metadata.name,
    ...(o.metadata.namespace !== undefined ? { namespace: o.metadata.namespace } : {}),
    ...(RBAC_ROLES.has(o.kind)
      ? { rules: structuredClone((o.rules as Rule[] | undefined) ?? []), aggregationRule: structuredClone(o.aggregationRule) }
      : {}),
    ...(RBAC_BINDINGS.has(o.kind)
      ? { subjects: structuredClone((o.subjects as unknown[] | undefined) ?? []), roleRef: structuredClone(o.roleRef) }
      : {}),
  }));
}

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const covers = (granted: string[], wanted: string) => granted.includes('*') || granted.includes(wanted);

/** Whether `before` grants every permission `rule` grants (wildcards in `rule` need a wildcard before). */
function granted(before: Rule[], rule: Rule): boolean {
  const urls = list(rule.nonResourceURLs);
  if (urls.length)
    return urls.every((u) =>
      list(rule.verbs).every((v) => before.some((b) => covers(list(b.nonResourceURLs), u) && covers(list(b.verbs), v))),
    );
  const names = list(rule.resourceNames);
  return list(rule.apiGroups).every((g) =>
    list(rule.resources).every((r) =>
      list(rule.verbs).every((v) =>
        before.some((b) => {
          if (!covers(list(b.apiGroups), g) || !covers(list(b.resources), r) || !covers(list(b.verbs), v)) return false;
          const bn = list(b.resourceNames);
          // A rule limited to names grants less than one that is not: only names it lists are covered.
          return !bn.length || (names.length > 0 && names.every((n) => bn.includes(n)));
        }),
      ),
    ),
  );
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Issues for every widening the overlays of `field` made (checked against the snapshot taken before them). */
export function guardIssues(snapshot: GuardSnapshot[], field: string): FieldIssue[] {
  const out: FieldIssue[] = [];
  const at = `${field}.overlays`;
  for (const s of snapshot) {
    const o = s.object;
    const what = `${o.kind} "${s.name}"`;
    if (o.metadata.name !== s.name || o.metadata.namespace !== s.namespace) {
      out.push({
        path: at,
        message: `renames or moves ${what} (to "${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}")`,
        hint: "overlays may change an object, not which object it is: another install's object could be targeted this way",
      });
      continue;
    }
    if (s.rules) {
      const after = (o.rules as Rule[] | undefined) ?? [];
      after.forEach((r, i) => {
        if (!granted(s.rules!, r))
          out.push({
            path: at,
            message: `${what} rules[${i}] grants more than the render does (${JSON.stringify(r)})`,
            hint: 'overlays may remove RBAC rules or narrow them, never add permissions',
          });
      });
      if (!same(o.aggregationRule, s.aggregationRule))
        out.push({
          path: at,
          message: `${what} changes aggregationRule`,
          hint: 'overlays may not aggregate other roles into one the operator installs',
        });
    }
    if (s.subjects) {
      const before = s.subjects.map((x) => JSON.stringify(x));
      ((o.subjects as unknown[] | undefined) ?? []).forEach((x, i) => {
        if (!before.includes(JSON.stringify(x)))
          out.push({
            path: at,
            message: `${what} subjects[${i}] binds a subject the render does not (${JSON.stringify(x)})`,
            hint: 'overlays may remove subjects of a binding, never add or change one',
          });
      });
      if (!same(o.roleRef, s.roleRef))
        out.push({ path: at, message: `${what} changes roleRef`, hint: 'overlays may not bind another role' });
    }
  }
  return out;
}
