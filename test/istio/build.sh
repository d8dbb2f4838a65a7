#!/usr/bin/env bash
# Builds the real istiod (`pilot-discovery`) of each Istio release from Istio's source tarball, once per
# release, so tests can run it against what this project renders. Mirrors test/cluster/build.sh: binaries are
# cached under ${ISTIO_OPERATOR_CACHE:-~/.cache/istio-operator}/istio-<tag>/, and a stamp written after the link
# makes a second run build nothing. Prints each release's cache dir on stdout at the end; progress on stderr.
#
# Beside it, `gateway-render.test`: the release's own Gateway API deployment controller compiled with
# gatewayrender/render_test.go.tmpl (a test file of ours dropped into that package), which renders the objects
# istiod would deploy for Gateways from a given injector config, offline. Its stamp carries the harness's hash,
# so editing the harness rebuilds it (and only it).
#
#   ISTIO_OPERATOR_ISTIO_SRC       folder holding istio-<tag>.tar.gz (Istio's source at that tag, top folder
#                                  istio-<tag>/); default <repo>/../shared/istio-src
#   ISTIO_OPERATOR_ISTIO_RELEASES  space-separated subset of RELEASES, for local dev (CI builds all)
#   ISTIO_OPERATOR_ISTIO_BINARIES  space-separated binaries to build; default "pilot-discovery" (istiod and
#                                  gateway-render.test beside it: what the tests run). "pilot-discovery istioctl"
#                                  also builds `istioctl` (./istioctl/cmd/istioctl, same replaces and version
#                                  ldflags, own stamp), which scripts/platform-goldens.sh runs; CI does not.
#
# istioctl build times measured 2026-12-04 with the Go build cache warm from pilot-discovery (2 cores, load
# average about 15, nice): 1.29.6 191s, 1.30.3 105s, 1.31.0-rc.0 152s (8m10s for all three with extraction).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

# The releases tests run istiod of. One list; a release catalog may feed it later.
RELEASES=(1.29.6 1.30.3 1.31.0-rc.0)

# `go mod edit -replace` arguments per release: the Go module proxy here does not serve some pre-release
# versions these trees pin (istio.io/api, client-go, Envoy's go-control-plane). From
# ../shared/istio-src/README.md; the only place in this project that lists them.
replaces() {
  case $1 in
    1.29.6) echo "istio.io/api=istio.io/api@v1.30.8 istio.io/client-go=istio.io/client-go@v1.30.8" ;;
    1.30.3) echo "istio.io/api=istio.io/api@v1.30.8 istio.io/client-go=istio.io/client-go@v1.30.8" \
      "github.com/envoyproxy/go-control-plane/envoy=github.com/envoyproxy/go-control-plane/envoy@v1.38.0" \
      "github.com/envoyproxy/go-control-plane/contrib=github.com/envoyproxy/go-control-plane/contrib@v1.36.1-0.20260713214202-ca8ce173c36f" \
      "github.com/agentgateway/agentgateway/api=github.com/agentgateway/agentgateway/api@v0.0.0-20260501213430-773586679f1c" ;;
    1.31.0-rc.0) echo "istio.io/api=istio.io/api@v1.31.0 istio.io/client-go=istio.io/client-go@v1.31.0" ;;
    *) return 1 ;;
  esac
}

src=${ISTIO_OPERATOR_ISTIO_SRC:-$repo/../shared/istio-src}
cache=${ISTIO_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/istio-operator}
read -r -a selected <<<"${ISTIO_OPERATOR_ISTIO_RELEASES:-${RELEASES[*]}}"
# Bump when the way a binary is built changes, so cached binaries of the old recipe are rebuilt. RECIPE is
# pilot-discovery's; istioctl has its own.
RECIPE=2
ISTIOCTL_RECIPE=1

read -r -a binaries <<<"${ISTIO_OPERATOR_ISTIO_BINARIES:-pilot-discovery}"
for bin in "${binaries[@]}"; do
  case $bin in pilot-discovery | istioctl) ;; *) echo "build.sh: unknown binary $bin (known: pilot-discovery istioctl)" >&2; exit 1 ;; esac
done
want() { [[ " ${binaries[*]} " == *" $1 "* ]]; }

stamp_of() { echo "$cache/istio-$1/.complete-pilot-discovery-$1-r$RECIPE"; }
harness=$here/gatewayrender/render_test.go.tmpl
harness_sum=$(sha256sum "$harness" | cut -c1-12)
render_stamp_of() { echo "$cache/istio-$1/.complete-gateway-render-$1-$harness_sum"; }
istioctl_stamp_of() { echo "$cache/istio-$1/.complete-istioctl-$1-r$ISTIOCTL_RECIPE"; }
complete() {
  { ! want pilot-discovery || { [ -f "$(stamp_of "$1")" ] && [ -f "$(render_stamp_of "$1")" ]; }; } &&
    { ! want istioctl || [ -f "$(istioctl_stamp_of "$1")" ]; }
}

todo=()
for tag in "${selected[@]}"; do
  replaces "$tag" >/dev/null || { echo "build.sh: unknown Istio release $tag (known: ${RELEASES[*]})" >&2; exit 1; }
  complete "$tag" || todo+=("$tag")
done

