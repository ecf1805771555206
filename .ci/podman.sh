# Podman for CI (sourced by .ci/run): installs Debian's podman, starts its Docker-compatible API
# rootful (root, our own socket) and rootless (user caic-podman, its own XDG_RUNTIME_DIR), each in
# the background and stopped by pid when the run ends. Docker's engine and its state are untouched.

PODMAN_USER=caic-podman
PODMAN_ROOTFUL_DIR=/run/caic-podman
PODMAN_ROOTLESS_DIR=/run/caic-podman-rootless
PODMAN_ROOTFUL_SOCKET=$PODMAN_ROOTFUL_DIR/podman.sock
PODMAN_ROOTLESS_SOCKET=$PODMAN_ROOTLESS_DIR/podman/podman.sock
podman_pids=()

podman_install() {
  # catatonit: the container init Podman runs for HostConfig.Init; uidmap (newuidmap), slirp4netns
  # and a native-overlay storage config: what the rootless engine needs; CNI's dnsname plugin:
  # container names resolve on a user network (the egress tests' servers), as on Docker's.
  local want=()
  command -v podman >/dev/null 2>&1 || want+=(podman)
  [ -x /usr/libexec/podman/catatonit ] || command -v catatonit >/dev/null 2>&1 || want+=(catatonit)
  command -v newuidmap >/dev/null 2>&1 || want+=(uidmap)
  command -v slirp4netns >/dev/null 2>&1 || want+=(slirp4netns)
  [ -x /usr/lib/cni/dnsname ] || want+=(golang-github-containernetworking-plugin-dnsname)
  if [ ${#want[@]} -gt 0 ]; then
    echo ".ci/podman: installing ${want[*]} from Debian's archive"
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
  fi
  if ! id "$PODMAN_USER" >/dev/null 2>&1; then
    # useradd gives a normal user its subordinate uid/gid ranges (SUB_UID_COUNT in login.defs).
    useradd -m -s /bin/bash "$PODMAN_USER"
  fi
  grep -q "^$PODMAN_USER:" /etc/subuid || usermod --add-subuids 200000-265535 --add-subgids 200000-265535 "$PODMAN_USER"
  local home
  home=$(getent passwd "$PODMAN_USER" | cut -d: -f6)
  install -d -o "$PODMAN_USER" -g "$PODMAN_USER" -m 0755 "$home/.config" "$home/.config/containers"
  printf '[storage]\ndriver = "overlay"\n' > "$home/.config/containers/storage.conf"
  chown "$PODMAN_USER:" "$home/.config/containers/storage.conf"
}

# A root without CAP_SYS_RESOURCE (a container or a sandboxed VM as the CI machine) cannot raise the
# rlimits Podman gives containers by default (nofile and nproc 1048576): runc then fails with
# "error setting rlimit". There the containers get the limits Podman itself runs with.
podman_conf_for() {
  local pid=$1 conf=$2 nofile nproc
  nofile=$(awk '/^Max open files/ {print $5}' "/proc/$pid/limits")
  nproc=$(awk '/^Max processes/ {print $4}' "/proc/$pid/limits")
  printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' "$nofile" "$nofile" "$nproc" "$nproc" > "$conf"
}

has_sys_resource() {
  local eff
  eff=$(awk '/^CapEff/ {print $2}' /proc/self/status)
  (( (0x$eff >> 24) & 1 ))
}

# Starts `podman system service` (as $1 = root|user) on socket $2, waits for it to answer, and
# records its pid. The rlimit configuration is made from a first start when it is needed.
podman_serve() {
  local who=$1 socket=$2 conf=$3 log=$4 pid
  local run=(env CONTAINERS_CONF="$conf" podman system service --time=0 "unix://$socket")
  [ "$who" = user ] && run=(runuser -u "$PODMAN_USER" -- env XDG_RUNTIME_DIR="$PODMAN_ROOTLESS_DIR" HOME="$(getent passwd "$PODMAN_USER" | cut -d: -f6)" "${run[@]:1}")
  rm -f "$socket"
  (cd / && exec "${run[@]}") >>"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    [ -S "$socket" ] && curl -sf --unix-socket "$socket" http://d/_ping >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo ".ci/podman: podman ($who) exited; see $log" >&2; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  curl -sf --unix-socket "$socket" http://d/_ping >/dev/null || { echo ".ci/podman: podman ($who) does not answer on $socket; see $log" >&2; return 1; }
  # runuser's child is the service: its pid is what must be stopped.
  [ "$who" = user ] && pid=$(pgrep -P "$pid" -x podman || echo "$pid")
  echo "$pid"
}

podman_start() {
  install -d -m 0700 "$PODMAN_ROOTFUL_DIR"
  install -d -o "$PODMAN_USER" -g "$PODMAN_USER" -m 0700 "$PODMAN_ROOTLESS_DIR" "$PODMAN_ROOTLESS_DIR/podman"
  local conf_dir log_dir
  conf_dir=$(mktemp -d /tmp/caic-podman-conf.XXXXXX)
  chmod 0755 "$conf_dir"
  log_dir=${CAIC_PODMAN_LOG_DIR:-/tmp}
  : >"$conf_dir/root.conf"
  : >"$conf_dir/user.conf"
  local pid
  for who in root user; do
    local socket=$PODMAN_ROOTFUL_SOCKET
    [ "$who" = user ] && socket=$PODMAN_ROOTLESS_SOCKET
    local log=$log_dir/caic-podman-$who.log
    pid=$(podman_serve "$who" "$socket" "$conf_dir/$who.conf" "$log") || return 1
    if ! has_sys_resource; then
      podman_conf_for "$pid" "$conf_dir/$who.conf"
      kill "$pid"
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      pid=$(podman_serve "$who" "$socket" "$conf_dir/$who.conf" "$log") || return 1
    fi
    podman_pids+=("$pid")
    echo ".ci/podman: podman ($who) answers on $socket (pid $pid)"
  done
}

podman_stop() {
  local pid
  for pid in "${podman_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  podman_pids=()
}
