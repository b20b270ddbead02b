#!/bin/sh
# Install what ipsecgw needs to build, run and test, from Debian 12's
# packages.  Idempotent: silent when everything is already there.
set -eu

PKGS="gcc clang libclang-rt-14-dev meson ninja-build pkg-config
      libdpdk-dev dpdk libyaml-dev
      python3 python3-scapy python3-pytest python3-cryptography
      iproute2 tcpdump ethtool iputils-ping"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
echo "setup: done"
