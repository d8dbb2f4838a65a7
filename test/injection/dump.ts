// Writes what the Go checker in this folder compares: our injection templates and injector values as the
// istio-sidecar-injector ConfigMap carries them (default values), and Istio's templates from the same release's golden.
//   node dist/test/injection/dump.js /tmp/inj && (cd test/injection && GOFLAGS=-mod=mod GOPROXY=off go run . /tmp/inj)
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { renderPilot } from '../../operator/render/components/pilot.js';
import { manifestsDir } from '../../operator/paths.js';
import { goldenOutputsDir } from '../helpers/fixtures.js';
import { DEFAULT_RELEASE } from '../../operator/api/releases.js';

const out = process.argv[2] ?? '/tmp/inj';
const values = yaml.load(fs.readFileSync(path.join(manifestsDir, 'values.yaml'), 'utf8')) as Record<string, any>;
const objs = renderPilot({
  values,
  meshConfig: values.meshConfig ?? {},
  revision: '',
  rev: 'default',
  revSuffix: '',
  namespace: 'istio-system',
  istioNamespace: 'istio-system',
  version: String(values.global?.tag ?? ''),
  release: DEFAULT_RELEASE,
  ca: { mode: 'istiod', secretName: 'cacerts' },
});
const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'istio-sidecar-injector') as any;

function write(dir: string, config: string): void {
  fs.mkdirSync(path.join(out, dir), { recursive: true });
  for (const [name, text] of Object.entries((yaml.load(config) as any).templates))
    fs.writeFileSync(path.join(out, dir, `${name}.tmpl`), String(text));
}
write('ours', cm.data.config);
fs.writeFileSync(path.join(out, 'values.json'), cm.data.values);
for (const d of yaml.loadAll(
  fs.readFileSync(path.join(goldenOutputsDir(DEFAULT_RELEASE.patch), 'pilot_default.golden.yaml'), 'utf8'),
) as any[]) {
  if (d?.kind === 'ConfigMap' && d.metadata?.name === 'istio-sidecar-injector') write('golden', d.data.config);
}
console.log(`wrote ${out}/ours, ${out}/golden, ${out}/values.json`);
