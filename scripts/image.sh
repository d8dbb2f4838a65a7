#!/usr/bin/env bash
# Builds (and with --push, pushes) the operator image for linux/amd64 and linux/arm64, tagged with
# package.json's version: scripts/image.sh REGISTRY/istio-operator [--push]. Needs docker buildx, which
# the release workflow has; without --push it builds for this machine's platform only and loads the image.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=${1:?usage: scripts/image.sh REPOSITORY [--push]}
version=$(node -p "require('./package.json').version")
node scripts/version.mjs check
commit=$(git rev-parse HEAD 2>/dev/null || echo "")
out=--load
[ "${2:-}" = "--push" ] && out=--push
platforms=${PLATFORMS:-linux/amd64,linux/arm64}
[ "$out" = "--load" ] && platforms=${PLATFORMS:-linux/$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')}
docker buildx build --platform "$platforms" --build-arg "VERSION=$version" --build-arg "GIT_COMMIT=$commit" -t "$repo:$version" $out .
