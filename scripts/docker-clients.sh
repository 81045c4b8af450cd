#!/usr/bin/env bash
# The API tests drive cnmd with real docker clients: the newer one the machine has on its PATH,
# and Debian's docker.io 20.10 client, which this script fetches. The package is downloaded,
# never installed (installing it would bring dockerd and containerd and start their services):
# only its /usr/bin/docker is extracted, into .cache/docker-20.10/docker. Idempotent; prints the
# binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/docker-20.10
bin=$dest/docker
# Test files may run this at once: one fetches, the others wait and find the binary.
mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q '^Docker version 20\.10\.'; then
  echo "$PWD/$bin"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
download() { (cd "$tmp" && apt-get download -o APT::Sandbox::User=root -qq docker.io >/dev/null); }
# An old or missing package list: refresh it once and retry.
download 2>/dev/null || { apt-get update -qq && download; }
deb=$(ls "$tmp"/docker.io_*.deb)
version=$(dpkg-deb -f "$deb" Version)
case "$version" in
  20.10.*) ;;
  *) echo "docker-clients: Debian's docker.io is $version here, not 20.10: the tests want the 20.10 client" >&2; exit 1 ;;
esac
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/bin/docker
install -m 0755 "$tmp/usr/bin/docker" "$bin.new"
mv -f "$bin.new" "$bin"
echo "$PWD/$bin"
