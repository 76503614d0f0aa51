#!/usr/bin/env bash
# demo.sh is `make demo`: it installs missing Debian packages, finds (or builds, minutes
# when cold) the peers, then runs test/env/cmd/selkie-demo, which builds the Selkie image,
# starts the local environment with a node per cluster, installs Selkie into it as pods
# (Helm for the supervisor, the Carvel templates for the concierge), logs kubectl in
# through Selkie and stops everything again.
# DEMO_KEEP=1 keeps it running until Ctrl-C; DEMO_DIR=<dir> keeps its files there.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/install-deps.sh # Debian packages: installs what is missing as root, else names the command

echo "==> Find or build the peers (control plane, node runtime, Dex, ytt, Helm)"
eval "$(hack/peer-bins.sh all | sed 's/^/export /')"
echo "    ${SELKIE_CONTROLPLANE_BIN}"
echo "    ${SELKIE_DEX_BIN}"
mkdir -p bin
go build -o bin/selkie-demo ./test/env/cmd/selkie-demo
exec bin/selkie-demo
