#!/usr/bin/env bash
# install-deps.sh installs the Debian packages the local environment needs, without prompts:
# slapd + ldap-utils (the LDAP upstream), chromium + fonts + libnss3-tools (browser logins),
# and for the nodes: containernetworking-plugins (the pods' bridge network), iptables
# (kube-proxy), iproute2 (namespaces, bridge, veth) and libseccomp-dev (runc is built with
# seccomp, which PodSecurity "restricted" needs), busybox-static (the shell and tar of the
# tests' toolbox image: kubectl exec, attach and cp need them in a pod). It installs only what is missing, so it
# is cheap on a machine that already has them. `make test` and `make demo` run it; it
# needs root for an install and otherwise prints the command to run.
set -o errexit -o nounset -o pipefail

pkgs=(slapd ldap-utils chromium fonts-liberation libnss3-tools openssl curl ca-certificates
  containernetworking-plugins iptables iproute2 libseccomp-dev busybox-static)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-deps: run as root: sudo $0" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}" >&2
apt-get update -q >&2
# Keep slapd from creating its own dc=nodomain database and /etc/ldap/slapd.d: the
# environment runs its own slapd with a generated config on high loopback ports.
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
