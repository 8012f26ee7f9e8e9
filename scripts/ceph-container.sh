#!/usr/bin/env bash
# ceph-container.sh: the container engine and the micro Ceph image
# (ci/ceph/Dockerfile) that `micro-osd.sh --container` runs, on a machine
# with or without an image registry. Progress goes to stderr.
#
#   engine        Make sure a Docker engine answers `docker info`. When none
#                 does: install Debian's docker.io if dockerd is missing, then
#                 start `dockerd --iptables=false --bridge=none` in the
#                 background (there is no init system to start it), logging to
#                 $STATE/dockerd.log, its pid recorded in $STATE/dockerd.pid.
#                 A daemon that already answers is used as it is, never touched.
#   base          Make sure image debian:bookworm exists: pull it, or where no
#                 registry answers build it with mmdebstrap from the machine's
#                 Debian sources and `docker import` it.
#   image         engine + base + build the micro Ceph image when it is missing;
#                 prints its reference (ceph-rbd-micro-osd:<hash of its inputs>).
#   ci-image [TAG]  engine + base + build ci/Dockerfile (the CI image: Node 20,
#                 Ceph, this repository built) as TAG (default ceph-rbd-ci).
#   engine-stop   Stop the dockerd that `engine` started (by its recorded pid,
#                 after checking it is that dockerd); a daemon someone else
#                 started is left alone.
#   engine-status Prints 'ours PID', 'theirs' or 'none'.
#
# $STATE is $CEPH_RBD_CONTAINER_STATE (default /run/ceph-rbd). Set
# CEPH_RBD_NO_ENGINE_INSTALL=1 to never install or start an engine.
set -euo pipefail

readonly PROG=${0##*/}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly REPO
STATE=${CEPH_RBD_CONTAINER_STATE:-/run/ceph-rbd}
readonly BASE_IMAGE=debian:bookworm
readonly IMAGE_REPO=ceph-rbd-micro-osd

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# docker: Debian's client when it is installed (it matches Debian's daemon
# and builds with the daemon's own BuildKit); any other client otherwise.
docker() {
  if [[ -x /usr/bin/docker ]]; then /usr/bin/docker "$@"; else command docker "$@"; fi
}

engine_answers() { timeout 20 docker info >/dev/null 2>&1; }

# our_dockerd: the pid recorded by `engine` when it still runs that dockerd.
our_dockerd() {
  local pid=
  [[ -s $STATE/dockerd.pid ]] && read -r pid <"$STATE/dockerd.pid"
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */dockerd ]] || return 1
  echo "$pid"
}

cmd_engine() {
  engine_answers && return 0
  [[ ${CEPH_RBD_NO_ENGINE_INSTALL:-0} != 1 ]] || die "no container engine answers 'docker info' (and CEPH_RBD_NO_ENGINE_INSTALL=1)"
  ((EUID == 0)) || die "no container engine answers 'docker info'; starting one needs root (or start dockerd yourself)"
  mkdir -p "$STATE"
  # One engine start at a time (several clusters may start together).
  exec 8>"$STATE/engine.lock"
  flock 8
  engine_answers && return 0
  if ! command -v dockerd >/dev/null || [[ ! -x /usr/bin/docker ]]; then
    log "installing Debian's docker.io"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io >&2; then
      apt-get update -q >&2 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io >&2 ||
        die "cannot install docker.io"
    fi
  fi
  # A dockerd that runs but does not answer (yet) is not ours to restart.
  if [[ -S /var/run/docker.sock ]] && [[ -s /var/run/docker.pid ]] && [[ -d /proc/$(cat /var/run/docker.pid) ]]; then
    log "a dockerd (pid $(cat /var/run/docker.pid)) runs but does not answer yet; waiting for it"
  else
    log "starting dockerd --iptables=false --bridge=none (log: $STATE/dockerd.log)"
    # No bridge and no iptables rules: containers use the host's network
    # (--network host), which is all the micro cluster needs, and the
    # machine's firewall is left alone. setsid: it outlives this script.
    setsid dockerd --iptables=false --bridge=none >>"$STATE/dockerd.log" 2>&1 </dev/null &
    echo $! >"$STATE/dockerd.pid"
  fi
  local i
  for ((i = 0; i < 150; i++)); do
    engine_answers && {
      log "engine up: $(docker version -f '{{.Server.Version}}' 2>/dev/null)"
      return 0
    }
    if [[ -s $STATE/dockerd.pid ]] && ! our_dockerd >/dev/null && ! engine_answers; then
      tail -n 20 "$STATE/dockerd.log" >&2 || true
      die "dockerd exited (see $STATE/dockerd.log)"
    fi
    sleep 0.2
  done
  die "dockerd does not answer after 30 s (see $STATE/dockerd.log)"
}

