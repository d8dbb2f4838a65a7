#!/usr/bin/env bash
# Regenerates the platform goldens: what the REAL `istioctl manifest generate` of each supported Istio release
# renders when values.global.platform is set (gke, k3d, k3s, microk8s, minikube, openshift), and for Istio's
# `openshift` and `openshift-ambient` profiles. Tests compare our render of the same inputs against them.
#
#   scripts/platform-goldens.sh            # every release of test/istio/build.sh
#   ISTIO_OPERATOR_ISTIO_RELEASES=1.30.3 scripts/platform-goldens.sh
#
# istioctl comes from test/istio/build.sh (built from Istio's source of that release, cached; a no-op once
# built, a few minutes per release the first time). Writes, per release,
#   test/fixtures/istio/releases/<tag>/golden/platform/inputs/<case>.yaml          the input (our own text)
#   test/fixtures/istio/releases/<tag>/golden/platform/outputs/<case>.golden.yaml  istioctl's stdout, as is
# like golden/{inputs,outputs} (Istio's own cases). Conventions follow those: the input file alone, no hub/tag
# flags (the tree's profiles give registry.istio.io/testing (gcr.io/istio-testing in 1.29) and `latest`, and its
# charts version 1.0.0, as in Istio's golden tests), no metadata.name (owning-resource: unknown).
#
# No cluster is involved: without --cluster-specific, `manifest generate` builds no Kubernetes client (checked in
# operator/cmd/mesh/manifest-generate.go of each release), so nothing is auto-detected (with --cluster-specific a
# GKE cluster would add platform=gke, cni in kube-system and no ResourceQuota). Where `unshare` may, istioctl runs
# without a network, which proves it. HOME (where istioctl's defaults file ~/.istioctl/config.yaml lives) and
# KUBECONFIG point at nothing, ISTIOCONFIG is unset, so no local file can change a render.
# Every render runs twice and must be identical; anything istioctl prints on stderr fails the run (none did).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

PLATFORMS=(gke k3d k3s microk8s minikube openshift)

# input CASE: the IstioOperator of each case on stdout.
#   default-cni[_<p>]    default profile + CNI (so the CNI-related platform settings show) [+ platform p]
#   ambient[_<p>]        ambient profile (istiod, CNI, ztunnel) [+ platform p]
#   openshift, openshift-ambient   Istio's IstioOperator profiles of those names, as is
# The cases without a platform are the baselines the platform cases are compared with (PLATFORMS.md).
input() {
  local name=$1 base platform=''
  case $name in
    openshift | openshift-ambient)
      printf 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  profile: %s\n' "$name"
      return ;;
  esac
  base=${name%%_*}
  [ "$base" = "$name" ] || platform=${name#*_}
  case $base in
    default-cni) printf 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  profile: default\n  components:\n    cni:\n      enabled: true\n' ;;
    ambient) printf 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  profile: ambient\n' ;;
    *) echo "platform-goldens.sh: unknown case $name" >&2; return 1 ;;
  esac
  if [ -n "$platform" ]; then printf '  values:\n    global:\n      platform: %s\n' "$platform"; fi
}

cases=(default-cni ambient)
for p in "${PLATFORMS[@]}"; do cases+=("default-cni_$p" "ambient_$p"); done
cases+=(openshift openshift-ambient)

# shellcheck source=lib/istioctl.sh
source "$repo/scripts/lib/istioctl.sh"
dirs=$(istioctl_dirs)
empty=$(mktemp -d "${TMPDIR:-/tmp}/platform-goldens.XXXXXX")
trap 'rm -rf "$empty"' EXIT

for dir in $dirs; do
  tag=${dir##*/istio-}
  istioctl=$dir/istioctl
  [ -x "$istioctl" ] || { echo "platform-goldens.sh: no istioctl in $dir" >&2; exit 1; }
  out=$repo/test/fixtures/istio/releases/$tag/golden/platform
  [ -d "$repo/test/fixtures/istio/releases/$tag" ] || { echo "platform-goldens.sh: no fixtures for $tag" >&2; exit 1; }
  rm -rf "$out"
  mkdir -p "$out/inputs" "$out/outputs"
  for c in "${cases[@]}"; do
    input "$c" >"$out/inputs/$c.yaml"
    istioctl_generate_checked platform-goldens.sh "$tag" "$c" "$empty" "$istioctl" "$empty/render" -f "$out/inputs/$c.yaml"
    # CRDs do not depend on the platform (the reference goldens check them): dropped, so each output is ~40 KB, not ~1 MB.
    node -e 'const t=require("fs").readFileSync(0,"utf8");process.stdout.write(t.split(/^---$/m).filter((d)=>!/^kind: CustomResourceDefinition$/m.test(d)).join("---"))' \
      <"$empty/render" >"$out/outputs/$c.golden.yaml"
  done
  echo "$tag: ${#cases[@]} cases in ${out#"$repo"/}" >&2
done
