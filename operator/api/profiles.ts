import fs from 'node:fs';
import path from 'node:path';
import { profilesDir } from '../paths.js';
import { InputError } from './errors.js';
import { parseIstioOperator } from './parse.js';
import { mergeSpec, clone, stripNulls } from './merge.js';
import type { IstioOperatorSpec } from './types.js';

// Built-in profiles are IstioOperator documents in profiles/. As in Istio, every profile is merged over
// `default`; a profile may also be a file path (anything with a slash or a .yaml/.yml ending).

export const BUILTIN_PROFILES = [
  'ambient',
  'default',
  'demo',
  'empty',
  'minimal',
  'openshift',
  'openshift-ambient',
  'preview',
  'remote',
  'stable',
] as const;

/** Istio profiles we know but do not render (none today; `profile list` shows them as unsupported, with why). */
export const UNSUPPORTED_PROFILES: Record<string, string> = {};

export interface ProfileInfo {
  name: string;
  supported: boolean;
  note?: string;
}

export function listProfiles(): ProfileInfo[] {
  const out: ProfileInfo[] = BUILTIN_PROFILES.map((name) => ({ name, supported: true }));
  for (const [name, note] of Object.entries(UNSUPPORTED_PROFILES)) out.push({ name, supported: false, note });
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export function isProfilePath(p: string): boolean {
  return p.includes('/') || p.includes(path.sep) || /\.ya?ml$/i.test(p);
}

const cache = new Map<string, IstioOperatorSpec>();

function readSpec(file: string, shown: string, field: string): IstioOperatorSpec {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError([
      { path: field, message: `cannot read profile file ${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` },
    ]);
  }
  const spec = stripNulls(parseIstioOperator(text, shown).spec ?? {});
  // A profile names itself; it is not a reference to another profile.
  delete spec.profile;
  return spec;
}

function builtinSpec(name: string): IstioOperatorSpec {
  let s = cache.get(name);
  if (!s) {
    s = readSpec(path.join(profilesDir, `${name}.yaml`), `profiles/${name}.yaml`, 'spec.profile');
    cache.set(name, s);
  }
  return s;
}

/** The spec of a profile (name or file path), already merged over `default`. Returns a fresh copy. */
export function loadProfile(nameOrPath: string, field = 'spec.profile', allowPaths = true): IstioOperatorSpec {
  const base = builtinSpec('default');
  if (nameOrPath === '' || nameOrPath === 'default') return clone(base);
  if (isProfilePath(nameOrPath)) {
    if (!allowPaths) {
      // In the operator a path would read the operator's own filesystem on behalf of whoever can write the CR.
      throw new InputError([
        {
          path: field,
          message: `profile paths are not allowed here: "${nameOrPath}"`,
          hint: `use a built-in profile (${BUILTIN_PROFILES.join(', ')}) and put the settings in the spec`,
        },
      ]);
    }
    return mergeSpec(base, readSpec(path.resolve(nameOrPath), nameOrPath, field));
  }
  if ((BUILTIN_PROFILES as readonly string[]).includes(nameOrPath)) return mergeSpec(base, builtinSpec(nameOrPath));
  const valid = `valid: ${BUILTIN_PROFILES.join(', ')}, or a path to an IstioOperator file`;
  if (nameOrPath in UNSUPPORTED_PROFILES) {
    throw new InputError([{ path: field, message: `profile "${nameOrPath}" is ${UNSUPPORTED_PROFILES[nameOrPath]}`, hint: valid }]);
  }
  throw new InputError([{ path: field, message: `unknown profile "${nameOrPath}"`, hint: valid }]);
}
