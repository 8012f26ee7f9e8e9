#!/usr/bin/env bash
# npm run test:asan: the addon built with AddressSanitizer + UBSan, and the
# binding tests run against it on a real micro cluster.
#
# - The sanitized addon is built from a copy of native/ and binding.gyp in its
#   own directory ($CEPH_RBD_ASAN_DIR, default /tmp/ceph-rbd-asan-$UID), so the
#   normal build/ of the work tree is never touched.
# - node is not instrumented, so the ASan runtime (gcc's libasan) is preloaded
#   into it (LD_PRELOAD) and the tests load the sanitized addon through
#   node-gyp-build's CEPH_RBD_PREBUILD override.
# - The cluster is started before anything is preloaded, and the ceph CLI
#   tools the tests run (rbd, rados, ceph) get the preload removed by small
#   shims: only node and the addon run under the sanitizers.
# - Every report goes to a log file per process (log_path); the run fails
#   when any report was written, even if the test that caused it passed.
#
# Environment: CEPH_CONF (use that cluster instead of starting one),
# ASAN_DETECT_LEAKS=1 (leak checking; off by default: node and librados keep
# process-lifetime allocations that LeakSanitizer reports), ASAN_TESTS (test
# files/folders to run instead of the default list).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
say() { printf 'sanitize: %s\n' "$*" >&2; }
t0=$SECONDS

bash scripts/bootstrap.sh

work=${CEPH_RBD_ASAN_DIR:-/tmp/ceph-rbd-asan-$(id -u)}
mkdir -p "$work"
rm -rf "$work/native"
# Timestamps kept: the build below runs again only when a source changed.
cp -rp native "$work/native"
cp -p binding.gyp package.json "$work/"
ln -sfn "$here/node_modules" "$work/node_modules"

addon=$work/build/Release/ceph_rbd.node
if [ ! -f "$addon" ] || [ -n "$(find "$work/native" "$work/binding.gyp" -newer "$addon" -print -quit)" ]; then
  say "building the addon with -fsanitize=address,undefined in $work"
  # npx passes npm's configuration (e.g. nodedir) on to node-gyp, as bootstrap.sh's build gets it.
  (cd "$work" && CEPH_RBD_SANITIZE=1 npx --no-install node-gyp rebuild -j 2 >"$work/build.log" 2>&1) || {
    tail -n 40 "$work/build.log" >&2
    say "the sanitized build failed (log: $work/build.log)"
    exit 1
  }
fi
# The build must really be instrumented (binding.gyp reads CEPH_RBD_SANITIZE).
# (nm's output is read whole: grep -q under pipefail would fail on nm's SIGPIPE.)
undefined_syms=$(nm -D --undefined-only "$addon")
if [[ $undefined_syms != *__asan_report* || $undefined_syms != *__ubsan_handle* ]]; then
  say "$addon is not instrumented (binding.gyp ignored CEPH_RBD_SANITIZE?)"
  exit 1
fi
say "sanitized addon ready ($((SECONDS - t0)) s)"

libasan=$(realpath "$(gcc -print-file-name=libasan.so)")
[ -f "$libasan" ] || { say "libasan not found (gcc -print-file-name=libasan.so)"; exit 1; }

cluster=
cleanup() {
  if [ -n "$cluster" ]; then bash scripts/micro-osd.sh stop "$cluster" --purge >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
if [ -z "${CEPH_CONF:-}" ]; then
  cluster=$(mktemp -d /tmp/ceph-rbd-asan-cluster.XXXXXX)
  say "starting a micro cluster in $cluster"
  eval "$(bash scripts/micro-osd.sh start "$cluster" --pool images --memstore-bytes $((2 * 1024 ** 3)))"
fi
export CEPH_CONF

# Shims: the ceph CLI tools run without the ASan runtime.
shims=$work/shims
mkdir -p "$shims"
for tool in rbd rados ceph; do
  real=$(command -v "$tool")
  printf '#!/bin/sh\nunset LD_PRELOAD\nexec %s "$@"\n' "$real" >"$shims/$tool"
  chmod +x "$shims/$tool"
done

reports=$work/reports
rm -rf "$reports"
mkdir -p "$reports"

default_tests=(
  dist/test/native
  dist/test/integration/cluster.test.js
  dist/test/integration/rados-objects.test.js
  dist/test/integration/image.test.js
  dist/test/integration/image-meta.test.js
  dist/test/integration/snapshots.test.js
  dist/test/integration/clone.test.js
  dist/test/integration/trash.test.js
  dist/test/integration/lifecycle.test.js
  dist/test/integration/glance-store.test.js
  dist/test/integration/reliability-short.test.js
  dist/test/integration/rados-admin.test.js
  dist/test/integration/rados-aio.test.js
  dist/test/integration/rados-lock.test.js
  dist/test/integration/rados-ops.test.js
  dist/test/integration/rados-snap.test.js
  dist/test/integration/rados-watch.test.js
  dist/test/integration/rbd-encryption-config.test.js
  dist/test/integration/rbd-image-ext.test.js
  dist/test/integration/rbd-namespace-group.test.js
  dist/test/integration/rbd-watch-migration.test.js
)
if [ -n "${ASAN_TESTS:-}" ]; then
  read -r -a tests <<<"$ASAN_TESTS"
else
  tests=()
  for t in "${default_tests[@]}"; do [ -e "$t" ] && tests+=("$t"); done
fi

# The tests must load the sanitized addon, not build/Release of the work tree.
LD_PRELOAD="$libasan" ASAN_OPTIONS=detect_leaks=0 CEPH_RBD_PREBUILD="$work" node -e '
  require("./dist/lib");
  const maps = require("fs").readFileSync("/proc/self/maps", "utf8");
  if (!maps.includes(process.argv[1])) { console.error("sanitize: the sanitized addon was not loaded"); process.exit(1); }
' "$addon"

say "running ${tests[*]} under ASan/UBSan"
t1=$SECONDS
status=0
env \
  LD_PRELOAD="$libasan" \
  ASAN_OPTIONS="detect_leaks=${ASAN_DETECT_LEAKS:-0}:halt_on_error=0:abort_on_error=0:log_path=$reports/asan:strict_string_checks=0:detect_odr_violation=0:allocator_may_return_null=1" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan" \
  CEPH_RBD_PREBUILD="$work" \
  CEPH_RBD_SANITIZED=1 \
  PATH="$shims:$PATH" \
  node dist/scripts/run-tests.js "${tests[@]}" || status=$?
elapsed=$((SECONDS - t1))

count=0
for f in "$reports"/*; do
  [ -s "$f" ] || continue
  count=$((count + 1))
  say "report in $f:"
  head -n 60 "$f" >&2
done
say "tests: exit $status in ${elapsed} s; sanitizer reports: $count (total $((SECONDS - t0)) s)"
if [ "$count" -gt 0 ]; then
  printf '\n0 passed, 1 failed\n'
  exit 1
fi
exit "$status"
