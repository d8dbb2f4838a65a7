# syntax=docker/dockerfile:1
# The istio-operator image: `istio-operator operator` on a distroless Node.js LTS, as a numeric non-root user,
# with a read-only root filesystem in mind (nothing is written at run time) and no shell.
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg GIT_COMMIT=$(git rev-parse HEAD) -t IMAGE .
# (scripts/image.sh does this with the version of package.json; scripts/image-local.sh builds it without a daemon
# or registry access, with buildah and locally made bases.) VERSION is kept equal to package.json's by
# `npm run version:sync` and checked by test/unit/packaging/version.test.ts.
ARG VERSION=0.1.0
ARG NODE_IMAGE=node:20-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

# Build: dev dependencies, tsc, and the render cache (precompiled templates, parsed YAML) in dist/operator/cache.
# JavaScript is the same on every platform, so this stage runs on the builder's own.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY operator ./operator
COPY scripts ./scripts
COPY manifests ./manifests
COPY profiles ./profiles
COPY crds ./crds
ARG GIT_COMMIT=""
RUN ISTIO_OPERATOR_GIT_COMMIT="$GIT_COMMIT" npm run build

# The application: what the npm package ships, with production dependencies only (scripts/app-layout.sh,
# the script the image layout test runs). On the target platform, in case a dependency is ever native.
FROM ${NODE_IMAGE} AS app
COPY --from=build /src /src
RUN /src/scripts/app-layout.sh /app

FROM ${RUNTIME_IMAGE}
ARG VERSION
ARG GIT_COMMIT=""
LABEL org.opencontainers.image.title="istio-operator" \
      org.opencontainers.image.description="Reconciles IstioOperator resources into Istio control planes" \
      org.opencontainers.image.source="https://github.com/istio-operator/istio-operator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=app --chown=0:0 /app /app
WORKDIR /app
# 65532 is distroless's "nonroot"; numeric, so Kubernetes can check runAsNonRoot without resolving names.
USER 65532:65532
ENV NODE_ENV=production
ENTRYPOINT ["/nodejs/bin/node", "/app/bin/istio-operator.js", "operator"]
