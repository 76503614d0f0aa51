#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0

# verify.sh fails when generated code, deploy/manifests or docs/reference are stale or
# hand-edited, when a binary is not static, when Go files are not gofmt-ed, when `go vet` complains, when `go mod tidy` would
# change the root module or a hack/tools one, or when golangci-lint (make lint) reports a problem. It never modifies the working tree: code generation
# runs in a scratch copy and is compared with the tree.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

# Everything update-codegen.sh writes.
GENERATED=(generated pkg/apis hack/api-violations.list)

failures=()
fail() {
  echo "verify: FAIL: $*" >&2
  failures+=("$1")
}
step() { echo "verify: $*" >&2; }

scratch="$(mktemp -d "${TMPDIR:-/tmp}/selkie-verify.XXXXXX")"
trap 'rm -rf "${scratch}"' EXIT

step "regenerating code in a scratch copy"
# Copy what code generation reads: both module files, the scripts and the types.
tar -cf - go.mod go.sum hack/update-codegen.sh hack/boilerplate.go.txt \
  hack/tools/go.mod hack/tools/go.sum "${GENERATED[@]}" | tar -C "${scratch}" -xf -
if ! "${scratch}/hack/update-codegen.sh" >"${scratch}/codegen.log" 2>&1; then
  cat "${scratch}/codegen.log" >&2
  fail "hack/update-codegen.sh failed"
else
  # Compare tree and scratch copy; list every differing or missing file.
  drift="$(cd "${scratch}" && for p in "${GENERATED[@]}"; do
    diff -rq "${ROOT}/${p}" "${p}" 2>&1 || true
  done | sed -e "s|^Files ${ROOT}/\(.*\) and .* differ\$|  changed: \1|" \
    -e "s|^Only in ${ROOT}/\(.*\): \(.*\)\$|  not produced by the generators: \1/\2|" \
    -e "s|^Only in \(.*\): \(.*\)\$|  missing: \1/\2|")"
  if [[ -n "${drift}" ]]; then
    echo "${drift}" >&2
    fail "generated code differs from what hack/update-codegen.sh produces (stale or hand-edited; run 'make generate')"
  fi
  if git rev-parse --git-dir >/dev/null 2>&1; then
    # For information only: the comparison above decides. On a clean clone this
    # is empty; while developing it lists the generated files not yet committed.
    dirty="$(git status --porcelain -- "${GENERATED[@]}")"
    if [[ -n "${dirty}" ]]; then
      step "note: uncommitted changes under generated paths (fine while developing):"
      echo "${dirty}" | sed 's/^/  /' >&2
    fi
  fi
fi

step "deploy/manifests and the kapp-controller packages rendered from deploy/carvel"
if ! "${ROOT}/hack/update-deploy.sh" --check; then
  fail "deploy/ differs from what deploy/carvel renders (run 'make generate')"
fi

step "reference docs (docs/reference)"
if ! "${ROOT}/hack/verify-docs.sh"; then
  fail "docs/reference differs from what hack/update-docs.sh writes (run 'make generate')"
fi

step "static binaries"
if ! "${ROOT}/hack/check-static.sh"; then
  fail "a binary is dynamically linked and would not start in the scratch image"
fi

step "gofmt"
mapfile -t gofiles < <(git ls-files --cached --others --exclude-standard -- '*.go' |
  grep -v -e '^generated/' -e '/zz_generated\.[a-z]*\.go$' || true)
unformatted=""
if ((${#gofiles[@]} > 0)); then
  unformatted="$(gofmt -l "${gofiles[@]}")"
fi
if [[ -n "${unformatted}" ]]; then
  echo "${unformatted}" | sed 's/^/  /' >&2
  fail "files are not gofmt-ed (run 'gofmt -w' on them)"
fi

step "go vet ./... (and the integration-tagged tests)"
if ! go vet ./... || ! go vet -tags integration ./...; then
  fail "go vet reported problems"
fi

for mod in . hack/tools hack/tools/lint; do
  step "go mod tidy (${mod})"
  if ! tidy="$(cd "${mod}" && go mod tidy -diff 2>&1)"; then
    echo "${tidy}" | sed 's/^/  /' >&2
    fail "go mod tidy would change ${mod}/go.mod or go.sum (run 'go mod tidy' in ${mod})"
  fi
done

step "golangci-lint (make lint, .golangci.yaml)"
if ! hack/lint.sh; then
  fail "golangci-lint reported problems (run make lint)"
fi

if ((${#failures[@]} > 0)); then
  echo "verify: ${#failures[@]} check(s) failed" >&2
  exit 1
fi
echo "verify: OK" >&2
