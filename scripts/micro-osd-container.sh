# Container mode of scripts/micro-osd.sh, sourced by it (never run alone):
# the cluster's daemons run in a container of the micro Ceph image
# (ci/ceph/Dockerfile, built by scripts/ceph-container.sh), which is started,
# watched and removed by its id, and only if it carries this DIR's label.
# Uses micro-osd.sh's log, die, DIR, RUN and SELF.

# docker: Debian's client when installed (it matches Debian's engine).
docker() {
  if [[ -x /usr/bin/docker ]]; then timeout 120 /usr/bin/docker "$@"; else timeout 120 docker "$@"; fi
}

# Label on every container this script starts: the cluster directory.
readonly LABEL=ceph-rbd.micro-osd.dir

# container_state CID: running, exited, ... ; 'gone' when the engine does
# not know it, or it is not a container of this DIR (never ours to touch).
container_state() {
  local out
  out=$(docker inspect -f "{{.State.Status}} {{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null) || {
    echo gone
    return 0
  }
  if [[ ${out#* } == "$DIR" ]]; then echo "${out%% *}"; else echo gone; fi
}

# start_container TIMEOUT START_ARGS...: run the micro Ceph image on DIR and
# wait until its start is done (DIR/run/ready) or failed (container exited).
start_container() {
  local timeout=$1 image cid helper state v
  shift
  helper=$(dirname "$SELF")/ceph-container.sh
  [[ -f $helper ]] || die "--container needs scripts/ceph-container.sh and ci/ceph/Dockerfile (a checkout of the repository)"
  image=$(bash "$helper" image) || die "no micro Ceph image (see the messages above)"
  local -a envs=(-e "MICRO_OSD_DIR=$DIR")
  for v in MICRO_OSD_OSDS MICRO_OSD_MEMSTORE_BYTES MICRO_OSD_CEPHX MICRO_OSD_TIMEOUT MICRO_OSD_CMD_TIMEOUT; do
    [[ -z ${!v-} ]] || envs+=(-e "$v=${!v}")
  done
  log "starting a container of $image on $DIR"
  # See ci/ceph/Dockerfile for why the host's network and pid namespace and
  # the same path inside and out.
  cid=$(docker run -d --network host --pid host --label "$LABEL=$DIR" "${envs[@]}" \
    -v "$DIR:$DIR" "$image" "$@") || die "docker run failed"
  echo "$cid" >"$DIR/container.id"
  local deadline=$((SECONDS + timeout + 30)) n=0
  while [[ ! -e $RUN/ready ]]; do
    if ((n++ % 5 == 0)); then
      state=$(container_state "$cid")
      if [[ $state != running && $state != created ]]; then
        docker logs "$cid" >&2 2>&1 || true
        docker rm -f "$cid" >/dev/null 2>&1 || true
        rm -f "$DIR/container.id"
        die "the cluster's container exited during start (its messages are above)"
      fi
    fi
    if ((SECONDS > deadline)); then
      docker logs "$cid" >&2 2>&1 || true
      stop_container "$cid"
      die "the cluster's container was not ready in ${timeout} s"
    fi
    sleep 0.2
  done
  # Its start's messages (stderr), then the same exports as a start here.
  docker logs "$cid" 2>&1 >/dev/null | sed 's/^/  [container] /' >&2 || true
  cat "$RUN/exports"
  log "cluster runs in container ${cid:0:12}"
}

# stop_container CID: SIGTERM to its entry point (a clean stop of every
# daemon, up to 60 s), then remove it. Only ever by id, only ours.
stop_container() {
  local cid=$1 state
  state=$(container_state "$cid")
  if [[ $state == gone ]]; then
    log "container ${cid:0:12} of $DIR is gone already"
  else
    [[ $state != running ]] || docker stop -t 60 "$cid" >/dev/null || log "warning: docker stop $cid failed"
    docker rm -f "$cid" >/dev/null || die "docker rm $cid failed"
    log "removed container ${cid:0:12}"
  fi
  rm -f "$DIR/container.id"
}

