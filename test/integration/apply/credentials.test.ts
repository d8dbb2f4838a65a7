// Issue #18, items 1 and 2 on a real kube-apiserver: every kubeconfig form reaches the cluster as the user it
// names, and a watch whose connection goes silent recovers by itself. The API server says who we are
// (SelfSubjectReview), so each test proves which credentials were sent, not only that a request succeeded.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import yaml from 'js-yaml';
import { KubeClient, WATCH_IDLE_TIMEOUT_MS } from '../../../operator/apply/client.js';
import { loadConnection } from '../../../operator/apply/kubeconfig.js';
import { Informer, kubeSource, type KObject } from '../../../operator/controller/informer.js';
import { pkiDirOf, signClientCert } from '../../cluster/clientca.js';
import { cli } from './_util.js';
import { createNamespace, kubectl, testKubeconfig, waitFor } from '../helpers/cluster.js';

const admin = () => yaml.load(fs.readFileSync(testKubeconfig(), 'utf8')) as any;
const server = () => admin().clusters[0].cluster.server as string;
const caData = () => admin().clusters[0].cluster['certificate-authority-data'] as string;
const adminToken = () => admin().users[0].user.token as string;

function tmpdir(t: ExecutionContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cred-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function writeYaml(file: string, doc: unknown): string {
  fs.writeFileSync(file, yaml.dump(doc), { mode: 0o600 });
  return file;
}

/** Who the API server thinks we are. */
async function whoami(c: KubeClient): Promise<{ username: string; groups: string[]; extra?: Record<string, string[]> }> {
  const r = await c.request<any>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  return r.status.userInfo;
}

/** A cluster-only file and a user-only file, as cloud CLIs write them (`KUBECONFIG=cluster.yaml:user.yaml`). */
function splitKubeconfig(dir: string, user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  const a = writeYaml(path.join(dir, 'a.yaml'), {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server: server(), 'certificate-authority-data': caData(), ...cluster } }],
    contexts: [{ name: 'ctx', context: { cluster: 'local', user: 'cloud-user', namespace: 'kube-public' } }],
    'current-context': 'ctx',
  });
  fs.mkdirSync(path.join(dir, 'b'), { recursive: true });
  const b = writeYaml(path.join(dir, 'b', 'b.yaml'), { apiVersion: 'v1', kind: 'Config', users: [{ name: 'cloud-user', user }] });
  return `${a}${path.delimiter}${b}`;
}

function withKubeconfigEnv<T>(value: string, fn: () => T): T {
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = value;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  }
}

test('an exec plugin defined in the second file of a two-file KUBECONFIG: its token is sent, by the library and the CLI', async (t) => {
  const dir = tmpdir(t);
  fs.mkdirSync(path.join(dir, 'b'));
  // A relative command: kubectl resolves it against the folder of the file that defines the user (b/).
  fs.writeFileSync(
    path.join(dir, 'b', 'plugin.sh'),
    `#!/bin/sh\necho run >> "${dir}/runs"\ncat <<EOF\n{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"$PLUGIN_TOKEN"}}\nEOF\n`,
    { mode: 0o755 },
  );
  const kubeconfig = splitKubeconfig(dir, {
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: './plugin.sh',
      interactiveMode: 'IfAvailable',
      env: [{ name: 'PLUGIN_TOKEN', value: adminToken() }],
    },
  });
  const c = withKubeconfigEnv(kubeconfig, () => KubeClient.fromOptions());
  t.teardown(() => c.close());
  t.is(c.namespace, 'kube-public', "the context's namespace");
  t.is((await whoami(c)).username, 'admin');
  await c.request('GET', '/api/v1/namespaces/default');
  t.is(fs.readFileSync(path.join(dir, 'runs'), 'utf8').trim().split('\n').length, 1, 'one plugin run for several requests');

  // The CLI, as a user runs it: KUBECONFIG=a:b and no flags.
  const r = await cli(['status', '-o', 'json'], { kubeconfig: null, env: { KUBECONFIG: kubeconfig } });
  t.is(r.code, 0, r.stderr);
  t.notThrows(() => JSON.parse(r.stdout));
});

