// Every object of every built-in profile is accepted by the apiserver: `kubectl apply --server-side
// --dry-run=server` runs each object through defaulting, schema validation and admission without storing it.
// Rendered into a namespace of the test's own (the CRDs are cluster-scoped and shared: a dry run changes nothing;
// the openshift profiles keep their node agents in kube-system and the NetworkAttachmentDefinition in default).
import test from 'ava';
import { BUILTIN_PROFILES } from '../../../operator/api/profiles.js';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import { render, toYamlStream } from '../../../operator/render/index.js';
import { createNamespace, kubectl } from '../helpers/cluster.js';
import { ensureNetworkAttachmentDefinitionCrd } from '../helpers/crds.js';

for (const profile of BUILTIN_PROFILES) {
  test(`profile ${profile}: every rendered object passes a server-side dry-run apply`, async (t) => {
    const ns = await createNamespace(t, `dry-${profile}`);
    const { install } = resolveIstioOperator({
      sets: [`profile=${profile}`, `namespace=${ns}`, `values.global.istioNamespace=${ns}`, 'revision=dry'],
    });
    const objects = render(install).objects;
    if (profile === 'empty') {
      t.is(objects.length, 0);
      return;
    }
    t.true(objects.length > 0);
    // The openshift profiles render Multus's NetworkAttachmentDefinition: its CRD first, as OpenShift has it.
    if (objects.some((o) => o.kind === 'NetworkAttachmentDefinition')) await ensureNetworkAttachmentDefinitionCrd();
    const r = await kubectl(
      ['apply', '--server-side', '--dry-run=server', '--field-manager=istio-operator-dry-run', '--force-conflicts', '-f', '-'],
      { input: toYamlStream(objects), timeoutMs: 60_000 },
    );
    t.is(r.code, 0, r.stderr);
    // One line per object, each applied (dry run): nothing skipped, nothing refused.
    const lines = r.stdout
      .trim()
      .split('\n')
      .filter((l) => /\(server dry run\)$/.test(l));
    t.is(lines.length, objects.length, r.stdout);
  });
}
