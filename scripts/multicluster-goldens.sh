#!/usr/bin/env bash
# Regenerates the multi-cluster goldens: what the REAL `istioctl manifest generate` of each supported Istio release
# renders for the IstioOperators of a multi-cluster mesh (a primary, an east-west gateway, a remote, an external
# control plane and its config cluster). Tests compare our render of the same inputs against them.
#
#   scripts/multicluster-goldens.sh            # every release of test/istio/build.sh
#   ISTIO_OPERATOR_ISTIO_RELEASES=1.30.3 scripts/multicluster-goldens.sh
#
# istioctl comes from test/istio/build.sh with ISTIO_OPERATOR_ISTIO_BINARIES=istioctl (built from Istio's source of
# that release, cached; a no-op once built). Writes, per release,
#   test/fixtures/istio/releases/<tag>/golden/multicluster/inputs/<case>.yaml          the input
#   test/fixtures/istio/releases/<tag>/golden/multicluster/outputs/<case>.golden.yaml  istioctl's stdout, as is
# Conventions are those of scripts/platform-goldens.sh: the input file alone, no hub/tag flags, no cluster, no
# network where `unshare` may, HOME and KUBECONFIG pointing at nothing, every render twice and identical, anything on
# stderr fails the run. CRDs are written as stubs (scripts/crd-stubs.mjs): see below. The inputs are our own text, written the way Istio's multicluster and external control
# plane guides write them, except istiod_remote*.yaml: Istio's own inputs (golden/inputs of the same release),
# copied as they are, for which Istio vendors no output.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

# input CASE TAG: the IstioOperator of each case on stdout.
input() {
  local name=$1 tag=$2
  case $name in
    # A primary of a multi-primary mesh on its own network (Istio's multi-primary, multi-network guide).
    primary)
      cat <<'EOF'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  values:
    global:
      meshID: mesh1
      multiCluster:
        clusterName: cluster1
      network: network1
EOF
      ;;
    # The primary of a primary-remote mesh: its istiod also serves the remotes (global.externalIstiod).
    primary_external)
      cat <<'EOF'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  values:
    global:
      meshID: mesh1
      multiCluster:
        clusterName: cluster1
      network: network1
      externalIstiod: true
EOF
      ;;
    # The east-west gateway as samples/multicluster/gen-eastwest-gateway.sh --network network1 describes it: a
    # second IstioOperator, empty profile, one ingress gateway labelled with its network, asking for that network's
    # view, exposing the status, mTLS passthrough, istiod and webhook ports.
    eastwest)
      cat <<'EOF'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: eastwest
spec:
  revision: ""
  profile: empty
  components:
    ingressGateways:
    - name: istio-eastwestgateway
      label:
        istio: eastwestgateway
        app: istio-eastwestgateway
        topology.istio.io/network: network1
      enabled: true
      k8s:
        env:
        - name: ISTIO_META_REQUESTED_NETWORK_VIEW
          value: network1
        service:
          ports:
          - name: status-port
            port: 15021
            targetPort: 15021
          - name: tls
            port: 15443
            targetPort: 15443
          - name: tls-istiod
            port: 15012
            targetPort: 15012
          - name: tls-webhook
            port: 15017
            targetPort: 15017
  values:
    gateways:
      istio-ingressgateway:
        injectionTemplate: gateway
    global:
      network: network1
EOF
      ;;
    # A remote of a primary-remote mesh: its proxies and webhooks reach the primary's istiod, by IP
    # (an EndpointSlice behind the local `istiod` Service) ...
    remote)
      cat <<'EOF'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  profile: remote
  values:
    istiodRemote:
      injectionPath: /inject/cluster/cluster2/net/network1
    global:
      remotePilotAddress: 192.0.2.10
      meshID: mesh1
      multiCluster:
        clusterName: cluster2
      network: network1
EOF
      ;;
    # ... or by host name (an ExternalName Service).
    remote_hostname)
      cat <<'EOF'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  profile: remote
  values:
    istiodRemote:
      injectionPath: /inject/cluster/cluster2/net/network2
    global:
      remotePilotAddress: istiod.cluster1.example.com
      meshID: mesh1
      multiCluster:
        clusterName: cluster2
      network: network2
EOF
      ;;
    # A revisioned remote: the revision is in every name that points at the primary.
    remote_revision)
      cat <<'EOF'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  profile: remote
  revision: canary
  values:
    istiodRemote:
      injectionPath: /inject/cluster/cluster2/net/network1
    global:
      remotePilotAddress: 192.0.2.10
      meshID: mesh1
      multiCluster:
        clusterName: cluster2
      network: network1
EOF
      ;;
    # The config cluster of an external control plane (Istio's external control plane guide): a remote whose
    # Istio config istiod reads (configCluster), webhooks pointing at the external istiod by URL.
    external_config)
      cat <<'EOF'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  namespace: external-istiod
