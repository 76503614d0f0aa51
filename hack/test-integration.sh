#!/usr/bin/env bash
# test-integration.sh runs test/integration against the real local environment: it builds
# (or finds cached) kube-apiserver, etcd, kube-controller-manager, kubectl and Dex, then
# runs the tests, whose TestMain starts the environment and stops it by PID at the end.
# With SELKIE_ENV_FILE set (see `make env`), the tests use that running environment.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/install-deps.sh # Debian packages: installs what is missing as root, else names the command

# Export SELKIE_CONTROLPLANE_BIN and SELKIE_DEX_BIN; building takes minutes only when cold.
eval "$(hack/peer-bins.sh all | sed 's/^/export /')"
exec go test -tags integration -count=1 -timeout "${SELKIE_INTEGRATION_TIMEOUT:-30m}" ${GOTESTFLAGS:-} ./test/integration/...