test('a client certificate issued by an exec plugin expires during the run and is renewed', async (t) => {
  const dir = tmpdir(t);
  const pki = pkiDirOf(testKubeconfig());
  const lifetimeMs = 8_000;
  const first = await signClientCert(pki, { user: 'cert-user-1', groups: ['system:masters'], notAfter: new Date(Date.now() + lifetimeMs) });
  const second = await signClientCert(pki, { user: 'cert-user-2', groups: ['system:masters'], notAfter: new Date(Date.now() + 3_600_000) });
  const notAfter = [Date.now() + lifetimeMs, Date.now() + 3_600_000];
  [first, second].forEach((c, i) =>
    fs.writeFileSync(
      path.join(dir, `cred-${i + 1}.json`),
      JSON.stringify({
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        kind: 'ExecCredential',
        status: { clientCertificateData: c.certPem, clientKeyData: c.keyPem, expirationTimestamp: new Date(notAfter[i]!).toISOString() },
      }),
    ),
  );
  const plugin = path.join(dir, 'issue.sh');
  fs.writeFileSync(
    plugin,
    `#!/bin/sh\nn=$(( $(cat "${dir}/n" 2>/dev/null || echo 0) + 1 ))\necho $n > "${dir}/n"\ncat "${dir}/cred-$n.json"\n`,
    { mode: 0o755 },
  );
  const kubeconfig = splitKubeconfig(dir, { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: plugin } });
  const c = withKubeconfigEnv(kubeconfig, () => KubeClient.fromOptions());
  t.teardown(() => c.close());
  t.is((await whoami(c)).username, 'cert-user-1');
  // Keep using the client across the expiry, as a running operator does.
  const until = Date.now() + lifetimeMs + 2_000;
  while (Date.now() < until) {
    await c.request('GET', '/api/v1/namespaces/default');
    await new Promise((r) => setTimeout(r, 500));
  }
  t.is((await whoami(c)).username, 'cert-user-2', 'the renewed certificate is used for new connections');
  t.is(c.connection!.exec!.runs, 2);
});

