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
# 1x: each integration benchmark is one measurement of fixed length or sample count
# (whatever b.N is), so running it again would only cost time.
go test -tags integration -run '^$' -bench . -benchtime 1x -benchmem -timeout 40m ./test/integration/... ./test/env/image | tee -a "$out"
echo
echo "Performance (each figure beside its floor from this run):"
go run ./hack/benchtable <"$out"
