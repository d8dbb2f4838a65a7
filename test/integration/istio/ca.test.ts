// The plug-in CA against the real istiod of each tested release, in both modes:
//   operator  our CA code makes the root (kept in istio-operator-ca-root) and the intermediate (`cacerts`);
//   provided  the user's own secret (here made with openssl, not our code, under a custom name) is checked and mounted.
// istiod must load it instead of minting its own self-signed root: the harness writes the mounted secret under its
// work dir (./etc/cacerts), exactly as a kubelet mounts it; istiod logs which CA it uses; the root it publishes in
// istio-ca-root-cert is our root; its serving certificate (the webhook server's TLS, which the API server checks with
// the caBundle istiod patched in) is issued by our intermediate and chains to our root; and the API server's calls to
// its validating webhook succeed over that chain.
//
// One install and istiod at a time: each mode is its own mesh with its own root.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tls from 'node:tls';
import test from 'ava';
import type { Istiod } from '../../istio/istiod.js';
import { testedReleases } from '../../istio/releases.js';
import { cli } from '../apply/_util.js';
import { waitFor } from '../helpers/cluster.js';
import {
  client,
  enterRelease,
  installIstio,
  istiodsStarted,
  logProblems,
  namespace,
  runIstiod,
  stopAll,
  type IstioInstall,
} from './_istio.js';

test.after.always(stopAll);
const t0 = Date.now();
test.after(() => console.log(`ca.test: ${istiodsStarted()} istiod processes started, ${((Date.now() - t0) / 1000).toFixed(1)} s`));

/** A root and an intermediate made with openssl, as a user following Istio's plug-in CA guide would. */
function opensslCa(): { files: Record<string, string>; root: string; intermediate: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'istiotests-ca-'));
  try {
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    run([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'root-key.pem',
      '-out',
      'root-cert.pem',
      '-days',
      '30',
      '-subj',
      '/O=Example Corp/CN=Example Root CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    run(['req', ...ec, '-keyout', 'ca-key.pem', '-out', 'ca.csr', '-subj', '/O=Example Corp/CN=Example Intermediate CA']);
    fs.writeFileSync(
      path.join(dir, 'ext.cnf'),
      'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n',
    );
    run([
      'x509',
      '-req',
      '-in',
      'ca.csr',
      '-CA',
      'root-cert.pem',
      '-CAkey',
      'root-key.pem',
      '-CAcreateserial',
      '-out',
      'ca-cert.pem',
      '-days',
      '20',
      '-extfile',
      'ext.cnf',
    ]);
    const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
    const files = {
      'ca-cert.pem': read('ca-cert.pem'),
      'ca-key.pem': read('ca-key.pem'),
      'root-cert.pem': read('root-cert.pem'),
      'cert-chain.pem': read('ca-cert.pem') + read('root-cert.pem'),
    };
    return { files, root: files['root-cert.pem'], intermediate: files['ca-cert.pem'] };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function secretFiles(ns: string, name: string): Promise<Record<string, string>> {
  const c = client();
  try {
    const s = await c.request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${ns}/secrets/${name}`);
    return Object.fromEntries(Object.entries(s?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  } finally {
    c.close();
  }
}

/** The certificates istiod's webhook server presents, leaf first, as a TLS client that trusts only `rootPem` verifies them. */
function servingChain(
  d: Istiod,
  serverName: string,
  rootPem: string,
): Promise<{ authorized: boolean; error?: string; chain: X509Certificate[] }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port: d.ports.https, servername: serverName, ca: rootPem, rejectUnauthorized: false },
      () => {
        const chain: X509Certificate[] = [];
        let c: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
        const seen = new Set<string>();
        while (c?.raw && !seen.has(c.fingerprint256)) {
          seen.add(c.fingerprint256);
          chain.push(new X509Certificate(c.raw));
          c = c.issuerCertificate;
        }
        resolve({
          authorized: socket.authorized,
          ...(socket.authorizationError ? { error: String(socket.authorizationError) } : {}),
          chain,
        });
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

/** The root istiod publishes to workloads: istio-ca-root-cert in its own namespace (one istiod runs at a time here). */
async function publishedRoot(inst: IstioInstall): Promise<string> {
  const c = client();
  try {
    const cm = await waitFor(`ConfigMap ${inst.namespace}/istio-ca-root-cert`, () =>
      c.request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${inst.namespace}/configmaps/istio-ca-root-cert`, {
        allow404: true,
      }),
    );
    return cm.data?.['root-cert.pem'] ?? '';
  } finally {
    c.close();
  }
}

const same = (a: X509Certificate | undefined, pem: string) => !!a && a.fingerprint256 === new X509Certificate(pem).fingerprint256;

/** Everything this file proves of one install with a plug-in CA whose root is `root` and intermediate `intermediate`. */
async function checkPluggedIn(
  t: import('ava').ExecutionContext,
  inst: IstioInstall,
  istiod: Istiod,
  root: string,
  intermediate: string,
): Promise<void> {
  t.false(
    istiod.absentVolumes.some((v) => v.startsWith('cacerts ')),
    `istiod mounts the plug-in CA (absent: ${istiod.absentVolumes.join(', ')})`,
  );
  const log = istiod.log();
  t.regex(log, /\tinfo\tUse local CA certificate/, 'istiod says it uses the mounted CA');
  t.notRegex(log, /Use self-signed certificate as the CA certificate/);
  t.deepEqual(logProblems(log), []);

  const published = await publishedRoot(inst);
  t.true(
    same(new X509Certificate(published), root),
    `istio-ca-root-cert holds our root, not ${new X509Certificate(published).subject.replace(/\n/g, ', ')}`,
  );

  const serverName = `${inst.istiod}.${inst.namespace}.svc`;
  const tlsResult = await servingChain(istiod, serverName, root);
  t.true(tlsResult.authorized, `a TLS client trusting only our root accepts istiod's serving certificate (${tlsResult.error ?? 'ok'})`);
  const [leaf, issuer, top] = tlsResult.chain;
  t.log(
    `istiod's serving chain: ${tlsResult.chain.map((c) => c.subject?.replace(/\n/g, ', ') || `(no subject; SAN ${c.subjectAltName})`).join(' <- ')}`,
  );
  t.truthy(leaf?.checkHost(serverName), `the serving certificate is for ${serverName}: ${leaf?.subjectAltName}`);
  t.true(same(issuer, intermediate), 'issued by our intermediate');
  t.true(!!leaf && !!issuer && leaf.verify(issuer.publicKey), "signed with our intermediate's key");
  t.true(same(top, root), 'which chains to our root');
  t.true(!!issuer && issuer.verify(new X509Certificate(root).publicKey), "the intermediate is signed with our root's key");

  // The API server calls the validating webhook with the caBundle istiod patched in: our root.
  const c = client();
  t.teardown(() => c.close());
  const rootB64 = Buffer.from(published).toString('base64');
  await waitFor(
    'the validator with our root as caBundle, at Fail',
    async () => {
      const list = await c.request<{ items: Array<Record<string, any>> }>(
        'GET',
        '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
        { query: { labelSelector: `istio.io/rev=${inst.revision}` } },
      );
      const mine = (list?.items ?? []).filter((v) => v.webhooks.every((w: any) => w.clientConfig.service?.namespace === inst.namespace));
      return (
        mine.length > 0 &&
        mine.every((v) => v.webhooks.every((w: any) => w.clientConfig.caBundle === rootB64 && w.failurePolicy === 'Fail'))
      );
    },
    { timeoutMs: 90_000 },
  );
  const ns = await namespace('ca-validate');
  const vs = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'bad', namespace: ns, labels: { 'istio.io/rev': inst.revision } },
    spec: { hosts: ['shop'], http: [{ match: [{ uri: { regex: '(' } }], route: [{ destination: { host: 'shop' } }] }] },
  }; // refused by istiod alone
  const err = await c.request('POST', `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices`, { body: vs }).then(
    () => undefined,
    (e: Error) => e,
  );
  t.regex(
    err?.message ?? 'accepted',
    /admission webhook "[^"]*validation\.istio\.io" denied the request/,
    'the API server reached istiod over TLS checked against our root',
  );
}

