#!/usr/bin/env bash
# Regenerates the live goldens: what the REAL `istioctl manifest generate` of each supported Istio release renders
# for every input of Istio's own golden corpus (golden/inputs/), with the flags Istio's test gives them.
#
#   scripts/live-goldens.sh            # every release of test/istio/build.sh
#   ISTIO_OPERATOR_ISTIO_RELEASES=1.29.6 scripts/live-goldens.sh
#
# Why: Istio's manifest-generate test renders most of its golden cases from a chart snapshot kept in its testdata
# (operator/cmd/mesh/testdata/manifest-generate/data-snapshot.tar.gz); only the cases it marks liveCharts use the
# release's own manifests/charts, which istioctl embeds. So golden/outputs/ can lag what the release installs
# (1.29.6's much, 1.30.3's and 1.31.0-rc.0's in places: test/fixtures/istio/CASES.md). These outputs are what the
# release really renders: the per-release gates (operator/render/features.ts) follow them, the golden harness
# (test/golden/, set `live`) compares our render with them, and finds with them where a vendored golden is stale.
# About 15 MB for the three releases (the injector ConfigMap is most of each render); git packs them to little, the
# renders being near copies of each other.
#
# istioctl comes from test/istio/build.sh (ISTIO_OPERATOR_ISTIO_BINARIES=istioctl; built from Istio's source of that
# release, cached). Writes, per release,
#   test/fixtures/istio/releases/<tag>/golden/live/inputs/<case>.yaml           the input file, as Istio ships it
#                                                                                (copied from golden/inputs/)
#   test/fixtures/istio/releases/<tag>/golden/live/inputs/<case>.flags          the flags, one per line (if any)
#   test/fixtures/istio/releases/<tag>/golden/live/outputs/<case>.golden.yaml   istioctl's stdout, CRDs as stubs
#   test/fixtures/istio/releases/<tag>/golden/live/outputs/<case>.error.txt     istioctl's stderr, when it refuses
#                                                                                the input (an error case)
#   test/fixtures/istio/releases/<tag>/golden/live/outputs/<case>.stderr.txt    what it printed on stderr besides
#                                                                                a render (warnings), if anything
# The whole render is kept (Istio's diffSelect is the harness's business, test/golden/cases.ts), but each CRD is cut
# to a stub (scripts/crd-stubs.mjs, as the multi-cluster goldens: name, labels, annotations, group, scope, each
# version's served and storage): their schemas do not depend on these inputs (the release's crd-all.gen.yaml;
# golden/outputs/ and crds/ check them) and are ~1 MB per render, while which CRDs a render installs, and how, does.
#
# Run as scripts/platform-goldens.sh runs istioctl: no cluster (without --cluster-specific `manifest generate`
# builds no Kubernetes client), no network where `unshare` may, HOME and KUBECONFIG pointing at nothing, ISTIOCONFIG
# unset, so no local file changes a render. Every case renders twice and must be identical. install_package_path
# gets the release's own manifests/ directory, taken from its source tarball (as Istio's test passes its tree's).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

# flags CASE: the command-line flags of a case, one per line (none for most). From Istio's
# operator/cmd/mesh/manifest-generate_test.go of these releases, and test/fixtures/istio/CASES.md.
flags() {
  case $1 in
    flag_force) echo --force ;;
    # TestManifestGenerateGateways
    gateways)
      printf '%s\n' -s components.ingressGateways.[0].k8s.resources.requests.memory=999Mi \
        -s components.ingressGateways.[name:user-ingressgateway].k8s.resources.requests.cpu=555m \
        -s values.gateways.istio-ingressgateway.autoscaleMin=2 ;;
    install_package_path) printf '%s\n' --set "installPackagePath=@CHARTS@" ;;
    # Flag cases of the corpus without an input file of their own.
    flag_values_enable_egressgateway) printf '%s\n' --set values.gateways.istio-egressgateway.enabled=true ;;
    flag_output_set_values) printf '%s\n' --set values.global.proxy.image=mynewproxy ;;
    # TestManifestGenerateFlagsMinimalProfile, ...SetHubTag, ...SetValues: an input of the corpus plus flags.
    empty_profile_minimal) printf '%s\n' -s profile=minimal ;;
    minimal_hub_tag) printf '%s\n' -s hub=foo -s tag=bar ;;
    default_set_values) printf '%s\n' -s values.global.proxy.image=myproxy -s values.global.proxy.includeIPRanges=172.30.0.0/16,172.21.0.0/16 ;;
  esac
}
# input CASE: the corpus input file a case renders ('' for none).
input() {
  case $1 in
    flag_values_enable_egressgateway | flag_output_set_values) echo '' ;;
    empty_profile_minimal) echo empty.yaml ;;
    minimal_hub_tag) echo minimal.yaml ;;
    default_set_values) echo default.yaml ;;
    *) echo "$1.yaml" ;;
  esac
}
EXTRA_CASES=(flag_values_enable_egressgateway flag_output_set_values empty_profile_minimal minimal_hub_tag default_set_values)
# Inputs istioctl must refuse (Istio's TestMultipleSpecOneFile, TestBadK8sSpec, TestBadK8sSpecValues).
ERROR_CASES=' multiple_iops invalid-k8s invalid-k8s-values autoscaling_v2beta1_k8s_and_values deprecated_autoscaling_k8s_spec '

