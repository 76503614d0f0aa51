#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0

# verify-docs.sh fails when docs/reference differs from what hack/update-docs.sh
# writes (a command, flag or API field changed without regenerating, or a generated
# page was edited by hand). It generates into a scratch directory and never modifies
# the working tree.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

REF="docs/reference"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/selkie-verify-docs.XXXXXX")"
trap 'rm -rf "${scratch}"' EXIT

if ! hack/update-docs.sh "${scratch}" 2>"${scratch}.log"; then
  cat "${scratch}.log" >&2
  rm -f "${scratch}.log"
  echo "verify-docs: FAIL: the docs generator failed" >&2
  exit 1
fi
rm -f "${scratch}.log"

drift="$(diff -rq "${REF}" "${scratch}" 2>&1 |
  sed -e "s|^Files ${REF}/\(.*\) and .* differ\$|  changed: ${REF}/\1|" \
    -e "s|^Only in ${REF}\(/*\)\(.*\): \(.*\)\$|  not produced by the generator: ${REF}\1\2/\3|" \
    -e "s|^Only in ${scratch}\(/*\)\(.*\): \(.*\)\$|  missing: ${REF}\1\2/\3|" \
    -e "s|^diff: ${REF}.*No such file or directory\$|  missing: ${REF}|" || true)"
if [[ -n "${drift}" ]]; then
  echo "${drift}" >&2
  echo "verify-docs: FAIL: ${REF} is stale or hand-edited; run 'hack/update-docs.sh' (or 'make generate') and commit the result" >&2
  exit 1
fi
echo "verify-docs: OK" >&2
