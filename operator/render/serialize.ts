import yaml from 'js-yaml';
import type { K8sObject } from './engine.js';

// The only place rendered objects become text. Keys are sorted (as kubectl prints them) so the output
// depends on the objects alone, never on the order code happened to build them in; js-yaml quotes every
// string that would otherwise read as another type or break the structure, and writes multi-line
// strings as block scalars, so what a user wrote comes back byte for byte when parsed.

export function toYaml(o: unknown): string {
  return yaml.dump(o, { sortKeys: true, lineWidth: -1, noRefs: true, skipInvalid: true });
}

/** Multi-document YAML, one object per document, in the given order. */
export function toYamlStream(objects: K8sObject[]): string {
  return objects.map(toYaml).join('---\n');
}
