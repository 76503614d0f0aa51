#!/usr/bin/env bash
# bench.sh runs the Go benchmarks: the unit-tier ones (pure code), then the integration
# ones against the real local environment (started and stopped by the test binary).
# Figures are printed, never asserted.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
go test -run '^$' -bench . -benchmem ./...
eval "$(hack/peer-bins.sh all | sed 's/^/export /')"
go test -tags integration -run '^$' -bench . -benchmem -timeout 30m ./test/integration/...
