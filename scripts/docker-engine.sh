#!/usr/bin/env bash
# The Docker plugin tests run Debian 12's dockerd 20.10 and docker CLI, downloaded and extracted
# (never installed: installing starts services) into .cache/docker-engine. Idempotent; prints
# the directory holding usr/bin/docker and usr/sbin/dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/docker-engine
mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9
if [ -x "$dest/usr/sbin/dockerd" ] && [ -x "$dest/usr/bin/docker" ]; then
  echo "$PWD/$dest"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
download() { (cd "$tmp" && apt-get download -o APT::Sandbox::User=root -qq docker.io >/dev/null); }
download 2>/dev/null || { apt-get update -qq && download; }
dpkg-deb -x "$tmp"/docker.io_*.deb "$tmp/pkg"
rm -rf "$dest/usr"
mv "$tmp/pkg/usr" "$dest/usr"
echo "$PWD/$dest"
