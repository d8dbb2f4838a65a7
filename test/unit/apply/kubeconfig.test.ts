import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { loadConnection } from '../../../operator/apply/kubeconfig.js';
import { ExecCredentialSource, parseExecCredential } from '../../../operator/apply/exec.js';
import { noProxyMatches, proxyFromEnv } from '../../../operator/apply/proxy.js';

function write(doc: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kc-'));
  const f = path.join(dir, 'config');
  fs.writeFileSync(f, yaml.dump(doc));
  fs.writeFileSync(path.join(dir, 'ca.pem'), 'CA');
  fs.writeFileSync(path.join(dir, 'token'), 'from-file\n');
  return f;
}

const base = {
  clusters: [
    { name: 'c1', cluster: { server: 'https://a:6443/', 'certificate-authority': 'ca.pem' } },
    { name: 'c2', cluster: { server: 'https://b', 'insecure-skip-tls-verify': true } },
  ],
  users: [
    { name: 'tok', user: { token: 'abc' } },
    { name: 'file', user: { tokenFile: 'token' } },
    { name: 'ex', user: { exec: { command: 'x' } } },
  ],
  contexts: [
    { name: 'one', context: { cluster: 'c1', user: 'tok' } },
    { name: 'two', context: { cluster: 'c2', user: 'file' } },
    { name: 'three', context: { cluster: 'c1', user: 'ex' } },
  ],
  'current-context': 'one',
};

test('current context: server, CA relative to the file, bearer token', (t) => {
  const c = loadConnection({ kubeconfig: write(base) });
  t.is(c.server, 'https://a:6443');
  t.is(c.ca?.toString(), 'CA');
  t.deepEqual(c.headers(), { Authorization: 'Bearer abc' });
  t.false(c.needsClientNode);
  t.is(c.userName, 'tok');
});

test('--context picks another; token files are read; insecure is kept', (t) => {
  const c = loadConnection({ kubeconfig: write(base), context: 'two' });
  t.is(c.server, 'https://b');
  t.true(c.insecure);
  t.deepEqual(c.headers(), { Authorization: 'Bearer from-file' });
});

test('exec users are ours (exec.ts); auth providers are left to client-node', (t) => {
  const c = loadConnection({ kubeconfig: write(base), context: 'three' });
  t.false(c.needsClientNode);
  t.truthy(c.exec);
  const ap = write({ ...base, users: [{ name: 'tok', user: { 'auth-provider': { name: 'oidc', config: {} } } }] });
  t.true(loadConnection({ kubeconfig: ap }).needsClientNode);
});

test('errors name what is missing', (t) => {
  t.throws(() => loadConnection({ kubeconfig: '/no/such' }), { message: /kubeconfig \/no\/such does not exist/ });
  t.throws(() => loadConnection({ kubeconfig: write(base), context: 'zzz' }), {
    message: /context "zzz" not found in kubeconfig \S+ \(available: one, two, three\)/,
  });
  t.throws(() => loadConnection({ kubeconfig: write({ ...base, 'current-context': undefined }) }), { message: /no current context/ });
  const bad = write({ ...base, contexts: [{ name: 'one', context: { cluster: 'nope', user: 'tok' } }] });
  t.throws(() => loadConnection({ kubeconfig: bad }), { message: /names cluster "nope"/ });
  const noUser = write({ ...base, contexts: [{ name: 'one', context: { cluster: 'c1', user: 'ghost' } }] });
  t.throws(() => loadConnection({ kubeconfig: noUser }), {
    message: /names user "ghost", which the kubeconfig .* does not define \(users: tok, file, ex\)/,
  });
});

test('KUBECONFIG with several files merges them, first one wins', (t) => {
  const a = write(base);
  const b = write({
    clusters: [{ name: 'c3', cluster: { server: 'https://c' } }],
    users: [{ name: 'tok', user: { token: 'other' } }],
    contexts: [{ name: 'four', context: { cluster: 'c3', user: 'tok' } }],
    'current-context': 'four',
  });
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = `${a}${path.delimiter}${b}`;
  try {
    const c = loadConnection({});
    t.is(c.contextName, 'one');
    const d = loadConnection({ context: 'four' });
    t.is(d.server, 'https://c');
    t.deepEqual(d.headers(), { Authorization: 'Bearer abc' }, 'user "tok" from the first file');
  } finally {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  }
});