for (const release of testedReleases()) {
  test.serial(
    `${release}: components.ca.mode=operator: istiod loads our cacerts, publishes our root, and serves with a certificate that chains to it`,
    async (t) => {
      t.timeout(300_000, `installing with ca.mode=operator and starting istiod ${release}`);
      await enterRelease(release);
      const inst = await installIstio(release, {
        profile: 'minimal',
        revision: 'ca-op',
        spec: { components: { ca: { mode: 'operator' } } },
      });
      const cacerts = await secretFiles(inst.namespace, 'cacerts');
      const kept = await secretFiles(inst.namespace, 'istio-operator-ca-root');
      t.true(same(new X509Certificate(cacerts['root-cert.pem']!), kept['root-cert.pem']!), 'cacerts trusts the root the operator keeps');
      const istiod = await runIstiod(inst);
      t.teardown(() => istiod.stop());
      await checkPluggedIn(t, inst, istiod, kept['root-cert.pem']!, cacerts['ca-cert.pem']!);
      // What a user sees of it: the mode, and the intermediate istiod just loaded.
      const status = await cli(['ca', 'status', '--namespace', inst.namespace]);
      t.is(status.code, 0, status.stderr);
      t.regex(status.stdout, /Mode:\s+operator/);
      t.true(
        status.stdout.includes(new X509Certificate(cacerts['ca-cert.pem']!).serialNumber),
        'ca status shows the intermediate istiod serves with',
      );
    },
  );

  test.serial(
    `${release}: components.ca.mode=provided (the user's own secret, made with openssl): istiod loads it, publishes its root, and serves with a certificate that chains to it`,
    async (t) => {
      t.timeout(300_000, `installing with ca.mode=provided and starting istiod ${release}`);
      await enterRelease(release);
      const istioNs = await namespace(`istio-${release.replace(/\./g, '-')}`);
      const ca = opensslCa();
      const c = client();
      t.teardown(() => c.close());
      await c.request('POST', `/api/v1/namespaces/${istioNs}/secrets`, {
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'corp-ca', namespace: istioNs },
          type: 'Opaque',
          data: Object.fromEntries(Object.entries(ca.files).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
        },
      });
      const inst = await installIstio(release, {
        profile: 'minimal',
        revision: 'ca-prov',
        namespace: istioNs,
        spec: { components: { ca: { mode: 'provided', secretName: 'corp-ca' } } },
      });
      const istiod = await runIstiod(inst);
      t.teardown(() => istiod.stop());
      await checkPluggedIn(t, inst, istiod, ca.root, ca.intermediate);
    },
  );
}
