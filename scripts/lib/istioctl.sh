# Sourced by the golden scripts (multicluster-, platform- and live-goldens.sh), after they set `repo`: the real
# istioctl of each supported release, run so that nothing but its input can change a render. Where `unshare` may,
# it runs without a network (which proves nothing is fetched); HOME (where istioctl's defaults file
# ~/.istioctl/config.yaml lives) and KUBECONFIG point at nothing and ISTIOCONFIG is unset.

istioctl_nonet=()
if unshare -n true 2>/dev/null; then istioctl_nonet=(unshare -n); elif unshare -rn true 2>/dev/null; then istioctl_nonet=(unshare -rn); fi

# istioctl_dirs: one line per release, the folder of its istioctl (test/istio/build.sh builds it once, then caches it).
istioctl_dirs() { ISTIO_OPERATOR_ISTIO_BINARIES=istioctl bash "$repo/test/istio/build.sh"; }

# istioctl_sandboxed HOME ISTIOCTL ARGS...: `istioctl ARGS` run in HOME, a directory with nothing in it.
istioctl_sandboxed() {
  local home=$1 bin=$2
  shift 2
  (cd "$home" && env -u ISTIOCONFIG HOME="$home" KUBECONFIG="$home/none" "${istioctl_nonet[@]}" "$bin" "$@")
}

# istioctl_generate_checked SCRIPT TAG CASE HOME ISTIOCTL OUT ARGS...: `manifest generate ARGS`, twice; both runs must
# succeed, print nothing on stderr and agree, else the script exits naming the case. The render is written to OUT.
istioctl_generate_checked() {
  local script=$1 tag=$2 c=$3 home=$4 bin=$5 out=$6 run
  shift 6
  for run in 1 2; do
    if ! istioctl_sandboxed "$home" "$bin" manifest generate "$@" >"$home/out$run" 2>"$home/err"; then
      echo "$script: istioctl $tag refused $c:" >&2
      cat "$home/err" >&2
      exit 1
    fi
    if [ -s "$home/err" ]; then
      echo "$script: istioctl $tag printed on stderr for $c:" >&2
      cat "$home/err" >&2
      exit 1
    fi
  done
  cmp -s "$home/out1" "$home/out2" || { echo "$script: istioctl $tag renders $c differently twice" >&2; exit 1; }
  cp "$home/out1" "$out"
}
