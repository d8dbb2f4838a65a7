#!/usr/bin/env bash
# Packages charts/istio-operator into dist/charts/istio-operator-<version>.tgz with real Helm, after checking
# that the chart is what manifests/operator generates and that its version is package.json's.
# Helm: $HELM, else `helm` on PATH, else the one test/helm/build.sh builds from its Go module.
set -euo pipefail
cd "$(dirname "$0")/.."
helm=${HELM:-}
if [ -z "$helm" ]; then
  if command -v helm >/dev/null; then helm=helm; else helm="$(bash test/helm/build.sh | tail -1)/helm"; fi
fi
node dist/scripts/chart.js check
node scripts/version.mjs check
mkdir -p dist/charts
"$helm" lint charts/istio-operator
"$helm" package charts/istio-operator --destination dist/charts
