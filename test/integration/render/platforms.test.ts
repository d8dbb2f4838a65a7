// Every object each platform renders (values.global.platform, per release; and Istio's openshift profiles) is
// accepted by the apiserver: `kubectl apply --server-side --dry-run=server` runs each through defaulting, schema
// validation and admission without storing it, as test/integration/render/profiles.test.ts does for the profiles.
// Each platform is rendered over the two installs its settings show in (default + CNI, ambient), as the platform
// goldens are (test/fixtures/istio/releases/PLATFORMS.md). The openshift platform renders a NetworkAttachmentDefinition
// (Multus's kind): its CRD is installed first. The CRDs of the render are left out: no platform changes them, and
// the profiles test dry-runs them already.
import test from 'ava';
import { RELEASES } from '../../../operator/api/releases.js';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import { platformsOf } from '../../../operator/render/platforms.js';
import { render, toYamlStream, type K8sObject } from '../../../operator/render/index.js';
import { createNamespace, kubectl } from '../helpers/cluster.js';
import { ensureNetworkAttachmentDefinitionCrd } from '../helpers/crds.js';

const BASES: Record<string, string[]> = {
  'default-cni': ['profile=default', 'components.cni.enabled=true'],
  ambient: ['profile=ambient'],
};

async function dryRun(t: any, objects: K8sObject[], what: string): Promise<void> {
  const r = await kubectl(
    ['apply', '--server-side', '--dry-run=server', '--field-manager=istio-operator-dry-run', '--force-conflicts', '-f', '-'],
    { input: toYamlStream(objects), timeoutMs: 90_000 },
  );
  t.is(r.code, 0, `${what}: ${r.stderr}`);
  // One line per object, each applied (dry run): nothing skipped, nothing refused.
  const lines = r.stdout
    .trim()
    .split('\n')
    .filter((l) => /\(server dry run\)$/.test(l));
  t.is(lines.length, objects.length, `${what}: ${r.stdout}`);
}

function renderFor(sets: string[], ns: string, release: string): K8sObject[] {
  const { install } = resolveIstioOperator({
    sets: [...sets, `namespace=${ns}`, `values.global.istioNamespace=${ns}`, 'revision=dry'],
    release,
  });
  return render(install).objects.filter((o) => o.kind !== 'CustomResourceDefinition');
}

for (const r of RELEASES) {
  for (const platform of platformsOf(r)) {
    test(`${r.patch} platform ${platform}: every object of default+CNI and of ambient passes a server-side dry-run apply`, async (t) => {
      if (platform === 'openshift') await ensureNetworkAttachmentDefinitionCrd();
      const ns = await createNamespace(t, `dry-${platform}`);
      for (const [base, sets] of Object.entries(BASES)) {
        const objects = renderFor([...sets, `values.global.platform=${platform}`], ns, r.line);
        t.true(objects.length > 0);
        if (platform === 'openshift')
          t.true(
            objects.some((o) => o.kind === 'NetworkAttachmentDefinition' && o.metadata.namespace === 'default'),
            base,
          );
        if (platform === 'gke')
          t.true(
            objects.some((o) => o.kind === 'ResourceQuota'),
            base,
          );
        await dryRun(t, objects, `${base} on ${platform}`);
      }
    });
  }
  test(`${r.patch} profiles openshift and openshift-ambient: every object passes a server-side dry-run apply`, async (t) => {
    await ensureNetworkAttachmentDefinitionCrd();
    const ns = await createNamespace(t, 'dry-openshift');
    for (const profile of ['openshift', 'openshift-ambient']) {
      const objects = renderFor([`profile=${profile}`], ns, r.line);
      t.true(
        objects.some((o) => o.kind === 'DaemonSet' && o.metadata.namespace === 'kube-system'),
        profile,
      );
      await dryRun(t, objects, profile);
    }
  });
}