/** An HTTP CONNECT proxy on loopback that resolves `kubernetes.default.svc` itself, as a corporate proxy would. */
async function connectProxy(t: ExecutionContext): Promise<{ url: string; tunnels: string[] }> {
  const tunnels: string[] = [];
  const proxy = http.createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host === 'kubernetes.default.svc' ? '127.0.0.1' : host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  t.teardown(
    () =>
      new Promise<void>((r) => {
        proxy.closeAllConnections?.();
        proxy.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`, tunnels };
}

test('through a local HTTP CONNECT proxy, set by proxy-url and by HTTPS_PROXY', async (t) => {
  const { url, tunnels } = await connectProxy(t);
  const port = new URL(server()).port;
  // A name only the proxy can resolve: a request that did not go through the proxy could not connect at all.
  const viaName = `https://kubernetes.default.svc:${port}`;
  const dir = tmpdir(t);
  const base = (cluster: Record<string, unknown>) =>
    writeYaml(path.join(dir, `kc-${tunnels.length}.yaml`), {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: viaName, 'certificate-authority-data': caData(), ...cluster } }],
      users: [{ name: 'u', user: { token: adminToken() } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    });

  const byUrl = KubeClient.fromOptions({ kubeconfig: base({ 'proxy-url': url }) });
  t.teardown(() => byUrl.close());
  t.is((await whoami(byUrl)).username, 'admin');
  t.deepEqual(tunnels, [`kubernetes.default.svc:${port}`]);

  const envFile = base({});
  const saved = { HTTPS_PROXY: process.env.HTTPS_PROXY, NO_PROXY: process.env.NO_PROXY };
  process.env.HTTPS_PROXY = url;
  delete process.env.NO_PROXY;
  let byEnv: KubeClient;
  try {
    byEnv = KubeClient.fromOptions({ kubeconfig: envFile });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  t.teardown(() => byEnv.close());
  t.is((await whoami(byEnv)).username, 'admin');
  t.is(tunnels.length, 2, 'HTTPS_PROXY used');

  // The CLI with HTTPS_PROXY from its environment, and NO_PROXY turning it off (then the name cannot be resolved).
  const r = await cli(['status', '-o', 'json'], { kubeconfig: envFile, env: { HTTPS_PROXY: url, NO_PROXY: '' } });
  t.is(r.code, 0, r.stderr);
  t.is(tunnels.length >= 3, true);
  const off = await cli(['status', '-o', 'json'], { kubeconfig: envFile, env: { HTTPS_PROXY: url, NO_PROXY: '.svc' } });
  t.not(off.code, 0);
  t.regex(off.stderr, /cannot reach the Kubernetes API at https:\/\/kubernetes\.default\.svc/);
});

test('impersonation with groups (and uid and extra): the API server sees the impersonated user and RBAC applies to the groups', async (t) => {
  const ns = await createNamespace(t, 'imp');
  const dir = tmpdir(t);
  const kubeconfig = splitKubeconfig(dir, {
    token: adminToken(),
    as: 'jane',
    'as-groups': ['team-a', 'team-b'],
    'as-uid': 'u-42',
    'as-user-extra': { 'example.com/team': ['blue'] },
  });
  const c = withKubeconfigEnv(kubeconfig, () => KubeClient.fromOptions());
  t.teardown(() => c.close());
  const me = await whoami(c);
  t.is(me.username, 'jane');
  t.true(me.groups.includes('team-a') && me.groups.includes('team-b'), me.groups.join(','));
  t.deepEqual(me.extra?.['example.com/team'], ['blue']);
  // RBAC for the impersonated group, not for the admin token behind it.
  const denied = await c.request('GET', `/api/v1/namespaces/${ns}/configmaps`).then(
    () => 'allowed',
    (e: Error) => e.message,
  );
  t.regex(denied, /forbidden: user "cloud-user" may not list configmaps in namespace/);
  t.is((await kubectl(['create', 'rolebinding', 'team-a-view', '-n', ns, '--clusterrole=view', '--group=team-a'])).code, 0);
  await waitFor(
    'RBAC for team-a',
    () =>
      c.request('GET', `/api/v1/namespaces/${ns}/configmaps`).then(
        () => true,
        () => false,
      ),
    { timeoutMs: 10_000 },
  );
});

/** A TCP relay to the API server that can go silent: open connections stay open and forward nothing, new ones work. */
async function silentRelay(t: ExecutionContext): Promise<{ port: number; silence: () => void; connections: () => number }> {
  const target = new URL(server());
  const muted = new WeakSet<net.Socket>();
  const open = new Set<net.Socket>();
  let count = 0;
  const relay = net.createServer((a) => {
    count++;
    const b = net.connect(Number(target.port), target.hostname);
    open.add(a);
    const forward = (from: net.Socket, to: net.Socket, key: net.Socket) => from.on('data', (d) => muted.has(key) || to.write(d));
    forward(a, b, a);
    forward(b, a, a);
    const close = () => {
      open.delete(a);
      a.destroy();
      b.destroy();
    };
    a.on('close', close).on('error', close);
    b.on('close', close).on('error', close);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    for (const s of open) s.destroy();
    relay.close();
  });
  return { port: (relay.address() as net.AddressInfo).port, silence: () => open.forEach((s) => muted.add(s)), connections: () => count };
}

test('a watch whose TCP connection goes silent (a relay that stops forwarding) recovers within the idle timeout', async (t) => {
  const ns = await createNamespace(t, 'silent');
  const relay = await silentRelay(t);
  const dir = tmpdir(t);
  const kubeconfig = writeYaml(path.join(dir, 'kc.yaml'), {
    ...admin(),
    clusters: [
      { name: admin().clusters[0].name, cluster: { server: `https://127.0.0.1:${relay.port}`, 'certificate-authority-data': caData() } },
    ],
  });
  const c = KubeClient.fromOptions({ kubeconfig });
  t.teardown(() => c.close());
  const idleTimeoutMs = 3_000;
  const inf = new Informer<KObject>(kubeSource(c, `/api/v1/namespaces/${ns}/configmaps`, { idleTimeoutMs }), { name: 'silent' });
  t.teardown(() => inf.stop());
  await inf.start();
  await new Promise((r) => setTimeout(r, 500));
  relay.silence();
  const t0 = Date.now();
  t.is((await kubectl(['create', 'configmap', 'after-silence', '-n', ns])).code, 0);
  await waitFor('the informer sees the ConfigMap created while its watch was silent', () => inf.get(`${ns}/after-silence`), {
    timeoutMs: idleTimeoutMs + 10_000,
    intervalMs: 100,
  });
  const ms = Date.now() - t0;
  t.log(`silent watch: event seen ${ms} ms after the relay went silent (idle timeout ${idleTimeoutMs} ms)`);
  t.true(ms < idleTimeoutMs + 5_000, `${ms} ms`);
  t.true(inf.stats.watches >= 2, 'a new watch was opened');
});

test(`a healthy idle watch carries a bookmark well within the default idle timeout (${WATCH_IDLE_TIMEOUT_MS / 1000} s), so it is never restarted for silence`, async (t) => {
  t.timeout(WATCH_IDLE_TIMEOUT_MS + 30_000);
  const ns = await createNamespace(t, 'bookmark');
  const c = KubeClient.fromOptions({ kubeconfig: testKubeconfig() });
  t.teardown(() => c.close());
  const list = await c.request<any>('GET', `/api/v1/namespaces/${ns}/configmaps`);
  const t0 = Date.now();
  const gap = await new Promise<number>((resolve, reject) => {
    let last = Date.now();
    let worst = 0;
    let bookmarks = 0;
    let stop: (() => void) | undefined;
    void c
      .watch(
        `/api/v1/namespaces/${ns}/configmaps`,
        { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 600 },
        (ev) => {
          if (ev.type !== 'BOOKMARK') return;
          worst = Math.max(worst, Date.now() - last);
          last = Date.now();
          if (++bookmarks === 1) {
            stop?.();
            resolve(worst);
          }
        },
        (err) => err && reject(err),
      )
      .then((s) => (stop = s));
  });
  t.log(`first bookmark on an idle watch after ${gap} ms (idle timeout ${WATCH_IDLE_TIMEOUT_MS} ms)`);
  t.true(gap < WATCH_IDLE_TIMEOUT_MS - 15_000, `${gap} ms`);
  t.true(Date.now() - t0 < WATCH_IDLE_TIMEOUT_MS);
});

test('loadConnection names the files when KUBECONFIG has a context whose user is nowhere', (t) => {
  const dir = tmpdir(t);
  const [a] = splitKubeconfig(dir, { token: 'x' }).split(path.delimiter);
  t.throws(() => withKubeconfigEnv(a!, () => loadConnection()), {
    message: /names user "cloud-user", which the kubeconfig .*a\.yaml does not define/,
  });
});

test('an interactive exec plugin prompts on the terminal and reads the answer from it (interactiveMode IfAvailable, under a pty)', async (t) => {
  const dir = tmpdir(t);
  fs.mkdirSync(path.join(dir, 'b'));
  // A login that asks for a one-time code, as device-code and MFA plugins do; it sends the token only for the right code.
  fs.writeFileSync(
    path.join(dir, 'b', 'login.sh'),
    `#!/bin/sh\necho "$KUBERNETES_EXEC_INFO" > "${dir}/info.json"\nprintf 'One-time code: ' >&2\nread code\n[ "$code" = "424242" ] || { echo "wrong code" >&2; exit 1; }\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${adminToken()}"}}'\n`,
    { mode: 0o755 },
  );
  const kubeconfig = splitKubeconfig(dir, {
    exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './login.sh', interactiveMode: 'IfAvailable' },
  });
  const bin = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../../bin/istio-operator.js');
  // `script` gives the CLI a terminal; what we write to it is typed at that terminal.
  const { spawn } = await import('node:child_process');
  const child = spawn('script', ['-qec', `${process.execPath} ${bin} status -o json`, '/dev/null'], {
    env: { ...process.env, KUBECONFIG: kubeconfig },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (d.includes('One-time code:')) child.stdin.write('424242\n');
  });
  const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? 1)));
  t.is(code, 0, out);
  t.regex(out, /One-time code:/, 'the prompt reached the terminal');
  t.regex(out, /"installs"/);
  t.is(JSON.parse(fs.readFileSync(path.join(dir, 'info.json'), 'utf8')).spec.interactive, true, 'KUBERNETES_EXEC_INFO says interactive');
});
