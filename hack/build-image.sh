#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0

# build-image.sh builds the Selkie image (Dockerfile at the repository root) with
# docker, or podman when docker has no daemon. IMAGE sets the tag (default selkie:dev),
# VERSION the version stamped into the binaries (default: git describe, as the
# Makefile), GOPROXY is passed through. Without a running container builder it says
# so and exits 0, so it can run on machines without one. `make image-docker` runs it;
# `make image` builds the same image without a daemon (test/env/cmd/selkie-image).
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

IMAGE="${IMAGE:-selkie:dev}"
VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"

builder=""
for candidate in docker podman; do
  if command -v "${candidate}" >/dev/null 2>&1 && "${candidate}" info >/dev/null 2>&1; then
    builder="${candidate}"
    break
  fi
done
if [[ -z "${builder}" ]]; then
  echo "build-image: no container builder running; skipping image build" >&2
  exit 0
fi

args=(build --tag "${IMAGE}" --build-arg "VERSION=${VERSION}")
if [[ -n "${GOPROXY:-}" ]]; then
  args+=(--build-arg "GOPROXY=${GOPROXY}")
fi
echo "build-image: ${builder} ${args[*]} ." >&2
"${builder}" "${args[@]}" .