spec:
  profile: remote
  values:
    global:
      istioNamespace: external-istiod
      configCluster: true
    pilot:
      configMap: true
    istiodRemote:
      injectionURL: https://istiod.external.example.com:15017/inject/cluster/cluster2/net/network1
    base:
      validationURL: https://istiod.external.example.com:15017/validate
EOF
      ;;
    # The external istiod itself, in the external cluster, serving cluster2 (same guide): no webhooks of its own
    # (operatorManageWebhooks), the remote's config through LOCAL_CLUSTER_SECRET_WATCHER, mesh config shared.
    external_istiod)
      cat <<'EOF'
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  namespace: external-istiod
spec:
  profile: empty
  meshConfig:
    rootNamespace: external-istiod
    defaultConfig:
      discoveryAddress: istiod.external.example.com:15012
  components:
    pilot:
      enabled: true
      k8s:
        overlays:
        - kind: Deployment
          name: istiod
          patches:
          - path: spec.template.spec.volumes[100]
            value: |-
              name: config-volume
              configMap:
                name: istio
          - path: spec.template.spec.volumes[100]
            value: |-
              name: inject-volume
              configMap:
                name: istio-sidecar-injector
          - path: spec.template.spec.containers[0].volumeMounts[100]
            value: |-
              name: config-volume
              mountPath: /etc/istio/config
          - path: spec.template.spec.containers[0].volumeMounts[100]
            value: |-
              name: inject-volume
              mountPath: /var/lib/istio/inject
        env:
        - name: INJECTION_WEBHOOK_CONFIG_NAME
          value: ""
        - name: VALIDATION_WEBHOOK_CONFIG_NAME
          value: ""
        - name: EXTERNAL_ISTIOD
          value: "true"
        - name: LOCAL_CLUSTER_SECRET_WATCHER
          value: "true"
        - name: CLUSTER_ID
          value: cluster2
        - name: SHARED_MESH_CONFIG
          value: istio
  values:
    global:
      externalIstiod: true
      caAddress: istiod.external.example.com:15012
      istioNamespace: external-istiod
      operatorManageWebhooks: true
      configValidation: false
      meshID: mesh1
      multiCluster:
        clusterName: cluster2
      network: network1
EOF
      ;;
    istiod_remote | istiod_remote_config | istiod_remote_ipv6 | istiod_remote_local)
      cat "$repo/test/fixtures/istio/releases/$tag/golden/inputs/$name.yaml"
      ;;
    *) echo "multicluster-goldens.sh: unknown case $name" >&2; return 1 ;;
  esac
}

cases=(primary primary_external eastwest remote remote_hostname remote_revision external_config external_istiod
  istiod_remote istiod_remote_config istiod_remote_ipv6 istiod_remote_local)

# shellcheck source=lib/istioctl.sh
source "$repo/scripts/lib/istioctl.sh"
dirs=$(istioctl_dirs)
empty=$(mktemp -d "${TMPDIR:-/tmp}/multicluster-goldens.XXXXXX")
trap 'rm -rf "$empty"' EXIT

for dir in $dirs; do
  tag=${dir##*/istio-}
  istioctl=$dir/istioctl
  [ -x "$istioctl" ] || { echo "multicluster-goldens.sh: no istioctl in $dir (build it: ISTIO_OPERATOR_ISTIO_BINARIES=istioctl test/istio/build.sh)" >&2; exit 1; }
  out=$repo/test/fixtures/istio/releases/$tag/golden/multicluster
  [ -d "$repo/test/fixtures/istio/releases/$tag" ] || { echo "multicluster-goldens.sh: no fixtures for $tag" >&2; exit 1; }
  rm -rf "$out"
  mkdir -p "$out/inputs" "$out/outputs"
  n=0
  for c in "${cases[@]}"; do
    # Istio's own remote inputs exist where that release's tests have them (istiod_remote_ipv6 from 1.30 on).
    if [[ $c == istiod_remote* ]] && [ ! -f "$repo/test/fixtures/istio/releases/$tag/golden/inputs/$c.yaml" ]; then continue; fi
    n=$((n + 1))
    input "$c" "$tag" >"$out/inputs/$c.yaml"
    istioctl_generate_checked multicluster-goldens.sh "$tag" "$c" "$empty" "$istioctl" "$empty/render" -f "$out/inputs/$c.yaml"
    # CRDs are the same in every topology (the reference goldens check their schemas in full): each is kept as a stub
    # (scripts/crd-stubs.mjs: name, labels, versions), so which CRDs a topology installs is still compared, at ~2% of the size.
    node "$repo/scripts/crd-stubs.mjs" <"$empty/render" >"$out/outputs/$c.golden.yaml"
  done
  echo "$tag: $n cases in ${out#"$repo"/}" >&2
done
