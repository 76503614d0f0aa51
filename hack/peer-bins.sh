#!/usr/bin/env bash
# peer-bins.sh builds the local environment's third-party binaries from the Go module
# proxy into a per-user cache and prints where they are, one KEY=dir line each:
#
#   SELKIE_CONTROLPLANE_BIN  etcd, kube-apiserver, kube-controller-manager, kubectl (v1.37.2)
#   SELKIE_DEX_BIN           dex (v2.45.1)
#   SELKIE_YTT_BIN           ytt (v0.52.0), which renders deploy/carvel into deploy/manifests
#   SELKIE_HELM_BIN          helm (v3.22.0), which renders deploy/helm/selkie in the tests
#
# Each directory is keyed by a hash of its wrapper module (go.mod, go.sum, sources) and the
# Go version, so a cached build is reused until the pins change. Cold build on an idle
# 2-core machine: ~8 min for the control plane, ~2 min for Dex, ~2 min for Helm, 5 s for
# ytt; a cache hit costs nothing.
# Build logs go to stderr; stdout carries only the KEY=dir lines.
set -o errexit -o nounset -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${SELKIE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/selkie}/bin
k8s_version=v1.37.2
dex_version=v2.45.1
ytt_version=v0.52.0
helm_version=v3.22.0
gover=$(go env GOVERSION)

log() { echo "peer-bins: $*" >&2; }

# key DIR: a short hash of a wrapper module's files and the Go version.
key() {
  (cd "$1" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | sort -z |
    xargs -0 cat; echo "$gover") | sha256sum | cut -c1-16
}

# build_into DIR MODULE_DIR LDFLAGS PACKAGES...: one `go build` into a temp dir renamed into
# place when it succeeds, so an interrupted build never leaves a half-filled cache entry.
build_into() {
  local dir=$1 mod=$2 ldflags=$3; shift 3
  local tmp="$dir.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  local start=$SECONDS
  if ! (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/" "$@"); then
    rm -rf "$tmp"; return 1
  fi
  rm -rf "$dir"; mv "$tmp" "$dir"
  log "built $(ls "$dir" | tr '\n' ' ')in $((SECONDS - start)) s into $dir"
}

controlplane() {
  local mod=$root/hack/controlplane dir
  dir=$cache/kubernetes-$k8s_version-$(key "$mod")
  if [ ! -x "$dir/kubectl" ] || [ ! -x "$dir/kube-apiserver" ] || [ ! -x "$dir/kube-controller-manager" ] || [ ! -x "$dir/etcd" ]; then
    log "building etcd, kube-apiserver, kube-controller-manager, kubectl $k8s_version (cold: ~8 min, ~3 GB RAM)"
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
      k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl >&2
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

# Each argument names one group; several may be given (e.g. "ytt helm").
[ $# -gt 0 ] || set -- all
for what in "$@"; do
  case "$what" in
    controlplane) controlplane ;;
    dex) dex ;;
    ytt) ytt ;;
    helm) helm ;;
    deploy) ytt; helm ;;
    all) controlplane; dex; ytt; helm ;;
    *) echo "usage: $0 [all|controlplane|dex|ytt|helm|deploy]..." >&2; exit 2 ;;
  esac
done
