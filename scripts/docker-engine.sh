#!/usr/bin/env bash
# The Docker tests run Debian 12's dockerd 20.10 and docker CLI, downloaded and extracted (never
# installed: installing starts services) into .cache/docker-engine. Idempotent; prints the
# directory holding usr/bin/docker and usr/sbin/dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deb-cache.sh
dest=.cache/docker-engine
lock_cache "$dest"
if [ -x "$dest/usr/sbin/dockerd" ] && [ -x "$dest/usr/bin/docker" ]; then
  echo "$PWD/$dest"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
deb=$(fetch_deb docker.io "$tmp")
version=$(dpkg-deb -f "$deb" Version)
case "$version" in
  20.10.*) ;;
  *) echo "docker-engine: Debian's docker.io is $version here, not 20.10: the tests want dockerd and the client of 20.10" >&2; exit 1 ;;
esac
dpkg-deb -x "$deb" "$tmp/pkg"
rm -rf "$dest/usr"
mv "$tmp/pkg/usr" "$dest/usr"
echo "$PWD/$dest"
