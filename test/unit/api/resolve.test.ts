import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { resolveIstioOperator } from '../../../operator/api/resolve.js';
import { InputError } from '../../../operator/api/errors.js';
import { BUILTIN_PROFILES, listProfiles, loadProfile } from '../../../operator/api/profiles.js';
import { packageRoot } from '../../../operator/paths.js';
import { goldenInputsDir } from '../../helpers/fixtures.js';

const REF = goldenInputsDir();
const IOP = 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n';
const file = (name: string, body: string) => ({ name, text: IOP + body });
const ref = (name: string) => ({ name, text: fs.readFileSync(path.join(REF, name), 'utf8') });

function issuesOf(fn: () => unknown): Array<{ path: string; message: string; hint?: string }> {
  try {
    fn();
  } catch (e) {
    if (e instanceof InputError) return e.issues;
    throw e;
  }
  throw new Error('expected an InputError');
}
const text = (is: Array<{ path: string; message: string; hint?: string }>) =>
  is.map((i) => `${i.path}: ${i.message} (${i.hint ?? ''})`).join('\n');

test('no input resolves to the default profile, with spec.profile kept and no metadata', (t) => {
  const {
    install: { iop },
    warnings,
  } = resolveIstioOperator({});
  t.is(iop.spec!.profile, 'default');
  t.true(iop.spec!.components!.pilot!.enabled);
  t.is(iop.spec!.components!.ingressGateways![0].name, 'istio-ingressgateway');
  t.is(iop.metadata, undefined);
  t.deepEqual(warnings, []);
});

test('merge order: default < profile < files in order < --set in order', (t) => {
  const {
    install: { iop },
  } = resolveIstioOperator({
    files: [
      file('a.yaml', 'spec:\n  profile: demo\n  hub: from-a\n  tag: a\n  values:\n    pilot: {traceSampling: 1}\n'),
      file('b.yaml', 'spec:\n  hub: from-b\n  values:\n    pilot: {autoscaleEnabled: true}\n'),
    ],
    sets: ['hub=from-set-1', 'hub=from-set-2', 'values.pilot.traceSampling=5'],
    // Tag "a" names no Istio version: the release annotation (--release) says which manifests to render.
    release: '1.30',
  });
  const s = iop.spec!;
  t.is(s.profile, 'demo');
  t.is(s.hub, 'from-set-2');
  t.is(s.tag, 'a');
  t.true(s.components!.egressGateways![0].enabled); // demo over default
  t.is(s.values!.pilot.traceSampling, 5); // set over file over demo (100)
  t.true(s.values!.pilot.autoscaleEnabled); // later file over demo (false)
  t.is(s.values!.global.istioNamespace, 'istio-system'); // default survives
});

test('--set profile and spec.profile as a file path', (t) => {
  t.false(resolveIstioOperator({ sets: ['profile=minimal'] }).install.iop.spec!.components!.ingressGateways![0].enabled);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iop-'));
  const p = path.join(dir, 'mine.yaml');
  fs.writeFileSync(p, IOP + 'spec:\n  hub: my.registry/istio\n');
  const {
    install: { iop },
  } = resolveIstioOperator({ files: [file('f.yaml', `spec:\n  profile: ${p}\n`)] });
  t.is(iop.spec!.hub, 'my.registry/istio');
  t.true(iop.spec!.components!.pilot!.enabled);
  t.is(iop.spec!.profile, p);
});

