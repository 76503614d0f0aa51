#!/usr/bin/env bash
# demo.sh is `make demo`: it finds (or builds, minutes when cold) the control plane and Dex,
# then runs test/env/cmd/selkie-demo, which builds the binaries, starts the local
# environment, installs deploy/manifests, runs the supervisor and concierge as their
# ServiceAccounts, logs kubectl in through Selkie and stops everything again.
# DEMO_KEEP=1 keeps it running until Ctrl-C; DEMO_DIR=<dir> keeps its files there.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/install-deps.sh # Debian packages: installs what is missing as root, else names the command

echo "==> Find or build the control plane (kube-apiserver, etcd, kube-controller-manager, kubectl) and Dex"
eval "$(hack/peer-bins.sh all | sed 's/^/export /')"
echo "    ${SELKIE_CONTROLPLANE_BIN}"
echo "    ${SELKIE_DEX_BIN}"
mkdir -p bin
go build -o bin/selkie-demo ./test/env/cmd/selkie-demo
exec bin/selkie-demo
