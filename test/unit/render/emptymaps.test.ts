import test from 'ava';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import { BUILTIN_PROFILES } from '../../../operator/api/profiles.js';
import { render } from '../../../operator/render/index.js';

// Templates judge `#if` as Go templates do: an empty map is false. An empty map rendered where nothing was set is
// not harmless under server-side apply: once a controller adds a key to the live map (the Deployment controller's
// revision annotation), our empty map claims the whole field, and every later apply becomes a write.

/** Paths of empty maps in metadata and in a pod spec's scheduling fields, where Istio renders none. */
function emptyMaps(o: Record<string, any>): string[] {
  const out: string[] = [];
  const md = o.metadata ?? {};
  for (const k of ['labels', 'annotations']) if (md[k] && !Object.keys(md[k]).length) out.push(`metadata.${k}`);
  const pod = o.spec?.template?.spec;
  for (const k of ['affinity', 'nodeSelector']) if (pod?.[k] && !Object.keys(pod[k]).length) out.push(`spec.template.spec.${k}`);
  return out;
}

// Where Istio's own render has the empty map (its ztunnel golden; ztunnel's ServiceAccount, and on OpenShift its
// ClusterRole and binding, in the platform goldens: values.ztunnel.annotations), we keep it: fidelity first.
const ISTIO_RENDERS = new Set([
  'DaemonSet ztunnel: metadata.annotations',
  'ServiceAccount ztunnel: metadata.annotations',
  'ClusterRole ztunnel: metadata.annotations',
  'ClusterRoleBinding ztunnel: metadata.annotations',
]);

for (const profile of BUILTIN_PROFILES) {
  test(`profile ${profile}: no empty annotations, labels, affinity or nodeSelector maps`, (t) => {
    const { install } = resolveIstioOperator({ sets: [`profile=${profile}`] });
    const found = render(install)
      .objects.flatMap((o) => emptyMaps(o).map((p) => `${o.kind} ${o.metadata.name}: ${p}`))
      .filter((f) => !ISTIO_RENDERS.has(f));
    t.deepEqual(found, []);
  });
}