function withEnv(vars: Record<string, string | undefined>, fn: () => unknown): any {
  const saved: Record<string, string | undefined> = {};
  for (const k of Object.keys(vars)) {
    saved[k] = process.env[k];
    if (vars[k] === undefined) delete process.env[k];
    else process.env[k] = vars[k];
  }
  const restore = () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  try {
    const r = fn();
    if (r instanceof Promise) return r.finally(restore);
    restore();
    return r;
  } catch (e) {
    restore();
    throw e;
  }
}

test('KUBECONFIG=a:b with the user (an exec plugin) in b: its credentials are sent, command relative to b', async (t) => {
  const a = write({
    clusters: [{ name: 'c', cluster: { server: 'https://a' } }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'cloud', namespace: 'team' } }],
    'current-context': 'ctx',
  });
  const b = write({
    users: [
      {
        name: 'cloud',
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: './plugin.sh',
            interactiveMode: 'Never',
            env: [{ name: 'TOK', value: 'from-b' }],
          },
        },
      },
    ],
  });
  fs.writeFileSync(
    path.join(path.dirname(b), 'plugin.sh'),
    '#!/bin/sh\necho "{\\"apiVersion\\":\\"client.authentication.k8s.io/v1\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"$TOK\\"}}"\n',
    { mode: 0o755 },
  );
  await withEnv({ KUBECONFIG: `${a}${path.delimiter}${b}` }, async () => {
    const c = loadConnection({});
    t.is(c.userName, 'cloud');
    t.is(c.namespace, 'team');
    const cr = await c.credentials();
    t.is(cr.headers.Authorization, 'Bearer from-b');
    await c.credentials();
    t.is(c.exec!.runs, 1, 'cached: no expiry given');
    t.true(c.invalidate());
    await c.credentials();
    t.is(c.exec!.runs, 2, 'run again after a 401');
  });
});

test('impersonation: user, uid, groups (one header each) and extra', async (t) => {
  const f = write({
    ...base,
    users: [
      {
        name: 'tok',
        user: {
          token: 'abc',
          as: 'jane',
          'as-uid': '42',
          'as-groups': ['dev', 'ops'],
          'as-user-extra': { 'scopes.example.com/Team': ['a', 'b'] },
        },
      },
    ],
  });
  const cr = await loadConnection({ kubeconfig: f }).credentials();
  t.deepEqual(cr.headers, {
    Authorization: 'Bearer abc',
    'Impersonate-User': 'jane',
    'Impersonate-Uid': '42',
    'Impersonate-Group': ['dev', 'ops'],
    'Impersonate-Extra-scopes.example.com%2FTeam': ['a', 'b'],
  });
  const bad = write({ ...base, users: [{ name: 'tok', user: { token: 'abc', 'as-groups': ['dev'] } }] });
  t.throws(() => loadConnection({ kubeconfig: bad }), { message: /as-groups, as-uid or as-user-extra without "as"/ });
});

test('proxy-url of the cluster, else HTTPS_PROXY unless NO_PROXY matches or the server is loopback', (t) => {
  const f = write({
    ...base,
    clusters: [
      {
        name: 'c1',
        cluster: { server: 'https://api.example.com:6443', 'proxy-url': 'http://proxy.local:3128', 'tls-server-name': 'kubernetes' },
      },
    ],
  });
  withEnv({ HTTPS_PROXY: 'http://env:1' }, () => {
    const c = loadConnection({ kubeconfig: f });
    t.is(c.proxy?.href, 'http://proxy.local:3128/');
    t.is(c.servername, 'kubernetes');
  });
  const g = write({ ...base, clusters: [{ name: 'c1', cluster: { server: 'https://api.example.com:6443' } }] });
  withEnv({ HTTPS_PROXY: 'env:3128', https_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined }, () =>
    t.is(loadConnection({ kubeconfig: g }).proxy?.href, 'http://env:3128/'),
  );
  withEnv({ HTTPS_PROXY: 'http://env:1', NO_PROXY: 'foo,.example.com' }, () => t.is(loadConnection({ kubeconfig: g }).proxy, undefined));
  const l = write({ ...base, clusters: [{ name: 'c1', cluster: { server: 'https://127.0.0.1:6443' } }] });
  withEnv({ HTTPS_PROXY: 'http://env:1', NO_PROXY: undefined, no_proxy: undefined }, () =>
    t.is(loadConnection({ kubeconfig: l }).proxy, undefined),
  );
});

