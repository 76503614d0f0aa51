#!/usr/bin/env bash
# test-integration.sh runs test/integration against the real local environment: it builds
# (or finds cached) kube-apiserver, etcd, kube-controller-manager, kubectl and Dex, then
# runs the tests, whose TestMain starts the environment and stops it by PID at the end.
# With SELKIE_ENV_FILE set (see `make env`), the tests use that running environment.
#
# The tier runs as two concurrent `go test` processes of one test binary: the tests that
# bring their own environment (OWN_ENV_TESTS, started with SELKIE_SHARED_ENV=off so no
# shared environment is started for them) beside every other test. Most of the tier waits
# on peers rather than on the CPU, so this halves its wall time. With -run in GOTESTFLAGS
# (or SELKIE_INTEGRATION_SPLIT=0) it is one process, as selected.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/install-deps.sh # Debian packages: installs what is missing as root, else names the command

# Export SELKIE_CONTROLPLANE_BIN, SELKIE_DEX_BIN and SELKIE_NODE_BIN; building takes minutes only when cold.
eval "$(hack/peer-bins.sh all | sed 's/^/export /')"

gotest=(go test -tags integration -count=1 -timeout "${SELKIE_INTEGRATION_TIMEOUT:-30m}")
# Tests outside test/integration that need a peer or a tool (Helm, slapd, the Go
# compiler) carry the integration tag too, so that the unit tier needs none of them.
TOOL_TESTS=(./deploy/helm ./test/env ./test/env/cmd/selkie-pause ./hack/checkstatic)
# shellcheck disable=SC2206 # GOTESTFLAGS is a list of flags, split on spaces on purpose
flags=(${GOTESTFLAGS:-})
if [[ "${SELKIE_INTEGRATION_SPLIT:-1}" == 0 || " ${GOTESTFLAGS:-} " == *" -run"* ]]; then
  exec "${gotest[@]}" "${flags[@]}" ./test/integration/... "${TOOL_TESTS[@]}"
fi

# The longest test, with a whole environment of its own (its clusters, nodes, Dex and LDAP).
OWN_ENV_TESTS='^TestInClusterDemo$'

# Compile once, so the two processes below only link.
"${gotest[@]}" -c -o /dev/null ./test/integration

log="$(mktemp -t selkie-integration-own-env.XXXXXX)"
trap 'rm -f "${log}"' EXIT
SELKIE_SHARED_ENV=off "${gotest[@]}" "${flags[@]}" -run "${OWN_ENV_TESTS}" ./test/integration >"${log}" 2>&1 &
own=$!
status=0
"${gotest[@]}" "${flags[@]}" -skip "${OWN_ENV_TESTS}" ./test/integration/... "${TOOL_TESTS[@]}" || status=$?
own_status=0
wait "${own}" || own_status=$?
echo "--- tests with their own environment (${OWN_ENV_TESTS}):"
cat "${log}"
if ((status != 0 || own_status != 0)); then
  exit 1
fi
