#!/usr/bin/env bash
# The operator's application layout, as the image holds it: the files the npm package ships (package.json
# "files": bin, dist/operator with its render cache, manifests, profiles, crds) plus package.json and the
# lockfile, and production dependencies only (`npm ci --omit=dev`). The Dockerfile runs this script, and
# test/integration/packaging/layout.test.ts runs the operator from a layout it made with it, so what is
# tested is what the image carries. Needs a build first (npm run build).
#   scripts/app-layout.sh DEST
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:?usage: scripts/app-layout.sh DEST}
[ -f "$root/dist/operator/cache/templates.cjs" ] || { echo "app-layout: $root/dist/operator/cache is missing: run npm run build first" >&2; exit 1; }
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
files=$(cd "$root" && node -p "require('./package.json').files.join('\n')")
for f in package.json package-lock.json $files; do
  mkdir -p "$dest/$(dirname "$f")"
  cp -R "$root/$f" "$dest/$f"
done
# --ignore-scripts: `prepare` compiles from sources, which the layout does not carry (it is built already).
(cd "$dest" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)
