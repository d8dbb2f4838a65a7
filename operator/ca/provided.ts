// Mode provided: the user's own cacerts secret is checked, never written; one istiod cannot use is refused
// with the secret and key named.
import type { KubeClient } from '../apply/client.js';
import { bundleFromSecretData } from './bundle.js';
import { getSecret } from './kube.js';
import { CACERTS_KEYS } from './settings.js';
import { CaSecretError, type CaResult, type CaStatus, type CaTarget } from './types.js';
import { inspectBundle } from './validate.js';

export async function provided(client: KubeClient, t: CaTarget, now: Date): Promise<Omit<CaResult, 'writes'>> {
  const live = await getSecret(client, t.namespace, t.secretName);
  if (!live) {
    throw new CaSecretError([
      {
        path: 'spec.components.ca.secretName',
        message: `secret "${t.secretName}" not found in namespace "${t.namespace}"`,
        hint: `create it with ${Object.values(CACERTS_KEYS).join(', ')} (kubectl create secret generic ${t.secretName} -n ${t.namespace} --from-file=...), or use mode: operator`,
      },
    ]);
  }
  const ins = inspectBundle(bundleFromSecretData(live.data), `${t.namespace}/${t.secretName}`, now, t.settings.renewBeforeMs);
  if (ins.issues.length) throw new CaSecretError(ins.issues);
  const status: CaStatus = {
    mode: 'provided',
    namespace: t.namespace,
    secretName: t.secretName,
    roots: ins.roots,
    ...(ins.intermediate ? { intermediate: ins.intermediate } : {}),
  };
  return {
    mode: 'provided',
    outcome: 'validated',
    message: `secret ${t.namespace}/${t.secretName} is a valid plug-in CA (${ins.intermediate?.subject}, expires on ${ins.intermediate?.notAfter})`,
    warnings: ins.warnings,
    status,
    written: [],
    restarted: [],
  };
}
