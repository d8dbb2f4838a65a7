#!/usr/bin/env bash
# Builds the kstatus reader (main.go: the real sigs.k8s.io/cli-utils kstatus library, as Flux's health checks
# use it) through the Go module proxy, once per source. Prints the binary's path as its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${ISTIO_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/istio-operator}
sum=$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-12)
out="$cache/kstatus-$sum"
if [ -x "$out/kstatus" ]; then echo "$out/kstatus"; exit 0; fi
command -v go >/dev/null || { echo "test/kstatus/build.sh: Go is needed to build the kstatus reader (none on PATH)" >&2; exit 1; }
mkdir -p "$out"
start=$(date +%s)
(cd "$here" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out/.kstatus" .)
mv "$out/.kstatus" "$out/kstatus"
echo "built the kstatus reader in $(( $(date +%s) - start ))s" >&2
echo "$out/kstatus"
