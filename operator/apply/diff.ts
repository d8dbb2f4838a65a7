import yaml from 'js-yaml';
import type { InstallResult } from './install.js';
import { refString } from './resources.js';
import { unifiedDiff } from './textdiff.js';
import type { LiveObject } from '../api/live.js';

// Per-object diffs of a dry-run install: live (before) vs what the apply would produce, both as the
// apiserver returns them, minus bookkeeping and status, so only meaningful changes show.

function clean(o: LiveObject | undefined): string {
  if (!o) return '';
  const c = structuredClone(o);
  delete c.status;
  for (const k of ['managedFields', 'resourceVersion', 'generation', 'creationTimestamp', 'uid', 'selfLink'])
    if (c.metadata) Reflect.deleteProperty(c.metadata, k);
  return yaml.dump(c, { sortKeys: true, lineWidth: -1, noRefs: true });
}

export interface ObjectDiff {
  title: string;
  text: string;
}

export function objectDiffs(r: InstallResult): ObjectDiff[] {
  const out: ObjectDiff[] = [];
  for (const x of r.results) {
    if (x.outcome === 'unchanged') continue;
    const name = refString(x.ref);
    let text = unifiedDiff(clean(x.live), clean(x.after), x.live ? `live/${name}` : '/dev/null', `desired/${name}`);
    if (!text) text = `(same content; install would take ownership of the fields istio-operator renders)\n`;
    out.push({ title: `${x.outcome === 'created' ? 'create' : x.outcome === 'replaced' ? 'replace' : 'configure'} ${name}`, text });
  }
  for (const p of r.pruned)
    out.push({ title: `prune ${refString(p)}`, text: `--- live/${refString(p)}\n+++ /dev/null\n(object would be deleted)\n` });
  return out;
}
