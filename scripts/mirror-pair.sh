#!/usr/bin/env bash
# mirror-pair.sh: two micro clusters (scripts/micro-osd.sh) side by side with
# RBD mirroring between them: the given pools in 'image' mirror mode on both,
# peers bootstrapped in both directions (or A -> B only), and one rbd-mirror
# daemon per receiving site. Daemons are only ever signalled by the pids this
# script (or micro-osd.sh) recorded, after checking that the pid still belongs
# to that site.
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd "$(dirname "$(realpath -- "${BASH_SOURCE[0]}")")" && pwd -P)
readonly HERE
readonly MICRO_OSD=$HERE/micro-osd.sh
# shellcheck source=micro-osd-common.sh
source "$HERE/micro-osd-common.sh"

usage() {
  cat <<EOF
Usage:
  $PROG start DIR_A DIR_B [--pool NAME]... [--direction rx-tx|rx-only]
                          [--memstore-bytes BYTES] [--timeout SECS]
      Start a micro cluster in DIR_A (site 'site-a') and one in DIR_B (site
      'site-b'), each with the given pools ('rbd' when none is given), then
      for each pool: 'rbd mirror pool enable POOL image' on both sites,
      'rbd mirror pool peer bootstrap create --site-name site-a' on A and
      'bootstrap import --site-name site-b --direction DIRECTION' on B.
      rx-tx (default): images replicate both ways, one rbd-mirror daemon per
      site; rx-only: A -> B, one daemon on B. Waits until every daemon reports
      healthy, then prints (eval-able, stdout):
        export MIRROR_PAIR_A_CONF=DIR_A/ceph.conf
        export MIRROR_PAIR_B_CONF=DIR_B/ceph.conf
      Each rbd-mirror runs with CEPH_CONF and CEPH_ARGS='--conf SITE/ceph.conf'
      in its environment (its pool replayer opens a second connection to the
      local cluster that ignores --conf); pid, log and admin socket live in
      SITE/mirror/. It refreshes replay status every
      \$MIRROR_PAIR_STATUS_INTERVAL s (default 2; Ceph's default is 30).
      --memstore-bytes is per OSD (default 1 GiB; it is RAM).
  $PROG stop DIR_A DIR_B [--purge]
      SIGTERM each rbd-mirror by its pid file (SIGKILL after 20 s), then
      'micro-osd.sh stop' both clusters. Idempotent. --purge removes the dirs.
  $PROG status DIR_A DIR_B
      Each site's daemons and 'rbd mirror pool status' of its pools; exit 0
      only if all daemons are alive.
  $PROG freeze DIR | thaw DIR
      SIGSTOP (SIGCONT) every daemon of one site: mon, mgr, OSDs, rbd-mirror
      (a site that is down without losing its data; for failover tests).
EOF
}

CMD_TIMEOUT=${MIRROR_PAIR_CMD_TIMEOUT:-60}

# abs DIR: the absolute path (created if missing) micro-osd.sh will use.
abs() {
  mkdir -p -- "$1"
  (cd -- "$1" && pwd -P)
}

# site_rbd DIR ARGS...: the rbd CLI against one site.
site_rbd() {
  local dir=$1
  shift
  timeout "$CMD_TIMEOUT" rbd --conf "$dir/ceph.conf" "$@"
}

# mirror_pid DIR: the recorded rbd-mirror pid of a site (empty if none).
mirror_pid() {
  local f=$1/mirror/rbd-mirror.pid pid=
  if [[ -s $f ]]; then read -r pid <"$f" || true; fi
  echo "$pid"
}

# is_site_daemon PID DIR: PID is a ceph daemon or rbd-mirror started with
# DIR/ceph.conf.
is_site_daemon() { runs_with_conf "$1" "$2/ceph.conf" ceph-mon ceph-mgr ceph-osd rbd-mirror; }

# start_daemon DIR: one rbd-mirror for the site in DIR; waits for its pid.
start_daemon() {
  local dir=$1 conf=$1/ceph.conf m=$1/mirror pid deadline
  mkdir -p "$m"
  pid=$(mirror_pid "$dir")
  if [[ -n $pid ]] && is_site_daemon "$pid" "$dir"; then die "rbd-mirror already runs for $dir (pid $pid)"; fi
  rm -f "$m/rbd-mirror.pid"
  # Test tunings: the daemon refreshes each image's replay status (and the
  # replay progress in it) every rbd_mirror_image_state_check_interval
  # seconds (default 30) and polls a journal at most every
  # rbd_mirror_journal_poll_age (default 5).
  CEPH_CONF=$conf CEPH_ARGS="--conf $conf" rbd-mirror --conf "$conf" --id admin \
    --rbd-mirror-image-state-check-interval "${MIRROR_PAIR_STATUS_INTERVAL:-2}" \
    --rbd-mirror-journal-poll-age 1 --rbd-mirror-pool-replayers-refresh-interval 5 \
    --log-file "$m/rbd-mirror.log" --pid-file "$m/rbd-mirror.pid" \
    --admin-socket "$m/rbd-mirror.asok" >"$m/rbd-mirror.out" 2>&1 ||
    die "rbd-mirror failed to start for $dir: $(tail -n 5 "$m/rbd-mirror.out")"
  deadline=$((SECONDS + 30))
  while :; do
    pid=$(mirror_pid "$dir")
    [[ -n $pid ]] && is_site_daemon "$pid" "$dir" && break
    ((SECONDS < deadline)) || die "rbd-mirror wrote no pid file in $m in time"
    sleep 0.1
  done
  log "rbd-mirror for $dir: pid $pid"
}

# stop_daemon DIR: SIGTERM the site's rbd-mirror, SIGKILL after 20 s.
stop_daemon() {
  local dir=$1 pid deadline
  pid=$(mirror_pid "$dir")
  if [[ -n $pid ]] && is_site_daemon "$pid" "$dir"; then
    kill -CONT "$pid" 2>/dev/null || true # a frozen daemon cannot exit
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 20))
    while ! is_gone "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if is_site_daemon "$pid" "$dir"; then
      log "rbd-mirror pid $pid did not exit after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/mirror/rbd-mirror.pid" "$dir/mirror/rbd-mirror.asok"
}

