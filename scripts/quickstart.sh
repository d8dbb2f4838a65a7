#!/usr/bin/env bash
# The README's quick start: a local control plane (built from Go modules on first use), Istio's demo
# profile installed into it with server-side apply, and how to reach it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/operator/cli/main.js ] || npm run --silent build
echo "==> starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)" >&2
up=$(node dist/test/cluster/cli.js up | tee /dev/stderr | tail -n 1)
eval "$up"
echo "==> installing Istio (demo profile) with istio-operator" >&2
node bin/istio-operator.js install --set profile=demo -y
echo "==> what runs now" >&2
node bin/istio-operator.js diff --set profile=demo >/dev/null && echo "diff: the cluster matches the demo profile (0 changes)" >&2
kubectl get deployments,services -n istio-system >&2 || true
cat >&2 <<MSG

Next:
  $up
  npx istio-operator render --set profile=demo | less        # what was installed
  npx istio-operator diff --set profile=demo                # 0 changes
  npm run cluster:down                                      # stop and remove the local control plane
MSG
echo "$up"
