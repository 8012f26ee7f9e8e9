#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian/Ubuntu machine: the Ceph packages the
# addon links against and the tests run, the npm packages, and the build.
# Safe to run again: it only installs what is missing and rebuilds what changed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# Debian packages: the daemons for the local micro cluster, the CLI tools the
# tests compare against, the C headers/libraries of librados and librbd, and
# qemu-img with its rbd driver (image format checks and conversions), and
# rbd-mirror (scripts/mirror-pair.sh: a mirrored pair of micro clusters).
packages=(ceph-mon ceph-osd ceph-mgr ceph-common rbd-mirror librados-dev librbd-dev uuid-runtime python3 make g++ qemu-utils qemu-block-extra)
# Python bindings: only for the benchmark's Python peer; optional. The
# OpenStack clients and PostgreSQL: the `ceph-rbd serve` tests drive the
# service with the clients and run two services on one PostgreSQL.
optional=(python3-rados python3-rbd python3-cinderclient python3-glanceclient python3-openstackclient postgresql)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
missing_optional=()
for p in "${optional[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing_optional+=("$p")
done

if [ ${#missing[@]} -gt 0 ] || [ ${#missing_optional[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "missing packages: ${missing[*]} ${missing_optional[*]} (no apt-get here: install Ceph 16+ daemons, ceph-common and the librados/librbd headers yourself)"
    [ ${#missing[@]} -eq 0 ] || exit 1
  elif [ "$(id -u)" -ne 0 ]; then
    if [ ${#missing[@]} -gt 0 ]; then
      say "missing Debian packages: ${missing[*]}"
      say "run as root:  apt-get update && apt-get install -y --no-install-recommends ${missing[*]} ${missing_optional[*]}"
      exit 1
    fi
    say "optional packages missing (benchmark's Python peer and the serve tests need them): ${missing_optional[*]}"
  else
    say "installing: ${missing[*]} ${missing_optional[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ ${#missing_optional[@]} -gt 0 ]; then
      apt-get install -y -qq --no-install-recommends "${missing_optional[@]}" >/dev/null ||
        say "optional packages could not be installed: ${missing_optional[*]} (benchmark's Python peer and the serve tests need them)"
    fi
  fi
fi

# npm packages. `npm ci` runs the install script (node-gyp-build), which
# builds the addon when no prebuild matches; skip it when the lockfile and
# node_modules already agree.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --ignore-scripts
fi

# better-sqlite3 (the serve command's embedded database) has a native part
# that `npm ci --ignore-scripts` does not build: its own install script
# fetches a prebuilt binary or compiles it from source.
if [ ! -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ]; then
  say "building better-sqlite3"
  log="$(mktemp)"
  if ! npm rebuild better-sqlite3 >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    say "building better-sqlite3 failed (see above)"
    exit 1
  fi
  rm -f "$log"
fi

# The addon: rebuild when any native source is newer than the binary.
addon=build/Release/ceph_rbd.node
if [ ! -f "$addon" ] || [ -n "$(find native binding.gyp -newer "$addon" -print -quit)" ]; then
  say "building the native addon"
  log="$(mktemp)"
  if ! npx --no-install node-gyp rebuild -j 2 >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    say "the native build failed (see above)"
    exit 1
  fi
  rm -f "$log"
fi

# The TypeScript.
say "compiling TypeScript"
npm run --silent build:ts
