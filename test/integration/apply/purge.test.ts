// `uninstall --purge` removes every istio-operator object and the Istio CRDs from the whole cluster, so it
// runs on a control plane of its own: on the shared one it would pull CRDs from under the other test files.
import test from 'ava';

import { startControlPlane, type ControlPlane } from '../../cluster/controlplane.js';
import { kubectl, uniqueName, waitFor } from '../helpers/cluster.js';
import { cli, iopFile } from './_util.js';
import { LABEL_OWNER_NAME } from '../../../operator/api/labels.js';

let cp: ControlPlane;
test.before(async () => {
  cp = await startControlPlane();
});
test.after.always(async () => {
  await cp?.stop();
});

test('uninstall --purge leaves no istio-operator object and no Istio CRD behind', async (t) => {
  const kc = { kubeconfig: cp.kubeconfigPath };
  const ns = uniqueName('ap-purge');
  const demo = iopFile(t, ns, 'demo');
  const canary = iopFile(t, ns, 'minimal', {}, 'canary');
  t.is((await cli(['install', '-f', demo.file, '-y', '--wait=false'], kc)).code, 0);
  t.is((await cli(['install', '-f', canary.file, '-y', '--wait=false'], kc)).code, 0);
  const before = await kubectl(['get', 'crd', '-o', 'name'], kc);
  t.regex(before.stdout, /virtualservices\.networking\.istio\.io/);

  const r = await cli(['uninstall', '--purge', '-y', '--force'], kc);
  t.is(r.code, 0, r.stderr);
  const kinds =
    'customresourcedefinitions,mutatingwebhookconfigurations,validatingwebhookconfigurations,clusterroles,clusterrolebindings,deployments,services,serviceaccounts,configmaps,secrets,roles,rolebindings,horizontalpodautoscalers,poddisruptionbudgets';
  await waitFor(
    'nothing labelled as ours',
    async () => {
      const left = await kubectl(['get', kinds, '-A', '-l', LABEL_OWNER_NAME, '-o', 'name'], kc);
      return left.code === 0 && left.stdout.trim() === '' ? true : undefined;
    },
    { timeoutMs: 60_000 },
  );
  const crds = await kubectl(['get', 'crd', '-o', 'name'], kc);
  t.notRegex(crds.stdout, /istio\.io/);
  const inventories = await kubectl(['get', 'configmaps', '-A', '-o', 'name'], kc);
  t.notRegex(inventories.stdout, /istio-operator-inventory/);
});
