#!/usr/bin/env bash
# Builds the local control plane's binaries from their published Go modules, once per version.
# Prints the directory that holds them as its last line. A second call with the same versions
# builds nothing: the stamp file is written only after every binary linked.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
K8S_VERSION=v1.33.4
ETCD_VERSION=v3.5.21
KWOK_VERSION=v0.7.0
cache=${ISTIO_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/istio-operator}
out="$cache/k8s-$K8S_VERSION"
stamp="$out/.complete-$K8S_VERSION-$ETCD_VERSION-$KWOK_VERSION-kubectl"
if [ -f "$stamp" ]; then echo "$out"; exit 0; fi
command -v go >/dev/null || { echo "build.sh: Go is needed to build the local control plane (none on PATH)" >&2; exit 1; }
mkdir -p "$out"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
# Two parallel compiles fit 2 cores and a few GB; ISTIO_OPERATOR_BUILD_P=1 if the linker runs out of memory.
p=${ISTIO_OPERATOR_BUILD_P:-2}
pkg=k8s.io/component-base/version
ldk="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=33 -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
ldk="$ldk -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
cd "$here"
start=$(date +%s)
# kubectl too: the tests and the quick start must not depend on whichever kubectl a machine happens to have.
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  if [ ! -x "$out/$cmd" ]; then
    echo "building $cmd $K8S_VERSION (first time only; minutes)..." >&2
    # A linker killed for memory on a small machine gets one more try with a single job.
    go build -p "$p" -trimpath -ldflags "$ldk" -o "$out/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" ||
      { echo "retrying $cmd with -p 1" >&2; go build -p 1 -trimpath -ldflags "$ldk" -o "$out/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"; }
    mv "$out/$cmd.tmp" "$out/$cmd"
  fi
done
if [ ! -x "$out/etcd" ]; then
  echo "building etcd $ETCD_VERSION..." >&2
  go build -p "$p" -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$out/etcd.tmp" "$out/etcd"
fi
if [ ! -x "$out/kwok" ]; then
  echo "building kwok $KWOK_VERSION..." >&2
  GOBIN="$out/.kwok-bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$out/.kwok-bin/kwok" "$out/kwok"; rmdir "$out/.kwok-bin" 2>/dev/null || true
fi
echo "built in $(( $(date +%s) - start ))s" >&2
touch "$stamp"
echo "$out"
