import test from 'ava';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import type { RenderContext } from '../../../operator/render/context.js';
import { cniView } from '../../../operator/render/components/cni.js';
import { gatewayView } from '../../../operator/render/components/gateway.js';
import { pilotView } from '../../../operator/render/components/pilot.js';
import { ztunnelView } from '../../../operator/render/components/ztunnel.js';
import {
  renderComponentTemplates,
  renderTemplate,
  resetTemplateCache,
  templateFiles,
  templateOutputHook,
  type TemplateData,
} from '../../../operator/render/engine.js';
import { buildContexts } from '../../../operator/render/values.js';

// renderComponentTemplates runs a component's templates together (as partials of one template, for speed) and
// splits the text back per template: the objects and the per-template texts must be what rendering each template
// on its own gives.

/** The view each component's templates read, as the component renderers build it. */
const views: Record<string, (ctx: RenderContext) => object> = {
  pilot: (ctx) => ({ ...ctx, pilot: pilotView(ctx) }),
  ingressGateways: (ctx) => ({ gw: gatewayView(ctx) }),
  egressGateways: (ctx) => ({ gw: gatewayView(ctx) }),
  cni: (ctx) => ({ cni: cniView(ctx) }),
  ztunnel: (ctx) => ({ zt: ztunnelView(ctx) }),
};
const folder: Record<string, string> = {
  pilot: 'pilot',
  ingressGateways: 'gateway',
  egressGateways: 'gateway',
  cni: 'cni',
  ztunnel: 'ztunnel',
};

function cases(): Array<{ label: string; folder: string; view: object; data: TemplateData }> {
  const out: Array<{ label: string; folder: string; view: object; data: TemplateData }> = [];
  for (const profile of ['default', 'demo', 'ambient', 'remote']) {
    let built;
    try {
      built = buildContexts(resolveIstioOperator({ sets: [`profile=${profile}`] }).install);
    } catch {
      continue; // a profile this build does not have
    }
    for (const r of built.renders) {
      const view = views[r.component];
      if (view)
        out.push({ label: `${profile}/${r.component}`, folder: folder[r.component]!, view: view(r.ctx), data: { release: r.ctx.release } });
    }
  }
  return out;
}

function texts(run: () => unknown): Array<[string, string]> {
  const seen: Array<[string, string]> = [];
  templateOutputHook.onText = (template, text) => seen.push([template, text]);
  try {
    run();
  } finally {
    templateOutputHook.onText = undefined;
  }
  return seen;
}

for (const cacheOn of [true, false]) {
  test.serial(`a component's templates together give what each gives alone (${cacheOn ? 'build cache' : 'compiled from source'})`, (t) => {
    resetTemplateCache(cacheOn ? undefined : null);
    try {
      const all = cases();
      t.true(all.length >= 6);
      for (const c of all) {
        const alone = () => templateFiles(c.folder).flatMap((f) => renderTemplate(c.folder, f, c.view, c.data));
        const together = () => renderComponentTemplates(c.folder, c.view, c.data);
        t.deepEqual(together(), alone(), c.label);
        t.deepEqual(texts(together), texts(alone), c.label);
      }
    } finally {
      resetTemplateCache(undefined);
    }
  });
}
