// Reads a multi-document YAML render on stdin (istioctl manifest generate's output) and writes it back with every
// CustomResourceDefinition cut to a stub of its apiVersion, kind and name; everything else is written as it came.
// The CRDs do not depend on the goldens' inputs (they come from the release's crd-all.gen.yaml, checked in full by
// the reference goldens and crds/), but which CRDs a render installs does: the stub keeps that at ~1% of the size.
// Used by scripts/multicluster-goldens.sh and scripts/live-goldens.sh.
import fs from 'node:fs';

const stub = (d) => {
  let section = '';
  const keep = d.split('\n').filter((l) => {
    if (/^\S/.test(l)) section = l.split(':')[0];
    return /^(apiVersion|kind):/.test(l) || l === 'metadata:' || (section === 'metadata' && /^  name: /.test(l));
  });
  return '\n' + keep.filter(Boolean).join('\n') + '\n';
};
const text = fs.readFileSync(0, 'utf8');
process.stdout.write(text.split(/^---$/m).map((d) => (/^kind: CustomResourceDefinition$/m.test(d) ? stub(d) : d)).join('---'));