# shellcheck source=lib/istioctl.sh
source "$repo/scripts/lib/istioctl.sh"
src=${ISTIO_OPERATOR_ISTIO_SRC:-$repo/../shared/istio-src}
dirs=$(istioctl_dirs)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/live-goldens.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home"

for dir in $dirs; do
  tag=${dir##*/istio-}
  istioctl=$dir/istioctl
  [ -x "$istioctl" ] || { echo "live-goldens.sh: no istioctl in $dir" >&2; exit 1; }
  fixtures=$repo/test/fixtures/istio/releases/$tag/golden
  [ -d "$fixtures/inputs" ] || { echo "live-goldens.sh: no golden inputs for $tag" >&2; exit 1; }
  charts=$tmp/src-$tag
  mkdir -p "$charts"
  tar -xzf "$src/istio-$tag.tar.gz" -C "$charts" "istio-$tag/manifests"
  charts=$charts/istio-$tag/manifests
  out=$fixtures/live
  rm -rf "$out"
  mkdir -p "$out/inputs" "$out/outputs"
  cases=()
  for f in "$fixtures"/inputs/*.yaml; do c=${f##*/}; cases+=("${c%.yaml}"); done
  cases+=("${EXTRA_CASES[@]}")
  for c in "${cases[@]}"; do
    in=$(input "$c")
    args=()
    if [ -n "$in" ]; then
      cp "$fixtures/inputs/$in" "$out/inputs/$c.yaml"
      args+=(-f "$out/inputs/$c.yaml")
    fi
    mapfile -t fl < <(flags "$c")
    if [ ${#fl[@]} -gt 0 ]; then
      printf '%s\n' "${fl[@]}" >"$out/inputs/$c.flags"
      for a in "${fl[@]}"; do args+=("${a//@CHARTS@/$charts}"); done
    fi
    for run in 1 2; do
      rc=0
      istioctl_sandboxed "$tmp/home" "$istioctl" manifest generate "${args[@]}" >"$tmp/out$run" 2>"$tmp/err$run" || rc=$?
      # The charts' path (install_package_path) is ours, not the release's.
      sed -i "s#$charts#<charts>#g" "$tmp/err$run"
      echo "$rc" >"$tmp/rc$run"
    done
    cmp -s "$tmp/out1" "$tmp/out2" && cmp -s "$tmp/err1" "$tmp/err2" && cmp -s "$tmp/rc1" "$tmp/rc2" ||
      { echo "live-goldens.sh: istioctl $tag renders $c differently twice" >&2; exit 1; }
    rc=$(cat "$tmp/rc1")
    if [[ $ERROR_CASES == *" $c "* ]]; then
      [ "$rc" != 0 ] || { echo "live-goldens.sh: istioctl $tag accepted $c, an error case" >&2; exit 1; }
      cp "$tmp/err1" "$out/outputs/$c.error.txt"
      continue
    fi
    if [ "$rc" != 0 ]; then
      echo "live-goldens.sh: istioctl $tag refused $c:" >&2
      cat "$tmp/err1" >&2
      exit 1
    fi
    if [ -s "$tmp/err1" ]; then cp "$tmp/err1" "$out/outputs/$c.stderr.txt"; fi
    node "$repo/scripts/crd-stubs.mjs" <"$tmp/out1" >"$out/outputs/$c.golden.yaml"
  done
  echo "$tag: ${#cases[@]} cases in ${out#"$repo"/}" >&2
done