test('gateway lists merge by name; other lists replace; null unsets', (t) => {
  const {
    install: { iop },
  } = resolveIstioOperator({
    files: [
      file(
        'g.yaml',
        'spec:\n  components:\n    ingressGateways:\n    - name: istio-ingressgateway\n      k8s: {replicaCount: 2}\n    - name: extra\n      enabled: true\n  values:\n    gateways:\n      istio-ingressgateway:\n        ports: [{name: http2, port: 80}]\n    global:\n      istioNamespace:\n',
      ),
    ],
  });
  const gws = iop.spec!.components!.ingressGateways!;
  t.deepEqual(
    gws.map((g) => [g.name, g.enabled]),
    [
      ['istio-ingressgateway', true],
      ['extra', true],
    ],
  );
  t.is(gws[0].k8s!.replicaCount, 2);
  t.false('istioNamespace' in iop.spec!.values!.global);
  const demo = resolveIstioOperator({
    files: [
      file(
        'p.yaml',
        'spec:\n  profile: demo\n  values:\n    gateways:\n      istio-ingressgateway:\n        ports: [{name: http2, port: 80}]\n',
      ),
    ],
  });
  t.is(demo.install.iop.spec!.values!.gateways['istio-ingressgateway'].ports.length, 1);
  // An empty list replaces, as istioctl's merge does: no gateway from the profile.
  const none = resolveIstioOperator({
    files: [file('n.yaml', 'spec:\n  profile: demo\n  components:\n    ingressGateways: []\n    egressGateways: []\n')],
  });
  t.deepEqual(none.install.iop.spec!.components!.ingressGateways, []);
  t.deepEqual(none.install.iop.spec!.components!.egressGateways, []);
});

test('metadata comes from the user files, never from a profile', (t) => {
  const {
    install: { iop },
  } = resolveIstioOperator({ files: [file('m.yaml', 'metadata:\n  name: mine\n  namespace: istio-system\nspec:\n  profile: demo\n')] });
  t.deepEqual(iop.metadata, { name: 'mine', namespace: 'istio-system' });
});

test('--revision overrides spec.revision; a revision must be a DNS-1123 label', (t) => {
  t.is(
    resolveIstioOperator({ files: [file('r.yaml', 'spec:\n  revision: a\n')], revision: 'canary' }).install.iop.spec!.revision,
    'canary',
  );
  for (const bad of ['Canary', '1-30_0', 'a.b', '-x', 'x'.repeat(64)]) {
    const is = issuesOf(() => resolveIstioOperator({ revision: bad }));
    t.is(is[0].path, 'spec.revision', bad);
    t.regex(is[0].hint!, /DNS-1123/);
  }
  t.is(resolveIstioOperator({ revision: '1-30-0' }).install.iop.spec!.revision, '1-30-0');
});

test('unknown profile lists the valid ones; every Istio profile is supported, openshift included', (t) => {
  const is = issuesOf(() => resolveIstioOperator({ files: [file('p.yaml', 'spec:\n  profile: demoo\n')] }));
  t.is(is[0].path, 'spec.profile');
  t.regex(is[0].hint!, /ambient, default, demo, empty, minimal, openshift, openshift-ambient, preview, remote, stable/);
  const os = resolveIstioOperator({ sets: ['profile=openshift'] }).install.iop.spec!;
  t.is(os.values?.global?.platform, 'openshift');
  t.is(os.components?.cni?.namespace, 'kube-system');
  t.deepEqual(
    listProfiles()
      .filter((p) => !p.supported)
      .map((p) => p.name),
    [],
  );
});

test('negative replicas, HPA min > max, bad gateway name, unknown field: all reported at once with paths', (t) => {
  const is = issuesOf(() =>
    resolveIstioOperator({
      files: [
        file(
          'bad.yaml',
          [
            'spec:',
            '  components:',
            '    pilot:',
            '      k8s:',
            '        replicaCount: -1',
            '        hpaSpec: {minReplicas: 5, maxReplicas: 2}',
            '        replicaCont: 3',
            '    ingressGateways:',
            '    - name: Bad_Gateway',
            '      enabled: true',
            '  hubb: x',
          ].join('\n'),
        ),
      ],
    }),
  );
  const s = text(is);
  t.regex(s, /spec\.components\.pilot\.k8s\.replicaCount: -1 is below the minimum \(must be >= 0\)/);
  t.regex(s, /spec\.components\.pilot\.k8s\.hpaSpec\.minReplicas: 5 is greater than maxReplicas 2/);
  t.regex(s, /spec\.components\.pilot\.k8s\.replicaCont: unknown field \(did you mean "replicaCount"\?\)/);
  t.regex(s, /spec\.components\.ingressGateways\[1\]\.name: "Bad_Gateway" is not a valid gateway name/);
  t.regex(s, /spec\.hubb: unknown field \(did you mean "hub"\?\)/);
});

