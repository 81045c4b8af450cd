# Debian packages the tests use without installing them (installing docker.io would start its
# services): each is downloaded and extracted into a directory under .cache. Sourced by
# busybox-image.sh and docker-engine.sh.

# lock_cache DIR: makes DIR and holds its lock on fd 9 until the script exits, so that test files
# starting at once fetch a package once; the others wait, then find it there.
lock_cache() {
  mkdir -p "$1"
  exec 9>"$1/.lock"
  flock 9
}

# fetch_deb PACKAGE DIR: downloads PACKAGE's .deb into DIR and prints its path. An old or missing
# package list is refreshed once and the download tried again.
fetch_deb() {
  local download=(apt-get download -o APT::Sandbox::User=root -qq "$1")
  (cd "$2" && "${download[@]}" >/dev/null 2>&1) || { apt-get update -qq && (cd "$2" && "${download[@]}" >/dev/null); }
  ls "$2/$1"_*.deb
}
