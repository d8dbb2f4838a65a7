import { InputError, type Warning } from '../api/errors.js';
import type { ResolvedInstall } from '../api/install.js';
import type { ComponentKey, RenderContext } from './context.js';
import type { K8sObject, KubernetesResourceSpec } from '../api/types.js';
import { renderBase } from './components/base.js';
import { renderCni } from './components/cni.js';
import { renderGateway } from './components/gateway.js';
import { renderPilot } from './components/pilot.js';
import { renderZtunnel } from './components/ztunnel.js';
import { CNI_DAEMONSET, istiodName, ztunnelName } from '../api/names.js';
import { applyK8sSettings } from './k8s.js';
import { applyOwnershipLabels } from './labels.js';
import { sortObjects } from './order.js';
import { applyOverlays } from './overlays.js';
import { buildContexts, type ComponentRender } from './values.js';

// render(install): the whole pipeline, pure. Same resolved install in, same objects out: no cluster, no clock,
// no randomness. Errors in the input are InputErrors with field paths; warnings are returned, not printed.

export type { K8sObject } from '../api/types.js';
export { toYamlStream } from './serialize.js';

export interface RenderResult {
  objects: K8sObject[];
  warnings: Warning[];
}

const RENDERERS: Record<ComponentKey, (ctx: RenderContext) => K8sObject[]> = {
  base: renderBase,
  pilot: renderPilot,
  ingressGateways: renderGateway,
  egressGateways: renderGateway,
  cni: renderCni,
  ztunnel: renderZtunnel,
};

/** Name of the objects a component's k8s settings address, its workload kind and its main container. */
function k8sTarget(r: ComponentRender): { name: string; container: string; workload: 'Deployment' | 'DaemonSet' } {
  if (r.ctx.gateway) return { name: r.ctx.gateway.name, container: 'istio-proxy', workload: 'Deployment' };
  if (r.component === 'cni') return { name: CNI_DAEMONSET, container: 'install-cni', workload: 'DaemonSet' };
  if (r.component === 'ztunnel')
    return { name: ztunnelName(r.ctx.values.ztunnel?.resourceName), container: 'istio-proxy', workload: 'DaemonSet' };
  return { name: istiodName(r.ctx.revision), container: 'discovery', workload: 'Deployment' };
}

/**
 * A gateway's k8s.service.ports are its `ports` value (render/values.ts), which the templates already made the
 * Service's ports from; istioctl drops them from the Service patch too (a strategic merge would add the type's
 * default ports back to the user's list).
 */
function withoutServicePorts(k8s: KubernetesResourceSpec | undefined): KubernetesResourceSpec | undefined {
  if (!k8s?.service || !('ports' in k8s.service)) return k8s;
  const { ports: _ports, ...service } = k8s.service;
  return { ...k8s, service };
}

export function render(install: ResolvedInstall): RenderResult {
  const built = buildContexts(install);
  const warnings: Warning[] = [...built.warnings];
  const all: K8sObject[] = [];
  const from = new Map<string, string>();
  for (const r of built.renders) {
    const objects = RENDERERS[r.component](r.ctx);
    const k8s = r.ctx.gateway ? withoutServicePorts(r.spec.k8s) : r.spec.k8s;
    warnings.push(...applyK8sSettings(objects, k8s, { ...k8sTarget(r), field: `${r.field}.k8s` }));
    applyOverlays(objects, k8s?.overlays, `${r.field}.k8s`);
    applyOwnershipLabels(objects, r.component, install.owner, install.version);
    for (const o of objects) {
      const id = `${o.kind}:${o.metadata.namespace ?? ''}:${o.metadata.name}`;
      const prior = from.get(id);
      if (prior) {
        throw new InputError([
          {
            path: r.field,
            message: `renders ${o.kind} "${o.metadata.name}"${o.metadata.namespace ? ` in namespace "${o.metadata.namespace}"` : ''}, which ${prior} renders too`,
            hint: 'give the component its own name or namespace',
          },
        ]);
      }
      from.set(id, r.field);
      all.push(o);
    }
  }
  return { objects: sortObjects(all), warnings };
}
