import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { loadConnection } from '../../../operator/apply/kubeconfig.js';

function write(doc: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kc-'));
  const f = path.join(dir, 'config');
  fs.writeFileSync(f, yaml.dump(doc));
  fs.writeFileSync(path.join(dir, 'ca.pem'), 'CA');
  fs.writeFileSync(path.join(dir, 'token'), 'from-file\n');
  return f;
}

const base = {
  clusters: [{ name: 'c1', cluster: { server: 'https://a:6443/', 'certificate-authority': 'ca.pem' } }, { name: 'c2', cluster: { server: 'https://b', 'insecure-skip-tls-verify': true } }],
  users: [{ name: 'tok', user: { token: 'abc' } }, { name: 'file', user: { tokenFile: 'token' } }, { name: 'ex', user: { exec: { command: 'x' } } }],
  contexts: [{ name: 'one', context: { cluster: 'c1', user: 'tok' } }, { name: 'two', context: { cluster: 'c2', user: 'file' } }, { name: 'three', context: { cluster: 'c1', user: 'ex' } }],
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

test('exec users are left to client-node', (t) => {
  t.true(loadConnection({ kubeconfig: write(base), context: 'three' }).needsClientNode);
});

test('errors name what is missing', (t) => {
  t.throws(() => loadConnection({ kubeconfig: '/no/such' }), { message: /kubeconfig \/no\/such does not exist/ });
  t.throws(() => loadConnection({ kubeconfig: write(base), context: 'zzz' }), { message: /context "zzz" not found in kubeconfig \(available: one, two, three\)/ });
  t.throws(() => loadConnection({ kubeconfig: write({ ...base, 'current-context': undefined }) }), { message: /no current context/ });
  const bad = write({ ...base, contexts: [{ name: 'one', context: { cluster: 'nope', user: 'tok' } }] });
  t.throws(() => loadConnection({ kubeconfig: bad }), { message: /names cluster "nope"/ });
});

test('KUBECONFIG with several files merges them, first one wins', (t) => {
  const a = write(base);
  const b = write({ clusters: [{ name: 'c3', cluster: { server: 'https://c' } }], users: [{ name: 'tok', user: { token: 'other' } }], contexts: [{ name: 'four', context: { cluster: 'c3', user: 'tok' } }], 'current-context': 'four' });
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
