#!/usr/bin/env bash
# Builds the Dockerfile into an OCI archive on a machine without a Docker daemon and without access to a
# container registry (as this project's development machines are), with buildah:
#   scripts/image-local.sh OUT.tar        (as root; needs buildah, debootstrap and Node.js 20 with npm)
# The Dockerfile's bases (node:20-bookworm-slim, distroless nodejs20) come from container registries, so both
# are replaced by one made here: Debian bookworm (minbase, from Debian's package archive) with this machine's
# node and npm, node also at /nodejs/bin/node where distroless has it. Everything else is the Dockerfile as
# written (stages, app layout, user 65532, labels, entry point). Not for releases: the release workflow builds
# on the real bases with buildx.
set -euo pipefail
out=${1:?usage: scripts/image-local.sh OUT.tar}
cd "$(dirname "$0")/.."
version=$(node -p "require('./package.json').version")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
base=localhost/istio-operator-build-base:node20-bookworm
if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >&2
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  node_bin=$(readlink -f "$(command -v node)")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  mkdir -p "$work/rootfs/usr/lib/node_modules" "$work/rootfs/nodejs/bin" "$work/rootfs/etc/ssl/certs"
  cp "$node_bin" "$work/rootfs/usr/bin/node"
  cp -a "$npm_dir" "$work/rootfs/usr/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/bin/npm"
  ln -sf /usr/bin/node "$work/rootfs/nodejs/bin/node"
  # The build's `npm ci` trusts what this machine trusts (a proxy's CA, if any).
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$work/rootfs/etc/ssl/certs/"
  c=$(buildah from scratch)
  m=$(buildah mount "$c")
  cp -a "$work/rootfs/." "$m/"
  buildah umount "$c" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "$c"
  buildah commit -q --rm "$c" "$base" >/dev/null
fi
buildah bud --isolation chroot --network host --layers=false \
  --build-arg NODE_IMAGE="$base" --build-arg RUNTIME_IMAGE="$base" \
  --build-arg VERSION="$version" --build-arg GIT_COMMIT="$(git rev-parse HEAD 2>/dev/null || true)" \
  -t "localhost/istio-operator:$version" . >&2
buildah push -q "localhost/istio-operator:$version" "oci-archive:$out:istio-operator:$version"
echo "$out"
