#!/usr/bin/env bash
# peer-bins.sh builds the local environment's third-party binaries from the Go module
# proxy into a per-user cache and prints where they are, one KEY=dir line each:
#
#   SELKIE_CONTROLPLANE_BIN  etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
#                            kubectl, and the nodes' kubelet and kube-proxy (v1.37.2)
#   SELKIE_DEX_BIN           dex (v2.45.1)
#   SELKIE_YTT_BIN           ytt (v0.52.0), which renders deploy/carvel into deploy/manifests
#   SELKIE_HELM_BIN          helm (v3.22.0), which renders deploy/helm/selkie in the tests
#   SELKIE_NODE_BIN          the nodes' runtime: containerd, containerd-shim-runc-v2 and ctr
#                            (v2.4.2), runc (v1.5.3, cgo with libseccomp) and crictl (v1.37.0)
#
# Each directory is keyed by a hash of its wrapper module (go.mod, go.sum, sources) and the
# Go version, so a cached build is reused until the pins change. Cold build on an idle
# 2-core machine: ~10 min for the control plane, ~2 min for Dex, ~2 min for Helm, 5 s for
# ytt, ~5 min for the node runtime; a cache hit costs nothing.
# Build logs go to stderr; stdout carries only the KEY=dir lines.
set -o errexit -o nounset -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${SELKIE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/selkie}/bin
k8s_version=v1.37.2
dex_version=v2.45.1
ytt_version=v0.52.0
helm_version=v3.22.0
containerd_version=v2.4.2
runc_version=v1.5.3
crictl_version=v1.37.0
gover=$(go env GOVERSION)

log() { echo "peer-bins: $*" >&2; }

# key DIR: a short hash of a wrapper module's files and the Go version.
key() {
  (cd "$1" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | sort -z |
    xargs -0 cat; echo "$gover") | sha256sum | cut -c1-16
}

# build_into DIR MODULE_DIR LDFLAGS PACKAGES...: one `go build` into a temp dir renamed into
# place when it succeeds, so an interrupted build never leaves a half-filled cache entry.
# CGO (default 0) and TAGS (build tags) may be set for one call.
build_into() {
  local dir=$1 mod=$2 ldflags=$3; shift 3
  local tmp="$dir.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  local start=$SECONDS
  if ! (cd "$mod" && CGO_ENABLED=${CGO:-0} go build -trimpath -tags "${TAGS:-}" -ldflags "$ldflags" -o "$tmp/" "$@"); then
    rm -rf "$tmp"; return 1
  fi
  rm -rf "$dir"; mv "$tmp" "$dir"
  log "built $(ls "$dir" | tr '\n' ' ')in $((SECONDS - start)) s into $dir"
}

controlplane() {
  local mod=$root/hack/controlplane dir
  dir=$cache/kubernetes-$k8s_version-$(key "$mod")
  local b missing=
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; do
    [ -x "$dir/$b" ] || missing=1
  done
  if [ -n "$missing" ]; then
    log "building etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet, kube-proxy $k8s_version (cold: ~10 min, ~3 GB RAM)"
    local minor=${k8s_version#v1.}; minor=${minor%%.*}
    # Without the version stamps the servers report v0.0.0-master, which breaks clients
    # that parse the server version.
    local ldf="-s -w"
    local p
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldf+=" -X $p.gitVersion=$k8s_version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    done
    ldf+=" -X k8s.io/component-base/version.gitTreeState=clean"
    build_into "$dir" "$mod" "$ldf" ./cmd/etcd k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl \
      k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kube-scheduler >&2
  fi
  echo "SELKIE_CONTROLPLANE_BIN=$dir"
}

# single NAME VERSION COLD PACKAGE LDFLAGS: one binary from its wrapper module hack/NAME,
# cached in <cache>/NAME-VERSION-<key>; prints SELKIE_<NAME>_BIN=<dir>. The ldflags
# stamp the version each tool's version command prints.
single() {
  local name=$1 version=$2 cold=$3 pkg=$4 ldflags=$5 mod=$root/hack/$1 dir
  dir=$cache/$name-$version-$(key "$mod")
  if [ ! -x "$dir/$name" ]; then
    log "building $name $version (cold: ~$cold)"
    build_into "$dir" "$mod" "-s -w $ldflags" "$pkg" >&2
  fi
  echo "SELKIE_${name^^}_BIN=$dir"
}

dex() { single dex "$dex_version" "2 min" github.com/dexidp/dex/cmd/dex "-X main.version=$dex_version"; }
ytt() { single ytt "$ytt_version" "10 s" carvel.dev/ytt/cmd/ytt "-X carvel.dev/ytt/pkg/version.Version=${ytt_version#v}"; }
helm() { single helm "$helm_version" "2 min" helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=$helm_version"; }

# node: everything a node runs besides kubelet and kube-proxy, in one directory (containerd
# finds its shim, and the shim finds runc, on PATH). runc needs cgo and libseccomp's headers
# (Debian libseccomp-dev, installed by hack/install-deps.sh); the rest is static.
node() {
  local dir key_all=
  local m
  for m in containerd runc crictl; do key_all+=$(key "$root/hack/$m"); done
  dir=$cache/node-$containerd_version-$(echo "$key_all" | sha256sum | cut -c1-16)
  if [ ! -x "$dir/containerd" ] || [ ! -x "$dir/containerd-shim-runc-v2" ] || [ ! -x "$dir/ctr" ] ||
    [ ! -x "$dir/runc" ] || [ ! -x "$dir/crictl" ]; then
    log "building containerd $containerd_version, runc $runc_version, crictl $crictl_version (cold: ~4 min)"
    local tmp="$dir.parts.$$"
    rm -rf "$tmp"
    TAGS=no_btrfs,no_devmapper,no_zfs build_into "$tmp/containerd" "$root/hack/containerd" \
      "-s -w -X github.com/containerd/containerd/v2/version.Version=$containerd_version" \
      github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
      github.com/containerd/containerd/v2/cmd/ctr >&2
    CGO=1 TAGS=seccomp build_into "$tmp/runc" "$root/hack/runc" "-s -w -X main.version=${runc_version#v}" \
      github.com/opencontainers/runc >&2
    build_into "$tmp/crictl" "$root/hack/crictl" "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$crictl_version" \
      sigs.k8s.io/cri-tools/cmd/crictl >&2
    mkdir -p "$tmp/all"
    mv "$tmp"/containerd/* "$tmp"/runc/* "$tmp"/crictl/* "$tmp/all/"
    rm -rf "$dir"; mv "$tmp/all" "$dir"; rm -rf "$tmp"
  fi
  echo "SELKIE_NODE_BIN=$dir"
}

# Each argument names one group; several may be given (e.g. "ytt helm").
[ $# -gt 0 ] || set -- all
for what in "$@"; do
  case "$what" in
    controlplane) controlplane ;;
    dex) dex ;;
    ytt) ytt ;;
    helm) helm ;;
    deploy) ytt; helm ;;
    node) node ;;
    all) controlplane; dex; ytt; helm; node ;;
    *) echo "usage: $0 [all|controlplane|dex|ytt|helm|deploy|node]..." >&2; exit 2 ;;
  esac
done
