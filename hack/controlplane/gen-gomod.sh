#!/usr/bin/env bash
# gen-gomod.sh [K8S_VERSION] writes go.mod for the wrapper module that builds
# kube-apiserver, kube-controller-manager and kubectl (go.mod tools) and ./cmd/etcd,
# then runs go mod tidy and raises shared modules to the root module's versions (below).
# Run it when bumping Kubernetes or the root module's dependencies; commit the result.
#
# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
# ./staging/...; replace directives of a dependency are ignored, so every staging
# module is pinned here to its published v0.<minor>.<patch> tag.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
kv=${1:-v1.37.2}
sv=v0.${kv#v1.}
kmod=$(go mod download -json "k8s.io/kubernetes@$kv" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
  printf 'module github.com/selkie-dev/selkie/hack/controlplane\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n\n' "$kv"
  printf '// k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with\n'
  printf '// ./staging/...; replaces in a dependency are ignored, so pin them to the published tags.\nreplace (\n'
  sed -n '/^replace (/,/^)/p' "$kmod" | awk -v sv="$sv" '/=> \.\/staging\// {printf "\t%s => %s %s\n", $1, $1, sv}'
  printf ')\n\ntool (\n\tk8s.io/kubernetes/cmd/kube-apiserver\n\tk8s.io/kubernetes/cmd/kube-controller-manager\n\tk8s.io/kubernetes/cmd/kube-proxy\n\tk8s.io/kubernetes/cmd/kube-scheduler\n\tk8s.io/kubernetes/cmd/kubectl\n\tk8s.io/kubernetes/cmd/kubelet\n)\n'
} >go.mod
go mod tidy

# Share the build cache with the product: where both build lists hold a module and the
# root module's version is newer, take it. The packages both compile (client-go,
# apiserver, their golang.org/x dependencies...) then compile once, for the peers, and
# `make verify` and the tests find them built (same flags: CGO_ENABLED=0, -trimpath).
newer=$(join <(go list -m -f '{{.Path}} {{.Version}}' all | sort) \
  <(cd ../.. && go list -m -f '{{.Path}} {{.Version}}' all | sort) |
  while read -r m ours theirs; do
    if [ "$ours" != "$theirs" ] && [ "$(printf '%s\n%s\n' "$ours" "$theirs" | sort -V | tail -1)" = "$theirs" ]; then
      echo "$m@$theirs"
    fi
  done)
if [ -n "$newer" ]; then
  # shellcheck disable=SC2086 # one argument per module
  go get $newer
  go mod tidy
fi