# daemons_healthy DIR POOL: true when 'rbd mirror pool status' of the site
# sees a daemon and reports its health OK.
daemons_healthy() {
  local out
  out=$(site_rbd "$1" mirror pool status "$2" --format json 2>/dev/null) || return 1
  /usr/bin/python3 -c '
import json, sys
s = json.loads(sys.argv[1]).get("summary", {})
sys.exit(0 if s.get("daemon_health") == "OK" else 1)' "$out"
}

# import_token DIR DIRECTION POOL TOKEN: bootstrap import, retried on one
# known race: a Pacific client may see the peer's fsid as zero right after
# connecting ("unexpected remote cluster fsid"); nothing was changed then.
import_token() {
  local try errf=$1/mirror/import.err
  for try in 1 2 3 4 5; do
    if site_rbd "$1" mirror pool peer bootstrap import --site-name site-b --direction "$2" "$3" "$4" 2>"$errf"; then
      rm -f "$errf"
      return 0
    fi
    grep -q 'unexpected remote cluster fsid' "$errf" || break
    log "bootstrap import: peer fsid not seen yet (try $try); retrying"
    sleep 0.5
  done
  cat "$errf" >&2
  die "bootstrap import of pool $3 failed"
}

cmd_start() {
  [[ $# -ge 2 ]] || die "start: DIR_A and DIR_B are required"
  local a b direction=rx-tx timeout=${MICRO_OSD_TIMEOUT:-120}
  local -a pools=() pass=()
  a=$(abs "$1")
  b=$(abs "$2")
  shift 2
  [[ $a != "$b" ]] || die "DIR_A and DIR_B must differ"
  while [[ $# -gt 0 ]]; do
    case $1 in
      --pool)
        [[ " ${pools[*]-} " == *" ${2:?--pool needs a name} "* ]] || pools+=("$2")
        shift 2
        ;;
      --direction) direction=${2:?--direction needs a value}; shift 2 ;;
      --memstore-bytes) pass+=(--memstore-bytes "${2:?--memstore-bytes needs a value}"); shift 2 ;;
      --timeout) timeout=${2:?--timeout needs a value}; shift 2 ;;
      *) die "start: unknown argument: $1" ;;
    esac
  done
  [[ $direction == rx-tx || $direction == rx-only ]] || die "--direction must be rx-tx or rx-only"
  [[ $timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive integer"
  ((${#pools[@]} > 0)) || pools=(rbd)
  command -v rbd-mirror >/dev/null || die "rbd-mirror not found (apt-get install rbd-mirror)"
  local p
  for p in "${pools[@]}"; do pass+=(--pool "$p"); done

  # The EXIT trap runs outside this function: it gets the dirs as globals.
  START_A=$a START_B=$b
  trap 'rc=$?; if ((rc != 0)); then log "start failed; stopping both sites"; cmd_stop "$START_A" "$START_B" || true; fi' EXIT
  local t0=$SECONDS
  # Both clusters at once: each picks its own free port and lives in its dir.
  log "starting site-a in $a and site-b in $b"
  local pa pb rca=0 rcb=0
  # Plain processes always (the freeze/thaw and rbd-mirror pids are host pids
  # of this script's own daemons), whatever CEPH_TEST_CLUSTER says.
  CEPH_TEST_CLUSTER=process bash "$MICRO_OSD" start "$a" --timeout "$timeout" "${pass[@]}" >/dev/null 2>"$a.start.log" &
  pa=$!
  CEPH_TEST_CLUSTER=process bash "$MICRO_OSD" start "$b" --timeout "$timeout" "${pass[@]}" >/dev/null 2>"$b.start.log" &
  pb=$!
  wait "$pa" || rca=$?
  wait "$pb" || rcb=$?
  ((rca == 0)) || die "site-a did not start: $(tail -n 20 "$a.start.log")"
  ((rcb == 0)) || die "site-b did not start: $(tail -n 20 "$b.start.log")"
  rm -f "$a.start.log" "$b.start.log"
  mkdir -p "$a/mirror" "$b/mirror"
  printf '%s\n' "${pools[@]}" | tee "$a/mirror/pools" >"$b/mirror/pools"

  local token
  for p in "${pools[@]}"; do
    site_rbd "$a" mirror pool enable "$p" image
    site_rbd "$b" mirror pool enable "$p" image
    token=$a/mirror/token.$p
    (umask 077 && site_rbd "$a" mirror pool peer bootstrap create --site-name site-a "$p" >"$token")
    import_token "$b" "$direction" "$p" "$token"
    log "pool $p: image mode on both sites, peers bootstrapped ($direction)"
  done

  local -a sites=("$b")
  [[ $direction == rx-only ]] || sites=("$a" "$b")
  local s
  for s in "${sites[@]}"; do start_daemon "$s"; done

  local deadline=$((SECONDS + timeout)) ok
  while :; do
    ok=1
    for s in "${sites[@]}"; do
      for p in "${pools[@]}"; do daemons_healthy "$s" "$p" || ok=0; done
    done
    ((ok)) && break
    ((SECONDS < deadline)) || die "rbd-mirror daemons not healthy after ${timeout} s (see */mirror/rbd-mirror.log)"
    sleep 0.5
  done
  trap - EXIT
  log "ready in $((SECONDS - t0)) s: pools ${pools[*]} mirrored $([[ $direction == rx-tx ]] && echo 'both ways' || echo 'site-a -> site-b')"
  echo "export MIRROR_PAIR_A_CONF=$a/ceph.conf"
  echo "export MIRROR_PAIR_B_CONF=$b/ceph.conf"
}

cmd_stop() {
  [[ $# -ge 2 ]] || die "stop: DIR_A and DIR_B are required"
  local a=$1 b=$2 purge=() s rc=0
  shift 2
  while [[ $# -gt 0 ]]; do
    case $1 in
      --purge) purge=(--purge); shift ;;
      *) die "stop: unknown argument: $1" ;;
    esac
  done
  local -a sites=()
  for s in "$a" "$b"; do [[ -d $s ]] && sites+=("$(cd -- "$s" && pwd -P)"); done
  ((${#sites[@]} > 0)) || return 0
  # micro-osd.sh stop SIGCONTs nothing: thaw a frozen site first.
  for s in "${sites[@]}"; do signal_site CONT "$s" >/dev/null 2>&1 || true; done
  # Both daemons before either cluster: an rbd-mirror whose peer cluster is
  # gone hangs in its shutdown until SIGKILL.
  for s in "${sites[@]}"; do stop_daemon "$s" & done
  wait
  local -a pids=()
  for s in "${sites[@]}"; do
    bash "$MICRO_OSD" stop "$s" "${purge[@]+"${purge[@]}"}" &
    pids+=($!)
  done
  for s in "${pids[@]}"; do wait "$s" || rc=1; done
  return "$rc"
}

# signal_site SIG DIR: SIG to every daemon of the site (recorded pids only).
signal_site() {
  local sig=$1 dir f pid n=0
  dir=$(cd -- "$2" && pwd -P) || die "no site in $2"
  for f in "$dir"/run/*.pid "$dir/mirror/rbd-mirror.pid"; do
    [[ -s $f ]] || continue
    read -r pid <"$f" || continue
    if is_site_daemon "$pid" "$dir"; then
      kill "-$sig" "$pid" && n=$((n + 1))
    fi
  done
  ((n > 0)) || die "no running daemon recorded in $dir"
  log "SIG$sig sent to $n daemon(s) of $dir"
}

cmd_status() {
  [[ $# -eq 2 ]] || die "status: DIR_A and DIR_B are required"
  local s pid rc=0 p
  for s in "$1" "$2"; do
    echo "== $s"
    bash "$MICRO_OSD" status "$s" || rc=1
    [[ -f $s/mirror/pools ]] || continue
    pid=$(mirror_pid "$s")
    if [[ -n $pid ]] && is_site_daemon "$pid" "$(cd -- "$s" && pwd -P)"; then
      printf '%-10s pid %-8s alive\n' rbd-mirror "$pid"
    fi
    while read -r p; do
      [[ -n $p ]] && { site_rbd "$s" mirror pool status "$p" </dev/null || rc=1; }
    done <"$s/mirror/pools"
  done
  return "$rc"
}

main() {
  [[ $# -ge 1 ]] || {
    usage >&2
    exit 2
  }
  local cmd=$1
  shift
  case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    freeze) [[ $# -eq 1 ]] || die "usage: $PROG freeze DIR"; signal_site STOP "$1" ;;
    thaw) [[ $# -eq 1 ]] || die "usage: $PROG thaw DIR"; signal_site CONT "$1" ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
