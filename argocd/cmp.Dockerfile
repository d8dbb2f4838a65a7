# Image for the Argo CD plugin sidecar: Node, a POSIX shell and grep (for the plugin's generate script),
# and the istio-operator CLI. Build from a published package, or from this checkout with the second stage.
#   docker build -f argocd/cmp.Dockerfile -t ghcr.io/istio-operator/istio-operator-cmp:0.1.0 .
FROM node:20-alpine
WORKDIR /opt/istio-operator
# The package as `npm pack` makes it: bin, dist/operator, manifests, profiles, crds (package.json "files").
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts
COPY bin ./bin
COPY dist/operator ./dist/operator
COPY manifests ./manifests
COPY profiles ./profiles
COPY crds ./crds
RUN ln -s /opt/istio-operator/bin/istio-operator.js /usr/local/bin/istio-operator && istio-operator render --set profile=minimal > /dev/null
# Argo CD runs plugin sidecars as uid 999.
USER 999