test('NO_PROXY forms: *, domains, subdomains, IPs, CIDRs, ports', (t) => {
  t.true(noProxyMatches('a.b.example.com', '443', 'example.com'));
  t.true(noProxyMatches('example.com', '443', '.example.com'));
  t.false(noProxyMatches('badexample.com', '443', 'example.com'));
  t.true(noProxyMatches('10.1.2.3', '443', '10.0.0.0/8'));
  t.false(noProxyMatches('11.1.2.3', '443', '10.0.0.0/8'));
  t.true(noProxyMatches('10.1.2.3', '6443', '10.1.2.3:6443'));
  t.false(noProxyMatches('10.1.2.3', '443', '10.1.2.3:6443'));
  t.true(noProxyMatches('x', '1', '*'));
  t.is(proxyFromEnv('https://[::1]:6443', { HTTPS_PROXY: 'http://p:1' }), undefined);
  t.is(proxyFromEnv('http://h:80', { HTTPS_PROXY: 'http://p:1' }), undefined, 'HTTP_PROXY for http servers');
});

test('in-cluster: the pod namespace, and the token file re-read after a 401', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sa-'));
  fs.writeFileSync(path.join(dir, 'token'), 'one');
  fs.writeFileSync(path.join(dir, 'ca.crt'), 'CA');
  fs.writeFileSync(path.join(dir, 'namespace'), 'ops');
  await withEnv(
    { KUBECONFIG: undefined, HOME: dir, ISTIO_OPERATOR_SA_DIR: dir, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' },
    async () => {
      const c = loadConnection({});
      t.is(c.namespace, 'ops');
      t.is(c.server, 'https://10.0.0.1:443');
      t.is((await c.credentials()).headers.Authorization, 'Bearer one');
      fs.writeFileSync(path.join(dir, 'token'), 'two');
      t.is((await c.credentials()).headers.Authorization, 'Bearer one', 'cached for a minute');
      c.invalidate();
      t.is((await c.credentials()).headers.Authorization, 'Bearer two');
    },
  );
});

test('exec credential parsing: expiry, certificates, and errors that name the plugin', (t) => {
  const v = 'client.authentication.k8s.io/v1';
  const r = parseExecCredential(
    JSON.stringify({
      apiVersion: v,
      kind: 'ExecCredential',
      status: { clientCertificateData: 'C', clientKeyData: 'K', expirationTimestamp: '2030-01-01T00:00:00Z' },
    }),
    v,
  );
  t.is(r.cert?.toString(), 'C');
  t.is(r.expiresAt, Date.parse('2030-01-01T00:00:00Z'));
  t.throws(() => parseExecCredential('nope', v, 'exec plugin "x"'), { message: /exec plugin "x" printed no ExecCredential JSON/ });
  t.throws(
    () =>
      parseExecCredential(
        JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { token: 't' } }),
        v,
      ),
    { message: /asks for client.authentication.k8s.io\/v1/ },
  );
  t.throws(() => parseExecCredential(JSON.stringify({ apiVersion: v, kind: 'ExecCredential', status: {} }), v), {
    message: /neither a token nor a client certificate/,
  });
});

test('exec: interactiveMode Always without a terminal is refused with a reason; a missing command names the install hint', async (t) => {
  const src = new ExecCredentialSource(
    { command: 'true', apiVersion: 'client.authentication.k8s.io/v1', interactiveMode: 'Always' },
    { userName: 'u', file: '/k', cluster: {}, isTTY: false },
  );
  await t.throwsAsync(src.get(), { message: /needs an interactive terminal/ });
  const missing = new ExecCredentialSource(
    {
      command: 'no-such-plugin-xyz',
      apiVersion: 'client.authentication.k8s.io/v1',
      interactiveMode: 'Never',
      installHint: 'install it from example',
    },
    { userName: 'u', file: '/k', cluster: {} },
  );
  await t.throwsAsync(missing.get(), {
    message: /exec plugin "no-such-plugin-xyz" of user "u" \(\/k\): command not found\ninstall it from example/,
  });
});

test('exec: KUBERNETES_EXEC_INFO tells the plugin whether it is interactive and, when asked, the cluster', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exec-'));
  const script = path.join(dir, 'p.sh');
  fs.writeFileSync(
    script,
    `#!/bin/sh\nprintf '%s' "$KUBERNETES_EXEC_INFO" > ${dir}/info.json\necho '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"x"}}'\n`,
    { mode: 0o755 },
  );
  const src = new ExecCredentialSource(
    { command: script, apiVersion: 'client.authentication.k8s.io/v1beta1', provideClusterInfo: true },
    { userName: 'u', file: '/k', cluster: { server: 'https://s' }, isTTY: false },
  );
  t.is((await src.get()).token, 'x');
  t.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'info.json'), 'utf8')), {
    apiVersion: 'client.authentication.k8s.io/v1beta1',
    kind: 'ExecCredential',
    spec: { interactive: false, cluster: { server: 'https://s' } },
  });
});
