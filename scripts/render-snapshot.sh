#!/usr/bin/env bash
# Renders every built-in profile and every golden input the tests know into OUTDIR, one file per case, with the
# CLI as a user runs it. Refactoring commits must not change a byte of it:
#   scripts/render-snapshot.sh /tmp/before && <change> && npm run build && scripts/render-snapshot.sh /tmp/after
#   diff -r /tmp/before /tmp/after
# Errors are kept too (stderr and exit code), so a case that starts or stops failing shows as a difference.
# Each release line renders its own manifests (render/features.ts), so profiles are rendered once per supported
# line, and each release's golden inputs once more as that release (as its istioctl renders them).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: render-snapshot.sh OUTDIR}
mkdir -p "$out"
cli="node $here/bin/istio-operator.js"
case_() {
  local name=$1
  shift
  $cli render "$@" >"$out/$name.yaml" 2>"$out/$name.stderr"
  echo "exit $?" >>"$out/$name.stderr"
}
lines=${RELEASE_LINES:-"1.29 1.30 1.31"}
for p in "$here"/profiles/*.yaml; do
  n=$(basename "$p" .yaml)
  case_ "profile-$n" --set "profile=$n"
  case_ "profile-$n-rev" --set "profile=$n" --revision canary --set namespace=mesh-a
  for l in $lines; do
    case_ "profile-$n-release-$l" --set "profile=$n" --release "$l"
  done
done
inputs=${GOLDEN_INPUTS:-$here/test/fixtures/istio}
for f in $(find "$inputs" -path '*golden/inputs/*.yaml' 2>/dev/null | sort); do
  rel=${f#"$inputs"/}
  case_ "input-${rel//\//_}" -f "$f"
  # releases/<tag>/golden/inputs/x.yaml: also as <tag> renders it.
  tag=$(sed -n 's|^releases/\([^/]*\)/golden/inputs/.*|\1|p' <<<"$rel")
  [ -n "$tag" ] && case_ "input-${rel//\//_}-as-$tag" -f "$f" --release "$tag"
done
# Settings no profile or golden input reaches (test/fixtures/render-snapshot), for every release line.
for f in "$here"/test/fixtures/render-snapshot/*.yaml; do
  n=$(basename "$f" .yaml)
  for l in $lines; do
    case_ "edge-$n-release-$l" -f "$f" --release "$l"
  done
done
echo "$(ls "$out" | grep -c '\.yaml$') renders in $out"
