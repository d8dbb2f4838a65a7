// Build step (npm run build): records what `istio-operator version` reports beyond package.json, in
// dist/operator/buildinfo.json. The commit comes from ISTIO_OPERATOR_GIT_COMMIT (the image build passes it,
// as the build context has no .git), else from git, else it is left out ("unknown").
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let commit = process.env.ISTIO_OPERATOR_GIT_COMMIT || undefined;
if (!commit) {
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (dirty) commit += '-dirty';
  } catch {
    // Not a git checkout (an npm tarball, an image build without the commit): nothing to record.
  }
}
const out = path.join(root, 'dist', 'operator', 'buildinfo.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(commit ? { commit } : {}) + '\n');
