#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0

# check-static.sh builds selkie-server (the image's one program: the supervisor, the
# concierge and the CLI) and selkie (the CLI alone, for workstations) as the image does
# (CGO_ENABLED=0, -trimpath, the Makefile's ldflags) into a scratch directory and fails
# if either is dynamically linked: the image's final stage has no libc and no loader. It
# prints each binary's size. It never modifies the working tree.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
LDFLAGS="-s -w -X github.com/selkie-dev/selkie/pkg/version.version=${VERSION}"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/selkie-check-static.XXXXXX")"
trap 'rm -rf "${scratch}"' EXIT

bins=()
for cmd in server:selkie-server cli:selkie; do
  out="${scratch}/${cmd#*:}"
  echo "check-static: building ${cmd#*:}" >&2
  CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "${LDFLAGS}" -o "${out}" "./cmd/${cmd%%:*}"
  bins+=("${out}")
done

if ! go run ./hack/checkstatic "${bins[@]}"; then
  echo "check-static: FAIL: a binary is dynamically linked; it would not start in the scratch image (build with CGO_ENABLED=0 and no cgo-only dependencies)" >&2
  exit 1
fi
echo "check-static: OK" >&2
