# Shell functions of scripts/micro-osd.sh that scripts/mirror-pair.sh shares,
# sourced by both (never run alone) from the directory they are in; it ships
# with micro-osd.sh (package.json files, the micro Ceph image).
# Uses the sourcing script's PROG.

T0=${EPOCHREALTIME:-0}
# Progress goes to stderr (stdout is kept eval-able), with elapsed seconds.
log() {
  awk -v p="$PROG" -v a="${EPOCHREALTIME:-0}" -v b="$T0" -v m="$*" \
    'BEGIN { printf "%s: [%5.1fs] %s\n", p, a - b, m }' >&2
}
die() {
  log "error: $*"
  exit 1
}

# is_gone PID: true when the pid no longer runs (missing or zombie; PID 1 of
# some sandboxes never reaps, so a dead daemon may linger as a zombie).
is_gone() {
  local pid=$1 stat
  [[ -r /proc/$pid/stat ]] || return 0
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  [[ ${stat%% *} == Z ]]
}

# runs_with_conf PID CONF PROGRAM...: true when PID runs one of the PROGRAMs
# with CONF on its command line. This is what keeps a recycled pid from ever
# being signalled.
runs_with_conf() {
  local pid=$1 conf=$2 exe want arg known=0
  shift 2
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  is_gone "$pid" && return 1
  local -a argv=()
  mapfile -d '' -t argv <"/proc/$pid/cmdline" 2>/dev/null || return 1
  ((${#argv[@]} > 0)) || return 1
  exe=${argv[0]##*/}
  for want in "$@"; do [[ $exe == "$want" ]] && known=1; done
  ((known)) || return 1
  for arg in "${argv[@]:1}"; do
    [[ $arg == "$conf" || $arg == "--conf=$conf" || $arg == "-c$conf" ]] && return 0
  done
  return 1
}
