#!/usr/bin/env bash
# One command from a fresh clone (Debian 12, root, Node 20): installs whatever is missing
# (Debian packages, npm dependencies, the native addon and the TypeScript build), puts cnm and
# cnmd on PATH (/usr/local/bin), then
#   scripts/bootstrap.sh start [cnmd flags...]   starts the daemon with its defaults
#   scripts/bootstrap.sh test  [unit|integration] runs the test suite
#   scripts/bootstrap.sh install                  only installs
# A second run does only what changed: packages already there are not asked for, npm ci runs
# when package-lock.json changed, the addon is rebuilt when src/native or binding.gyp changed,
# and tsc runs when a TypeScript file is newer than the last build.
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:-start}
[ $# -gt 0 ] && shift
case "$action" in
  install|start|test) ;;
  *) echo "usage: scripts/bootstrap.sh start|test|install" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  echo "cnm needs root (network namespaces, netlink, nftables): run this as root" >&2
  exit 1
fi
. scripts/lib/install-state.sh

# What the daemon, its tests, benches and README run from Debian (test/unit/bootstrap-packages
# keeps the list complete).
mapfile -t packages < <(package_list scripts/packages.txt)
mapfile -t missing < <(missing_packages "${packages[@]}")
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  trap release_services EXIT
  hold_services
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  release_services
  trap - EXIT
fi

# npm dependencies (better-sqlite3 and our addon compile against /usr/include/node, see .npmrc).
# npm ci also builds the addon (binding.gyp): record it so it is not built twice.
if npm_stale; then
  npm ci --no-audit --no-fund
  npm_installed
  [ -e build/Release/cnm_native.node ] && native_built
fi
if native_stale; then
  npx --no-install node-gyp rebuild --silent
  native_built
fi
ts_stale && npx --no-install tsc -p tsconfig.json
link_commands /usr/local/bin
# The docker clients the API tests drive cnmd with (Debian's 20.10 client, extracted, no daemon).
[ "$action" = start ] || scripts/docker-clients.sh >/dev/null

case "$action" in
  install) ;;
  start) exec ./bin/cnmd "$@" ;;
  test) exec scripts/test.sh "$@" ;;
esac