cmd_engine_status() {
  local pid
  if pid=$(our_dockerd); then
    echo "ours $pid"
  elif engine_answers; then
    echo theirs
  else
    echo none
  fi
}

cmd_engine_stop() {
  local pid i
  if ! pid=$(our_dockerd); then
    log "no dockerd started by $PROG runs; nothing to stop"
    rm -f "$STATE/dockerd.pid"
    return 0
  fi
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  for ((i = 0; i < 300; i++)); do
    [[ -d /proc/$pid ]] || break
    sleep 0.1
  done
  [[ ! -d /proc/$pid ]] || die "dockerd (pid $pid) still runs after 30 s"
  rm -f "$STATE/dockerd.pid"
}

cmd_base() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  log "pulling $BASE_IMAGE"
  if timeout 120 docker pull -q "$BASE_IMAGE" >&2; then return 0; fi
  log "no registry serves $BASE_IMAGE: building it with mmdebstrap from this machine's Debian sources"
  if ! command -v mmdebstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap >&2 ||
      die "cannot install mmdebstrap"
  fi
  local tmp
  tmp=$(mktemp -d)
  # minbase: essential packages and apt, as the official image has.
  mmdebstrap --quiet --variant=minbase bookworm "$tmp/rootfs.tar" >&2 || {
    rm -rf "$tmp"
    die "mmdebstrap failed"
  }
  docker import --change 'CMD ["bash"]' "$tmp/rootfs.tar" "$BASE_IMAGE" >&2 || {
    rm -rf "$tmp"
    die "docker import failed"
  }
  rm -rf "$tmp"
}

# image_ref: the micro Ceph image for the current Dockerfile and scripts.
image_ref() {
  local h
  h=$(cat "$REPO/ci/ceph/Dockerfile" "$REPO/scripts/micro-osd.sh" "$REPO/scripts/micro-osd-common.sh" | sha256sum)
  echo "$IMAGE_REPO:${h:0:12}"
}

cmd_image() {
  cmd_engine
  local ref
  ref=$(image_ref)
  if ! docker image inspect "$ref" >/dev/null 2>&1; then
    mkdir -p "$STATE"
    exec 9>"$STATE/image.lock"
    flock 9
    if ! docker image inspect "$ref" >/dev/null 2>&1; then
      cmd_base
      log "building $ref from ci/ceph/Dockerfile"
      # The context is just what the image holds.
      local ctx
      ctx=$(mktemp -d)
      mkdir -p "$ctx/ci/ceph" "$ctx/scripts"
      cp "$REPO/ci/ceph/Dockerfile" "$ctx/ci/ceph/"
      cp "$REPO/scripts/micro-osd.sh" "$REPO/scripts/micro-osd-common.sh" "$ctx/scripts/"
      DOCKER_BUILDKIT=0 docker build -q --network host -t "$ref" -t "$IMAGE_REPO:latest" -f "$ctx/ci/ceph/Dockerfile" "$ctx" >&2 || {
        rm -rf "$ctx"
        die "building the micro Ceph image failed"
      }
      rm -rf "$ctx"
    fi
  fi
  echo "$ref"
}

cmd_ci_image() {
  local tag=${1:-ceph-rbd-ci}
  cmd_engine
  cmd_base
  log "building $tag from ci/Dockerfile"
  # The CAs this machine trusts besides Debian's (a TLS-inspecting proxy's):
  # the build fetches Node and npm packages over HTTPS.
  local extra=
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    extra=$(cat /usr/local/share/ca-certificates/*.crt)
  fi
  # The legacy builder: it needs no buildx plugin and reads .dockerignore.
  DOCKER_BUILDKIT=0 docker build --network host --build-arg "EXTRA_CA_CERTS=$extra" \
    -f "$REPO/ci/Dockerfile" -t "$tag" "$REPO" >&2 ||
    die "building the CI image failed"
  echo "$tag"
}

case ${1:-} in
  engine) cmd_engine ;;
  engine-stop) cmd_engine_stop ;;
  engine-status) cmd_engine_status ;;
  base) cmd_engine && cmd_base ;;
  image) cmd_image ;;
  ci-image) cmd_ci_image "${2:-}" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
