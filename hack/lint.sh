#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0

# lint.sh is `make lint`: it builds golangci-lint at the version pinned in
# hack/tools/lint/go.mod (cached in the Go build cache, so only the first run is slow)
# and runs it over the module with .golangci.yaml. Arguments go to `golangci-lint run`.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin="$(go env GOPATH)/bin/selkie-golangci-lint-$(go list -modfile=hack/tools/lint/go.mod -m -f '{{.Version}}' github.com/golangci/golangci-lint/v2)"
if [ ! -x "${bin}" ]; then
  echo "lint: building golangci-lint (first run only)" >&2
  mkdir -p "$(dirname "${bin}")"
  go build -modfile=hack/tools/lint/go.mod -o "${bin}" github.com/golangci/golangci-lint/v2/cmd/golangci-lint
fi
exec "${bin}" run "$@" ./...
