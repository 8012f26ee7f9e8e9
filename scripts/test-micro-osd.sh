#!/usr/bin/env bash
# Self-check for micro-osd.sh: two clusters started side by side stay
# independent, stop ends exactly their daemons (never a bystander, even one
# whose pid is planted in a pidfile), and the --osds 3 and --cephx variants
# work. Usage: scripts/test-micro-osd.sh [--quick]  (--quick: skip variants)
# With CEPH_TEST_CLUSTER=container every cluster runs in a container (the
# same checks, plus: the container runs while the cluster does and is
# removed by stop).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MO=$HERE/micro-osd.sh
QUICK=0
[[ ${1-} == --quick ]] && QUICK=1

PASS=0
FAIL=0
ok() {
  PASS=$((PASS + 1))
  echo "ok   - $*"
}
nok() {
  FAIL=$((FAIL + 1))
  echo "FAIL - $*"
}
check() { # check DESCRIPTION CMD...: output shown only when CMD fails
  local d=$1 out=$WORK/check.out
  shift
  if "$@" >"$out" 2>&1; then
    ok "$d"
  else
    nok "$d"
    sed 's/^/#   /' "$out"
  fi
}
not() { ! "$@"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/test-micro-osd.XXXXXX")
BYSTANDER=
declare -a CLUSTERS=()

cleanup() {
  local d
  for d in "${CLUSTERS[@]+"${CLUSTERS[@]}"}"; do "$MO" stop "$d" >/dev/null 2>&1 || true; done
  # Only the one process this script started itself.
  if [[ -n $BYSTANDER ]]; then kill "$BYSTANDER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The ceph CLI can hit Pacific's 'wrong fsid' race (see micro-osd.sh): retry.
ceph_r() { # ceph_r CONF ARGS...
  local conf=$1 _
  shift
  for _ in 1 2 3 4 5; do
    timeout 60 ceph --conf "$conf" --connect-timeout 30 "$@" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}
rbd_in() { # rbd_in CONF ARGS...
  local conf=$1
  shift
  CEPH_CONF=$conf timeout 60 rbd "$@"
}

# alive PID: running (a zombie counts as gone: PID 1 here may never reap).
alive() { [[ -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

pids_of() { # pids_of DIR: pids recorded in DIR/run/*.pid
  local f
  for f in "$1"/run/*.pid; do if [[ -s $f ]]; then cat "$f"; fi; done
}

start_cluster() { # start_cluster DIR ARGS...: stdout (eval-able) to DIR.env
  local d=$1
  shift
  CLUSTERS+=("$d")
  "$MO" start "$d" "$@" >"$d.env" 2>"$d.err"
}

only_exports() { not grep -qv '^export [A-Z_]*=' "$1"; }

healthy() { # healthy CONF: HEALTH_OK/WARN and every PG active+clean
  local js
  js=$(ceph_r "$1" status -f json) || return 1
  /usr/bin/python3 -c '
import json, sys
s = json.loads(sys.argv[1])
pg = s["pgmap"]
clean = sum(x["count"] for x in pg["pgs_by_state"] if x["state_name"] == "active+clean")
ok = s["health"]["status"] in ("HEALTH_OK", "HEALTH_WARN") and 0 < pg["num_pgs"] == clean
sys.exit(0 if ok else "not healthy: %s %s" % (s["health"]["status"], pg["pgs_by_state"]))
' "$js"
}

roundtrip() { # roundtrip CONF IMAGE: import 8 MiB of random data, export, compare
  head -c 8388608 /dev/urandom >"$WORK/$2.in"
  rbd_in "$1" import --no-progress "$WORK/$2.in" "$2" >/dev/null 2>&1 &&
    rbd_in "$1" export --no-progress "$2" "$WORK/$2.out" >/dev/null 2>&1 &&
    cmp -s "$WORK/$2.in" "$WORK/$2.out"
}

readback() { # readback CONF IMAGE: export IMAGE again and compare
  rm -f "$WORK/$2.out"
  rbd_in "$1" export --no-progress "$2" "$WORK/$2.out" >/dev/null 2>&1 &&
    cmp -s "$WORK/$2.in" "$WORK/$2.out"
}

started_with_conf() { # started_with_conf DIR: count daemons whose argv has --conf DIR/ceph.conf
  local p n=0
  for p in $(pids_of "$1"); do
    if tr '\0' ' ' <"/proc/$p/cmdline" | grep -q "^ceph-[a-z]* --conf $1/ceph.conf "; then n=$((n + 1)); fi
  done
  echo "$n"
}

CONTAINER=0
[[ ${CEPH_TEST_CLUSTER:-} == container ]] && CONTAINER=1
container_of() { cat "$1/container.id" 2>/dev/null; }
container_runs() { [[ $(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }
container_removed() { not docker inspect "$1" >/dev/null 2>&1; }

three_up() { [[ $1 == "3 osds: 3 up"*"3 in"* ]]; }
no_pidfiles() { not compgen -G "$1/run/*.pid" >/dev/null; }

wait_pgs_clean() { # wait_pgs_clean CONF NPGS
  local s='' _
  for _ in $(seq 60); do
    s=$(ceph_r "$1" pg stat) || s=
    [[ $s == "$2 pgs: $2 active+clean"* ]] && return 0
    sleep 0.5
  done
  echo "# $s"
  return 1
}

# --- two clusters side by side -------------------------------------------------
A=$WORK/a
B=$WORK/b
sleep 300 &
BYSTANDER=$!

t0=$SECONDS
rc_a=0
rc_b=0
# Started at the same moment: port picking and OSD port binding must not clash.
start_cluster "$A" &
pa=$!
start_cluster "$B" --pool extra &
pb=$!
CLUSTERS+=("$A" "$B") # the subshells' additions do not reach us
wait "$pa" || rc_a=$?
wait "$pb" || rc_b=$?
echo "# two clusters started in parallel in $((SECONDS - t0)) s"
check "cluster A started" test "$rc_a" -eq 0
check "cluster B started" test "$rc_b" -eq 0
if ((rc_a != 0 || rc_b != 0)); then
  tail -n 40 "$A.err" "$B.err" || true
  echo "$PASS passed, $FAIL failed"
  exit 1
fi

check "start prints only eval-able export lines" only_exports "$A.env"
CONF_A=$(sed -n 's/^export CEPH_CONF=//p' "$A.env")
CONF_B=$(sed -n 's/^export CEPH_CONF=//p' "$B.env")
check "CEPH_CONF of A is $A/ceph.conf" test "$CONF_A" = "$A/ceph.conf"

port_a=$(sed -n 's/^mon host = .*:\([0-9]*\)$/\1/p' "$CONF_A")
port_b=$(sed -n 's/^mon host = .*:\([0-9]*\)$/\1/p' "$CONF_B")
check "mon ports differ ($port_a, $port_b)" test "$port_a" != "$port_b"

fsid_a=$(ceph_r "$CONF_A" fsid) || fsid_a=
fsid_b=$(ceph_r "$CONF_B" fsid) || fsid_b=
check "fsids differ ($fsid_a, $fsid_b)" test -n "$fsid_a" -a "$fsid_a" != "$fsid_b"
check "A's fsid is the one in its conf" test "$(sed -n 's/^fsid = //p' "$CONF_A")" = "$fsid_a"
check "A healthy, all PGs active+clean" healthy "$CONF_A"
check "B healthy, all PGs active+clean" healthy "$CONF_B"
pools_a=$(ceph_r "$CONF_A" osd pool ls | tr '\n' ' ') || pools_a=
pools_b=$(ceph_r "$CONF_B" osd pool ls | tr '\n' ' ') || pools_b=
check "A has pool rbd only ($pools_a)" test "$pools_a" = "rbd "
check "B has pools rbd and extra ($pools_b)" test "$pools_b" = "rbd extra "

check "rbd create in A" rbd_in "$CONF_A" create --size 16M only-in-a
check "rbd create in B" rbd_in "$CONF_B" create --size 16M only-in-b
ls_a=$(rbd_in "$CONF_A" ls | tr '\n' ' ') || ls_a=
ls_b=$(rbd_in "$CONF_B" ls | tr '\n' ' ') || ls_b=
check "rbd ls in A shows only A's image ($ls_a)" test "$ls_a" = "only-in-a "
check "rbd ls in B shows only B's image ($ls_b)" test "$ls_b" = "only-in-b "
check "8 MiB import/export roundtrip in A" roundtrip "$CONF_A" blob

check "status A exits 0 while running" "$MO" status "$A"
check "start on a running cluster is refused" not "$MO" start "$A"
mkdir -p "$WORK/foreign"
touch "$WORK/foreign/x"
check "start refuses a non-empty foreign dir" not "$MO" start "$WORK/foreign"
check "  ... and leaves it alone" test -e "$WORK/foreign/x"
check "stop --purge refuses a foreign dir" not "$MO" stop "$WORK/foreign" --purge
check "A: 3 daemons with --conf A/ceph.conf in argv" test "$(started_with_conf "$A")" -eq 3
check "B: 3 daemons with --conf B/ceph.conf in argv" test "$(started_with_conf "$B")" -eq 3

# A recycled pid: plant the bystander's pid in A's run dir; stop must skip it.
if ((CONTAINER)); then
  cid_a=$(container_of "$A")
  cid_b=$(container_of "$B")
  check "A runs in container ${cid_a:0:12}" container_runs "$cid_a"
  check "B runs in another container (${cid_b:0:12})" test -n "$cid_b" -a "$cid_b" != "$cid_a"
fi
pids_a=$(pids_of "$A" | tr '\n' ' ')
pids_b=$(pids_of "$B" | tr '\n' ' ')
echo "$BYSTANDER" >"$A/run/osd.99.pid"

t0=$EPOCHREALTIME
check "stop A" "$MO" stop "$A"
echo "# stop A took $(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') s"
for p in $pids_a; do check "A's pid $p is gone" not alive "$p"; done
for p in $pids_b; do check "B's pid $p still alive after stopping A" alive "$p"; done
check "B still serves after stopping A" rbd_in "$CONF_B" ls
if ((CONTAINER)); then
  check "A's container is removed" container_removed "$cid_a"
  check "B's container still runs" container_runs "$cid_b"
fi
check "stop B" "$MO" stop "$B"
((!CONTAINER)) || check "B's container is removed" container_removed "$cid_b"
for p in $pids_b; do check "B's pid $p is gone" not alive "$p"; done
check "bystander (its pid planted in A's pidfile) still alive" alive "$BYSTANDER"
check "no pidfiles left in A" no_pidfiles "$A"
check "no pidfiles left in B" no_pidfiles "$B"
check "status A exits 1 when stopped" not "$MO" status "$A"
check "stop is idempotent" "$MO" stop "$A"
check "stop on a missing dir exits 0" "$MO" stop "$WORK/never-created"
check "start again in a stopped dir" start_cluster "$A"
check "  ... and it serves" rbd_in "$A/ceph.conf" create --size 1M again
check "stop --purge" "$MO" stop "$A" --purge
check "  ... removed DIR" test ! -e "$A"

# --- variants --------------------------------------------------------------------
if ((!QUICK)); then
  C=$WORK/c
  t0=$SECONDS
  if start_cluster "$C" --osds 3 --memstore-bytes 268435456; then
    ok "start --osds 3 ($((SECONDS - t0)) s)"
    stat=$(ceph_r "$C/ceph.conf" osd stat) || stat=
    check "3 OSDs up and in ($stat)" three_up "$stat"
    check "pool size 3" ceph_r "$C/ceph.conf" osd pool set rbd size 3 --yes-i-really-mean-it
    check "size-3 pool becomes active+clean" wait_pgs_clean "$C/ceph.conf" 8
    check "8 MiB roundtrip on 3 replicas" roundtrip "$C/ceph.conf" blob3
    check "kill-osd 2" "$MO" kill-osd "$C" 2
    check "status exits 1 with an OSD killed" not "$MO" status "$C"
    check "data readable with an OSD down" readback "$C/ceph.conf" blob3
    check "start-osd 2" "$MO" start-osd "$C" 2
    check "status exits 0 again" "$MO" status "$C"
    check "PGs recover to active+clean" wait_pgs_clean "$C/ceph.conf" 8
    check "data readable after the OSD restart" readback "$C/ceph.conf" blob3
    "$MO" stop "$C" --purge 2>/dev/null
  else
    nok "start --osds 3"
    tail -n 30 "$C.err"
  fi

  X=$WORK/x
  t0=$SECONDS
  if start_cluster "$X" --cephx; then
    ok "start --cephx ($((SECONDS - t0)) s)"
    check "start output is eval-able" only_exports "$X.env"
    # shellcheck source=/dev/null # written by micro-osd.sh start
    . "$X.env"
    check "keyring files exist" test -f "${MICRO_OSD_GLANCE_KEYRING:-}" -a -f "${MICRO_OSD_ADMIN_KEYRING:-}"
    check "auth is cephx in the conf" grep -q '^auth client required = cephx' "$X/ceph.conf"
    check "glance can create in pool images" \
      rbd_in "$X/ceph.conf" --id glance --keyring "$X/client.glance.keyring" create --pool images --size 16M g1
    check "glance is refused in pool rbd" \
      not rbd_in "$X/ceph.conf" --id glance --keyring "$X/client.glance.keyring" create --pool rbd --size 16M g2
    check "glance needs no --keyring (set in the conf)" rbd_in "$X/ceph.conf" --id glance ls --pool images
    check "a client without a key is refused" \
      not rbd_in "$X/ceph.conf" --id nobody --keyring /dev/null --client-mount-timeout 10 ls
    check "admin sees glance's image" test "$(rbd_in "$X/ceph.conf" ls --pool images)" = g1
    "$MO" stop "$X" --purge 2>/dev/null
  else
    nok "start --cephx"
    tail -n 30 "$X.err"
  fi
fi

check "bystander still alive at the end" alive "$BYSTANDER"
echo "$PASS passed, $FAIL failed"
((FAIL == 0))
