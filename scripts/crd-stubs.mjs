// Reads a multi-document YAML render on stdin (istioctl manifest generate's output) and writes it back with every
// CustomResourceDefinition cut to a stub; everything else is written as it came. The stub keeps what a CRD's install
// decides and its schema does not: apiVersion, kind, name, labels and annotations, group and scope, and each
// version's name, served and storage. The schemas (~1 MB per render) do not depend on the goldens' inputs: they come
// from the release's crd-all.gen.yaml, which the reference goldens and crds/ check in full.
// Used by scripts/multicluster-goldens.sh and scripts/live-goldens.sh.
import fs from 'node:fs';
import yaml from 'js-yaml';

const stub = (text) => {
  const crd = yaml.load(text);
  const { name, labels, annotations } = crd.metadata ?? {};
  const out = {
    apiVersion: crd.apiVersion,
    kind: crd.kind,
    metadata: { ...(annotations ? { annotations } : {}), ...(labels ? { labels } : {}), name },
    spec: {
      group: crd.spec?.group,
      scope: crd.spec?.scope,
      versions: (crd.spec?.versions ?? []).map((v) => ({ name: v.name, served: v.served, storage: v.storage })),
    },
  };
  return '\n' + yaml.dump(out, { lineWidth: -1, noRefs: true });
};
const text = fs.readFileSync(0, 'utf8');
process.stdout.write(
  text
    .split(/^---$/m)
    .map((d) => (/^kind: CustomResourceDefinition$/m.test(d) ? stub(d) : d))
    .join('---'),
);
