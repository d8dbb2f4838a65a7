import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import yaml from 'js-yaml';
import { cli } from './_util.js';
import { createNamespace, uniqueName } from '../helpers/cluster.js';
import { ensureCRD, getJson, iopYaml, kubectlOk, startOperator, waitForStatus } from '../controller/harness.js';

// Issue #13: every path form of the one path grammar (operator/api/path.ts), used in k8s.overlays, reaches the
// live object the same way through `render`, the CLI's `install` and the operator.

test.before(ensureCRD);

const overlays = [
  {
    kind: 'Deployment',
    name: 'istiod-REV',
    patches: [
      // [:value]: the element of a list of scalars equal to the value, replaced.
      {
        path: 'spec.template.spec.containers.[name:discovery].args.[:--log_output_level=default:info]',
        value: '--log_output_level=default:debug',
      },
      // A literal dot in a key (an annotation name).
      { path: 'metadata.annotations.example\\.com/team', value: 'mesh' },
      // [N] and [-1]: an index, then an append.
      { path: 'spec.template.spec.containers[0].env[-1]', value: { name: 'OVERLAY_APPENDED', value: '1' } },
      // [key:value] and a removal (no value).
      { path: 'spec.template.spec.containers.[name:discovery].readinessProbe' },
      // The bracket after a dot (`a.[0]`), as istioctl also writes it.
      { path: 'spec.template.spec.containers.[0].args.[:--keepaliveMaxServerConnectionAge]', value: '--keepaliveMaxServerConnectionAge' },
    ],
  },
];

function specFor(istioNs: string, rev: string) {
  return {
    profile: 'minimal',
    namespace: istioNs,
    revision: rev,
    components: { pilot: { k8s: { overlays: JSON.parse(JSON.stringify(overlays).replaceAll('REV', rev)) } } },
  };
}

function checkIstiod(t: any, d: any, how: string) {
  const c = d.spec.template.spec.containers.find((x: any) => x.name === 'discovery');
  t.true(c.args.includes('--log_output_level=default:debug'), `${how}: [:value] replaced the arg (${c.args.join(' ')})`);
  t.false(c.args.includes('--log_output_level=default:info'), how);
  t.is(d.metadata.annotations['example.com/team'], 'mesh', `${how}: escaped dot`);
  t.is(c.env.at(-1).name, 'OVERLAY_APPENDED', `${how}: [-1] appended`);
  t.falsy(c.readinessProbe, `${how}: removed`);
}

test.serial('every path form: render, CLI install and the operator give the same istiod', async (t) => {
  const istioNs = await createNamespace(t, 'ov-cli-istio');
  const rev = uniqueName('ov').slice(0, 10);
  const file = path.join(os.tmpdir(), `${uniqueName('ov')}.yaml`);
  t.teardown(() => fs.rmSync(file, { force: true }));
  fs.writeFileSync(file, iopYaml('ov', 'istio-system', specFor(istioNs, rev)));

  const r = await cli(['render', '-f', file], { kubeconfig: null });
  t.is(r.code, 0, r.stderr);
  const rendered = (yaml.loadAll(r.stdout) as any[]).find((o) => o?.kind === 'Deployment' && o.metadata.name === `istiod-${rev}`);
  checkIstiod(t, rendered, 'render');

  const inst = await cli(['install', '-f', file, '-y']);
  t.is(inst.code, 0, inst.stderr);
  checkIstiod(t, await getJson(['deployment', '-n', istioNs, `istiod-${rev}`]), 'CLI install');
  const un = await cli(['uninstall', '-f', file, '-y']);
  t.is(un.code, 0, un.stderr);

  const ns = await createNamespace(t, 'ov-op');
  const istioNs2 = await createNamespace(t, 'ov-op-istio');
  await startOperator(t, { namespaces: [ns] });
  const rev2 = uniqueName('ov').slice(0, 10);
  await kubectlOk(['apply', '-f', '-'], iopYaml('ov', ns, specFor(istioNs2, rev2)));
  await waitForStatus(ns, 'ov', 'HEALTHY');
  checkIstiod(t, await getJson(['deployment', '-n', istioNs2, `istiod-${rev2}`]), 'operator');
});

test('a path that selects nothing is an error naming the overlay patch, and nothing is written', async (t) => {
  const istioNs = await createNamespace(t, 'ov-bad-istio');
  const rev = uniqueName('ovb').slice(0, 10);
  const file = path.join(os.tmpdir(), `${uniqueName('ovb')}.yaml`);
  t.teardown(() => fs.rmSync(file, { force: true }));
  const spec = {
    profile: 'minimal',
    namespace: istioNs,
    revision: rev,
    components: {
      pilot: {
        k8s: {
          overlays: [
            {
              kind: 'Deployment',
              name: `istiod-${rev}`,
              patches: [{ path: 'spec.template.spec.containers.[name:nope].args', value: ['x'] }],
            },
          ],
        },
      },
    },
  };
  fs.writeFileSync(file, iopYaml('ovb', 'istio-system', spec));
  const r = await cli(['install', '-f', file, '-y']);
  t.is(r.code, 1);
  t.regex(r.stderr, /components\.pilot\.k8s\.overlays\[0\]\.patches\[0\]/);
  t.is(r.stdout, '');
  t.falsy(await getJson(['deployment', '-n', istioNs, `istiod-${rev}`]));
});
