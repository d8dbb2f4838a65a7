import { fileURLToPath } from 'node:url';
import path from 'node:path';

// Compiled code lives in dist/operator/…; templates, profiles and CRDs ship beside dist/ at the package root.
// Resolving from this file (not the working directory) keeps `npx istio-operator` working from anywhere.
const here = path.dirname(fileURLToPath(import.meta.url));
export const packageRoot = path.resolve(here, here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
export const manifestsDir = path.join(packageRoot, 'manifests');
export const profilesDir = path.join(packageRoot, 'profiles');
export const crdsDir = path.join(packageRoot, 'crds');