if [ ${#todo[@]} -gt 0 ]; then
  command -v go >/dev/null || { echo "build.sh: Go is needed to build istiod (none on PATH)" >&2; exit 1; }
  # Two callers at once (CI's step and a test run, two test workers) must not write the same binary: the
  # second waits, then finds the stamps and builds nothing.
  mkdir -p "$cache"
  if command -v flock >/dev/null; then
    exec 9>"$cache/.istio-build.lock"
    flock 9
    todo=($(for tag in "${todo[@]}"; do complete "$tag" || echo "$tag"; done))
  fi
  for tag in "${todo[@]}"; do
    [ -f "$src/istio-$tag.tar.gz" ] || {
      echo "build.sh: no Istio source for $tag: $src/istio-$tag.tar.gz is missing." >&2
      echo "  Set ISTIO_OPERATOR_ISTIO_SRC to a folder with istio-<tag>.tar.gz (Istio's source at that tag, e.g." >&2
      echo "  https://github.com/istio/istio/archive/refs/tags/$tag.tar.gz saved under that name)." >&2
      exit 1
    }
  done
  work=$(mktemp -d "${TMPDIR:-/tmp}/istio-operator-istiod-build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # Static like Istio's own images; -buildvcs=false: the extracted tree is no checkout (and TMPDIR may sit in one).
  export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
  for tag in "${todo[@]}"; do
    out="$cache/istio-$tag"
    start=$(date +%s)
    tar -xzf "$src/istio-$tag.tar.gz" -C "$work"
    tree="$work/istio-$tag"
    [ -f "$tree/go.mod" ] || { echo "build.sh: $tag: the tarball has no istio-$tag/go.mod at its top" >&2; exit 1; }
    for r in $(replaces "$tag"); do (cd "$tree" && go mod edit -replace "$r"); done
    mkdir -p "$out"
    log="$work/build-$tag.log"
    # Stamped with its release as Istio's own build does: istiod reports it (logs, xDS, `version`), and so does
    # istioctl (`version --remote=false`). No buildHub: istioctl then renders the hub and tag of the tree's own
    # profiles (registry.istio.io/testing or gcr.io/istio-testing, latest) as Istio's golden tests do, where a
    # released istioctl overlays its own hub and tag.
    ver="-X istio.io/istio/pkg/version.buildVersion=$tag -X istio.io/istio/pkg/version.buildTag=$tag -X istio.io/istio/pkg/version.buildStatus=Clean"
    if want pilot-discovery && [ ! -f "$(stamp_of "$tag")" ]; then
      echo "building pilot-discovery $tag (first time only; 4-8 minutes cold)..." >&2
      if ! (cd "$tree" && go build -trimpath -ldflags="-s -w $ver" -o "$out/pilot-discovery.tmp" ./pilot/cmd/pilot-discovery) >"$log" 2>&1; then
        echo "build.sh: building pilot-discovery of Istio $tag failed; go said:" >&2
        tail -n 40 "$log" >&2
        rm -f "$out/pilot-discovery.tmp"
        exit 1
      fi
      mv "$out/pilot-discovery.tmp" "$out/pilot-discovery"
      touch "$(stamp_of "$tag")"
      echo "built pilot-discovery $tag in $(( $(date +%s) - start ))s" >&2
    fi
    if want pilot-discovery && [ ! -f "$(render_stamp_of "$tag")" ]; then
      echo "building gateway-render.test $tag (its Gateway API deployment controller; 2-4 minutes)..." >&2
      start=$(date +%s)
      # 1.30 moved the controller to gatewaycommon, with exported class tables and agentgateway.
      if [ -d "$tree/pilot/pkg/config/kube/gatewaycommon" ]; then
        pkg=gatewaycommon
        classes='features.EnableAgentgateway = true; ClassInfos = GetClassInfos(); BuiltinGatewayClasses = GetBuiltinGatewayClasses(); AgentgatewayClasses = GetAgentGatewayClasses(); AllClasses = GetAllClasses()'
      else
        pkg=gateway
        classes='classInfos = getClassInfos(); builtinClasses = getBuiltinClasses()'
      fi
      sed -e "s/@PKG@/$pkg/" -e "s/@CLASSES@/$classes/" "$harness" >"$tree/pilot/pkg/config/kube/$pkg/zz_operator_render_test.go"
      if ! (cd "$tree" && go test -c -trimpath -o "$out/gateway-render.test.tmp" "./pilot/pkg/config/kube/$pkg") >"$log" 2>&1; then
        echo "build.sh: building gateway-render.test of Istio $tag failed; go said:" >&2
        tail -n 40 "$log" >&2
        rm -f "$out/gateway-render.test.tmp"
        exit 1
      fi
      mv "$out/gateway-render.test.tmp" "$out/gateway-render.test"
      rm -f "$out"/.complete-gateway-render-"$tag"-*
      touch "$(render_stamp_of "$tag")"
      echo "built gateway-render.test $tag in $(( $(date +%s) - start ))s" >&2
    fi
    if want istioctl && [ ! -f "$(istioctl_stamp_of "$tag")" ]; then
      echo "building istioctl $tag (first time only; 2-4 minutes with a warm Go cache)..." >&2
      start=$(date +%s)
      if ! (cd "$tree" && go build -trimpath -ldflags="-s -w $ver" -o "$out/istioctl.tmp" ./istioctl/cmd/istioctl) >"$log" 2>&1; then
        echo "build.sh: building istioctl of Istio $tag failed; go said:" >&2
        tail -n 40 "$log" >&2
        rm -f "$out/istioctl.tmp"
        exit 1
      fi
      mv "$out/istioctl.tmp" "$out/istioctl"
      touch "$(istioctl_stamp_of "$tag")"
      echo "built istioctl $tag in $(( $(date +%s) - start ))s" >&2
    fi
    rm -rf "$tree"
  done
fi

for tag in "${selected[@]}"; do echo "$cache/istio-$tag"; done
