import { yamlChunks } from '../render/serialize.js';
import type { K8sObject } from '../api/types.js';

/**
 * Writes `objects` to stdout as multi-document YAML, chunk by chunk (yamlChunks: the CRD schemas are written from
 * the text the serializer keeps, never copied into one string first), and resolves once everything is handed to
 * the OS. A reader that stops early (`render | head`) is not an error of ours.
 */
export async function writeYamlStream(objects: K8sObject[]): Promise<void> {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  const chunks = yamlChunks(objects);
  // Corked, so that a pipe or socket gets them in one writev.
  process.stdout.cork();
  let last: Promise<void> = Promise.resolve();
  for (const c of chunks) last = new Promise<void>((resolve) => process.stdout.write(c, () => resolve()));
  process.stdout.uncork();
  await last;
}
