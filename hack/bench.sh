#!/usr/bin/env bash
# bench.sh runs the Go benchmarks: the unit-tier ones (pure code), then the integration
# ones against the real local environment (started and stopped by the test binary), then
# prints the performance table (hack/benchtable): each figure beside the floor measured
# in the same run, and its target. Figures are printed, never asserted.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=$(mktemp "${TMPDIR:-/tmp}/selkie-bench.XXXXXX")
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench . -benchmem ./... | tee "$out"
eval "$(hack/peer-bins.sh all | sed 's/^/export /')"
# 200x: the interleaved proxy benchmarks take 200 samples of each path; the others run
# one fixed-length measurement whatever b.N is.
go test -tags integration -run '^$' -bench . -benchtime 200x -benchmem -timeout 40m ./test/integration/... ./test/env/image | tee -a "$out"
echo
echo "Performance (each figure beside its floor from this run):"
go run ./hack/benchtable <"$out"
