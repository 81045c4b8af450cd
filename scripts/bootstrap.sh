#!/usr/bin/env bash
# One command from a fresh clone (Debian 12, root, Node 20): installs whatever is missing
# (Debian packages, npm dependencies, the native addon and the TypeScript build), then
#   scripts/bootstrap.sh start [cnmd flags...]   starts the daemon with its defaults
#   scripts/bootstrap.sh test  [unit|integration] runs the test suite
#   scripts/bootstrap.sh install                  only installs
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:-start}
[ $# -gt 0 ] && shift

if [ "$(id -u)" -ne 0 ]; then
  echo "cnm needs root (network namespaces, netlink, nftables): run this as root" >&2
  exit 1
fi

# What the daemon, its tests and its benchmarks use from Debian. (docker.io is not installed, its
# services would start: scripts/docker-engine.sh downloads and extracts it for the Docker tests.)
packages=(nftables libnftables-dev iproute2 util-linux procps iputils-ping dnsutils
          dnsperf etcd-server unbound dnsmasq-base aardvark-dns busybox python3 make g++
          podman netavark containerd runc containernetworking-plugins iptables)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Package scripts must not start unbound/etcd services on the host: cnm starts its own copies.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.cnm
  chmod +x /usr/sbin/policy-rc.d.cnm
  had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
  [ $had_policy -eq 1 ] || cp /usr/sbin/policy-rc.d.cnm /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ $had_policy -eq 1 ] || rm -f /usr/sbin/policy-rc.d
  rm -f /usr/sbin/policy-rc.d.cnm
fi

# npm dependencies (better-sqlite3 and our addon compile against /usr/include/node, see .npmrc).
stamp=node_modules/.cnm-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi
npm run build --silent
# The docker clients the API tests drive cnmd with (Debian's 20.10 client, extracted, no daemon).
[ "$action" = start ] || scripts/docker-clients.sh >/dev/null

case "$action" in
  install) ;;
  start) exec ./bin/cnmd "$@" ;;
  test) exec scripts/test.sh "$@" ;;
  *) echo "usage: scripts/bootstrap.sh start|test|install" >&2; exit 2 ;;
esac
