#!/usr/bin/env bash
# The runtime tests run real containers without a registry: a root filesystem made from Debian's
# busybox-static (downloaded and extracted, never installed) in .cache/busybox-image/rootfs, and
# the same as a tar (bb-rootfs.tar) for `podman import`. Idempotent; prints the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deb-cache.sh
dest=.cache/busybox-image
lock_cache "$dest"
if [ -x "$dest/rootfs/bin/busybox" ] && [ -s "$dest/bb-rootfs.tar" ]; then
  echo "$PWD/$dest"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$(fetch_deb busybox-static "$tmp")" "$tmp/pkg"
root=$tmp/rootfs
mkdir -p "$root"/{bin,etc,proc,sys,dev,tmp,root}
cp "$tmp/pkg/bin/busybox" "$root/bin/"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
touch "$root/etc/resolv.conf" "$root/etc/hosts" "$root/etc/hostname"
tar -C "$root" -cf "$tmp/bb-rootfs.tar" .
rm -rf "$dest/rootfs"
mv "$root" "$dest/rootfs"
mv "$tmp/bb-rootfs.tar" "$dest/bb-rootfs.tar"
echo "$PWD/$dest"
