#!/usr/bin/env bash
# Builds Helm from its published Go module (through the Go module proxy), once per version, for the chart's
# tests and `npm run chart:package`. Prints the directory that holds `helm` as its last line. A second call
# builds nothing: the stamp file is written only after the binary linked (as test/cluster/build.sh does).
set -euo pipefail
HELM_VERSION=v3.21.4
cache=${ISTIO_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/istio-operator}
out="$cache/helm-$HELM_VERSION"
stamp="$out/.complete-$HELM_VERSION"
if [ -f "$stamp" ]; then echo "$out"; exit 0; fi
command -v go >/dev/null || { echo "test/helm/build.sh: Go is needed to build Helm (none on PATH)" >&2; exit 1; }
mkdir -p "$out"
start=$(date +%s)
echo "building helm $HELM_VERSION (first time only; minutes)..." >&2
# `go install mod@version` builds with Helm's own go.mod (its pinned dependencies), not ours; the version
# string is what `helm version` prints (Helm sets it through ldflags in its own release builds).
ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
p=${ISTIO_OPERATOR_BUILD_P:-2}
GOBIN="$out/.bin" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -p "$p" -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
mv "$out/.bin/helm" "$out/helm"; rmdir "$out/.bin" 2>/dev/null || true
echo "built helm in $(( $(date +%s) - start ))s" >&2
touch "$stamp"
echo "$out"
