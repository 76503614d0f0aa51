#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0

# fuzz.sh runs every native Go fuzz target of the module, one after the other, for
# FUZZTIME each (default 10m), and prints each target's last progress line (execs).
# Without fuzzing, `go test ./...` already runs every target's seed corpus
# (testdata/fuzz/<Target>/ and the f.Add seeds). A crash stops the script; the fuzzer
# writes the input to testdata/fuzz/<Target>/, where it stays as a regression seed once
# the bug is fixed. FUZZ_MATCH limits the targets to those whose name matches.
# FUZZ_MINIMIZETIME (default 10s) bounds the minimization of each new input: with Go's
# default of 60s, a target that writes files (the CLI caches, about 3 ms per input)
# spends whole runs minimizing large inputs and hardly fuzzes.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

FUZZTIME="${FUZZTIME:-10m}"
FUZZ_MATCH="${FUZZ_MATCH:-.}"
mapfile -t targets < <(grep -rlE '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' --include='*_test.go' pkg cmd test 2>/dev/null |
  while read -r file; do
    for name in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
      echo "./$(dirname "$file") ${name}"
    done
  done | grep -E "${FUZZ_MATCH}" | sort)
echo "fuzz: ${#targets[@]} targets, ${FUZZTIME} each" >&2
for t in "${targets[@]}"; do
  pkg="${t% *}" name="${t#* }"
  log="$(mktemp)"
  echo "fuzz: ${name} (${pkg})" >&2
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "${FUZZTIME}" -fuzzminimizetime "${FUZZ_MINIMIZETIME:-10s}" -parallel "${FUZZ_PARALLEL:-2}" "${pkg}" >"${log}" 2>&1; then
    cat "${log}" >&2
    rm -f "${log}"
    exit 1
  fi
  grep -E 'elapsed:.*execs:' "${log}" | tail -1 | sed "s/^/fuzz: ${name}: /" >&2
  rm -f "${log}"
done
