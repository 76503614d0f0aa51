#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0

# update-docs.sh regenerates the reference documentation derived from the code:
#   docs/reference/cli/   one page per command of selkie, selkie-supervisor, selkie-concierge
#   docs/reference/api.md every concierge and supervisor kind (from generated/crds and
#                         generated/openapi, so run it after hack/update-codegen.sh)
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

OUT="${1:-docs/reference}"
go run ./hack/gendocs -out "${OUT}" -crds generated/crds
echo "update-docs: wrote ${OUT}/cli and ${OUT}/api.md" >&2
