# What scripts/bootstrap.sh has to do, decided from what is already there. Sourced by bootstrap.sh
# and by test/unit/bootstrap-state.test.ts (which runs these functions in a scratch directory,
# without root). Each function reads state and prints or returns; none installs anything.

# The package names of a list file: one a line, # comments and blank lines ignored.
package_list() {
  sed -e 's/#.*//' -e 's/[[:space:]]//g' "$1" | grep -v '^$' || true
}

# The packages among "$@" that dpkg does not report as installed, one a line (one dpkg-query
# for all of them: a loop of queries costs seconds on a second run).
missing_packages() {
  local installed pkg
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null | grep ' installed$' | cut -d' ' -f1 || true)
  for pkg in "$@"; do
    grep -qxF "$pkg" <<<"$installed" || echo "$pkg"
  done
}

# A digest of what the native addon is built from: its sources, binding.gyp and the Node.js
# it is built for (a new Node ABI needs a rebuild too).
native_digest() {
  { find src/native binding.gyp -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    node --version
  } | sha256sum | cut -d' ' -f1
}

NATIVE_STAMP=build/.cnm-native-digest
NATIVE_OUTPUTS=(build/Release/cnm_native.node build/Release/cnm-exec)

# Succeeds when the addon must be (re)built: an output is missing or its inputs changed.
native_stale() {
  local out
  for out in "${NATIVE_OUTPUTS[@]}"; do [ -e "$out" ] || return 0; done
  [ -f "$NATIVE_STAMP" ] && [ "$(cat "$NATIVE_STAMP")" = "$(native_digest)" ] && return 1
  return 0
}

native_built() {
  native_digest >"$NATIVE_STAMP"
}

# Succeeds when tsc must run: no build yet, or a source or the configuration is newer than it
# (tsc is incremental, but even finding nothing to do costs it seconds).
ts_stale() {
  [ -f dist/.tsbuildinfo ] || return 0
  [ -n "$(find src test bench -name '*.ts' -newer dist/.tsbuildinfo -print -quit)" ] && return 0
  [ tsconfig.json -nt dist/.tsbuildinfo ] || [ package-lock.json -nt dist/.tsbuildinfo ]
}

# Package scripts must not start services (unbound, etcd) on the host: cnm starts its own copies.
# hold_services puts a policy-rc.d that refuses every start into $1 (/usr/sbin) unless one is
# there already; release_services removes only the one it put. Call release_services from an
# EXIT trap, so a failed apt-get does not leave the machine's services blocked.
hold_services() {
  local dir=${1:-/usr/sbin}
  [ -e "$dir/policy-rc.d" ] && return 0
  printf '#!/bin/sh\n# cnm bootstrap: no service starts while it installs packages\nexit 101\n' >"$dir/policy-rc.d.cnm"
  chmod +x "$dir/policy-rc.d.cnm"
  mv "$dir/policy-rc.d.cnm" "$dir/policy-rc.d"
}

release_services() {
  local dir=${1:-/usr/sbin}
  grep -qs '^# cnm bootstrap:' "$dir/policy-rc.d" && rm -f "$dir/policy-rc.d"
  return 0
}

LOCK_STAMP=node_modules/.cnm-lock-stamp

# Succeeds when npm ci must run: no node_modules from this lock file yet.
npm_stale() {
  ! { [ -f "$LOCK_STAMP" ] && cmp -s package-lock.json "$LOCK_STAMP"; }
}

npm_installed() {
  cp package-lock.json "$LOCK_STAMP"
}

# Puts cnm, cnmd and cnm-dns on PATH: symlinks in $1 to this clone's bin/. A symlink already there is
# replaced (another clone's, an older one); a file that is not a symlink is left alone, with a
# warning, since it is not ours to remove.
link_commands() {
  local dir=$1 cmd
  mkdir -p "$dir"
  for cmd in cnm cnmd cnm-dns; do
    if [ -e "$dir/$cmd" ] && [ ! -L "$dir/$cmd" ]; then
      echo "bootstrap: $dir/$cmd exists and is not a symlink: left alone (run $PWD/bin/$cmd)" >&2
      continue
    fi
    ln -sfn "$PWD/bin/$cmd" "$dir/$cmd"
  done
}