test('types of spec fields are checked', (t) => {
  const s = text(
    issuesOf(() =>
      resolveIstioOperator({
        files: [
          file(
            't.yaml',
            'spec:\n  tag: [1]\n  components:\n    pilot:\n      enabled: "yes"\n      k8s:\n        imagePullPolicy: Sometimes\n        nodeSelector: {a: 1}\n        env: [{value: x}]\n    ca:\n      mode: vault\n',
          ),
        ],
      }),
    ),
  );
  t.regex(s, /spec\.tag: must be a string or a number/);
  t.regex(s, /spec\.components\.pilot\.enabled: must be true or false/);
  t.regex(s, /imagePullPolicy: "Sometimes" is not valid \(one of: Always, IfNotPresent, Never\)/);
  t.regex(s, /nodeSelector\.a: must be a string/);
  t.regex(s, /env\[0\]\.name: is required/);
  t.regex(s, /spec\.components\.ca\.mode: "vault" is not valid \(one of: istiod, operator, provided, external\)/);
});

test('tag may be a number; a fractional one is Istio 1.3 (refused) and gets a warning to quote it', (t) => {
  const is = issuesOf(() => resolveIstioOperator({ files: [file('n.yaml', 'spec:\n  tag: 1.30\n')] }));
  t.regex(text(is), /spec\.tag: Istio 1\.3 is not supported.*1\.30 \(1\.30\.3/);
  // Rendered as a named release, the tag is only the image tag: the warning says how it was read.
  const r = resolveIstioOperator({ files: [file('n.yaml', 'spec:\n  tag: 1.30\n')], release: '1.30' });
  t.is(r.install.iop.spec!.tag, 1.3);
  t.true(r.warnings.some((w) => /quote it.*"1\.30"/.test(w.message)));
  t.is(r.install.tag, '1.3');
});

test('reference: invalid-k8s and invalid-k8s-values fail naming the field', (t) => {
  t.regex(
    text(issuesOf(() => resolveIstioOperator({ files: [ref('invalid-k8s.yaml')] }))),
    /spec\.components\.ztunnel\.k8s\.tolerations\[0\]\.thats: unknown field/,
  );
  const is = issuesOf(() => resolveIstioOperator({ files: [ref('invalid-k8s-values.yaml')] }));
  t.is(is[0].path, 'spec.values.global.defaultTolerations[0].thats');
});

test('reference: multiple_iops fails; bare_spec, bare_values, bogus_cps resolve', (t) => {
  t.regex(text(issuesOf(() => resolveIstioOperator({ files: [ref('multiple_iops.yaml')] }))), /multiple_iops\.yaml.*2 documents/);
  for (const ok of ['bare_spec.yaml', 'bare_values.yaml', 'bogus_cps.yaml']) {
    const r = resolveIstioOperator({ files: [ref(ok)] });
    t.is(r.install.iop.spec!.profile, 'default', ok);
  }
  t.false('mountMtlsCerts' in resolveIstioOperator({ files: [ref('bogus_cps.yaml')] }).install.iop.spec!.values!.global);
});

test('reference: flag_force fails without force and warns with it; install_package_path warns', (t) => {
  t.regex(text(issuesOf(() => resolveIstioOperator({ files: [ref('flag_force.yaml')] }))), /spec\.values\.global\.badKey: unknown field/);
  const r = resolveIstioOperator({ files: [ref('flag_force.yaml')], force: true, release: '1.31' });
  t.regex(r.warnings.map((w) => `${w.path}: ${w.message}`).join('\n'), /badKey.*--force/);
  // force never hides errors in the IstioOperator API itself
  t.truthy(
    issuesOf(() =>
      resolveIstioOperator({
        files: [file('x.yaml', 'spec:\n  components:\n    pilot:\n      k8s:\n        replicaCount: -2\n')],
        force: true,
      }),
    ).length,
  );
  const p = resolveIstioOperator({ files: [ref('install_package_path.yaml')], sets: ['installPackagePath=/tmp/charts'], release: '1.31' });
  t.true(p.warnings.some((w) => w.path === 'spec.installPackagePath'));
  t.false('installPackagePath' in p.install.iop.spec!);
});

test('every golden input except the error cases resolves, as istioctl of their release resolves them', (t) => {
  const skip = new Set(['invalid-k8s.yaml', 'invalid-k8s-values.yaml', 'multiple_iops.yaml', 'flag_force.yaml']);
  for (const f of fs.readdirSync(REF).filter((f) => f.endsWith('.yaml') && !skip.has(f))) {
    t.notThrows(() => resolveIstioOperator({ files: [ref(f)], release: '1.31' }), f);
  }
});

test('every built-in profile resolves, names itself, and is a kubectl-appliable IstioOperator', (t) => {
  for (const p of BUILTIN_PROFILES) {
    const body = fs.readFileSync(path.join(packageRoot, 'profiles', `${p}.yaml`), 'utf8');
    t.regex(body, new RegExp(`metadata:\\n  name: ${p}\\n`), p);
    t.regex(body, /^apiVersion: install\.istio\.io\/v1alpha1$/m);
    const r = resolveIstioOperator({ files: [{ name: `${p}.yaml`, text: body }] });
    t.is(r.install.iop.spec!.profile, p);
    t.deepEqual(r.warnings, []);
    t.deepEqual(r.install.iop.spec, resolveIstioOperator({ sets: [`profile=${p}`] }).install.iop.spec, p);
  }
  t.false(loadProfile('empty').components!.pilot!.enabled);
  t.true(loadProfile('remote').values!.istiodRemote.enabled);
});

test('strings that look like YAML are preserved exactly', (t) => {
  const evil = 'a: b\n  c: {{ d }}\n- e';
  const {
    install: { iop },
  } = resolveIstioOperator({ sets: [`meshConfig.accessLogFormat=${evil}`, `components.pilot.k8s.podAnnotations.x=${evil}`] });
  t.is(iop.spec!.meshConfig!.accessLogFormat, evil);
  t.is(iop.spec!.components!.pilot!.k8s!.podAnnotations!.x, evil);
});

test('resolving twice gives the same object and does not mutate the input or the profile cache', (t) => {
  const input = {
    files: [file('a.yaml', 'spec:\n  profile: demo\n')],
    sets: ['components.ingressGateways.[name:istio-ingressgateway].k8s.replicaCount=3'],
  };
  const a = JSON.stringify(resolveIstioOperator(input));
  const b = JSON.stringify(resolveIstioOperator(input));
  t.is(a, b);
  t.is(loadProfile('demo').components!.ingressGateways![0].k8s, undefined);
});

test('gateway labels must be valid Kubernetes labels; ingress and egress names must not collide', (t) => {
  const s = text(
    issuesOf(() =>
      resolveIstioOperator({
        files: [
          file(
            'l.yaml',
            'spec:\n  components:\n    ingressGateways:\n    - name: gw\n      enabled: true\n      label:\n        app: "x\\ny: z"\n        "bad key!": v\n    egressGateways:\n    - name: gw\n      enabled: true\n',
          ),
        ],
      }),
    ),
  );
  t.regex(s, /ingressGateways\[1\]\.label\.app: "x\\ny: z" is not a valid label value/);
  t.regex(s, /label\.bad key!: "bad key!" is not a valid label key/);
  t.regex(s, /egressGateways\[1\]\.name: "gw" is also the name of spec\.components\.ingressGateways\[1\]/);
});

test('an unknown MeshConfig field is an error naming the release, with a hint (the release defines the fields)', (t) => {
  const is = issuesOf(() => resolveIstioOperator({ sets: ['meshConfig.accesLogFile=/dev/stdout', 'meshConfig.someFutureField=1'] }));
  const w = is.map((x) => `${x.path}: ${x.message} (${x.hint})`).join('\n');
  t.regex(w, /spec\.meshConfig\.accesLogFile: is not a field of MeshConfig in Istio 1\.30 \(did you mean "accessLogFile"\?\)/);
  t.regex(w, /spec\.meshConfig\.someFutureField: is not a field of MeshConfig in Istio 1\.30/);
  t.deepEqual(resolveIstioOperator({ sets: ['profile=demo'] }).warnings, []);
  // A field 1.31 added is valid for 1.31 and refused for 1.30; the snake_case spelling is accepted as protobuf JSON is.
  t.notThrows(() => resolveIstioOperator({ sets: ['tag=1.31.0-rc.0', 'meshConfig.serviceEntryVisibility.applyToSidecars=true'] }));
  t.regex(
    issuesOf(() => resolveIstioOperator({ sets: ['meshConfig.serviceEntryVisibility=DEFAULT'] }))[0]!.message,
    /not a field of MeshConfig in Istio 1\.30/,
  );
  t.notThrows(() => resolveIstioOperator({ sets: ['meshConfig.access_log_file=/dev/stdout'] }));
});

test('the operator can refuse profile paths', (t) => {
  const is = issuesOf(() =>
    resolveIstioOperator({ files: [file('p.yaml', 'spec:\n  profile: /etc/hostname\n')], allowProfilePaths: false }),
  );
  t.is(is[0].path, 'spec.profile');
  t.regex(is[0].message, /not allowed/);
});

test('metadata.name becomes a label value, so it must be one', (t) => {
  const is = issuesOf(() => resolveIstioOperator({ files: [file('m.yaml', `metadata:\n  name: "a\\nb: c"\nspec: {}\n`)] }));
  t.is(is[0].path, 'metadata.name');
  t.is(
    issuesOf(() => resolveIstioOperator({ files: [file('m.yaml', `metadata:\n  name: ${'a'.repeat(64)}\n`)] }))[0].path,
    'metadata.name',
  );
  t.notThrows(() => resolveIstioOperator({ files: [file('m.yaml', 'metadata:\n  name: installed-state\n  namespace: istio-system\n')] }));
});

test('overlay patch paths use the --set path syntax and are checked', (t) => {
  const is = issuesOf(() =>
    resolveIstioOperator({
      files: [
        file(
          'o.yaml',
          'spec:\n  components:\n    pilot:\n      k8s:\n        overlays:\n        - kind: Deployment\n          name: istiod\n          patches:\n          - path: spec..replicas\n            value: 2\n          - path: spec.template.spec.containers.[name:discovery].args[0]\n            value: x\n        - kind: Service\n',
        ),
      ],
    }),
  );
  t.deepEqual(
    is.map((i) => i.path),
    ['spec.components.pilot.k8s.overlays[0].patches[0].path', 'spec.components.pilot.k8s.overlays[1].name'],
  );
});

test('--set into env maps keeps strings', (t) => {
  const {
    install: { iop },
  } = resolveIstioOperator({ sets: ['values.pilot.env.PILOT_ENABLE_X=true', 'values.pilot.env.N=10'] });
  t.deepEqual(iop.spec!.values!.pilot.env, { PILOT_ENABLE_X: 'true', N: '10' });
});

test('revision tags: a DNS label short enough for its Service, never the revision itself, never twice', (t) => {
  const issues = (sets: string[]) => {
    const e = t.throws(() => resolveIstioOperator({ sets: ['revision=canary', ...sets] }), { instanceOf: InputError });
    return e!.issues.map((i) => `${i.path}: ${i.message}`);
  };
  t.deepEqual(issues(['values.revisionTags[0]=Prod_Tag']), ['spec.values.revisionTags[0]: "Prod_Tag" is not a valid revision tag']);
  t.deepEqual(issues([`values.revisionTags[0]=${'a'.repeat(44)}`]), [
    `spec.values.revisionTags[0]: "${'a'.repeat(44)}" is not a valid revision tag`,
  ]);
  t.deepEqual(issues(['values.revisionTags[0]=canary']), [
    'spec.values.revisionTags[0]: "canary" is the revision this IstioOperator installs',
  ]);
  t.deepEqual(issues(['values.revisionTags[0]=prod', 'values.revisionTags[1]=prod']), [
    'spec.values.revisionTags[1]: "prod" is listed twice',
  ]);
  t.notThrows(() =>
    resolveIstioOperator({ sets: ['revision=canary', 'values.revisionTags[0]=prod', `values.revisionTags[1]=${'a'.repeat(43)}`] }),
  );
});
