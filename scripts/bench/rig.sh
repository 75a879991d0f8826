#!/usr/bin/env bash
# The SSH test host of the benchmark suite:
#   scripts/bench/rig.sh up | down | status
#
# up:   the sandbox libvirtd in namespace kvmnet-bench (tests/rig/sandbox.sh
#       with KVMNET_NS=kvmnet-bench KVMNET_SANDBOX=/run/kvmnet-bench), an
#       sshd in that same namespace on 10.253.0.2:22, and the controller's
#       namespace kvmnet-bench-ctl (10.253.0.1) joined to it by a veth pair.
#       The modules run by that sshd see the sandbox's libvirtd, links and
#       firewall. Root logs in with a key made into .build/bench/rig.
#       The sshd's /root is a bind mount of .build/bench/rig/home (in its own
#       mount namespace only): no .bashrc work at login, as on a real server,
#       and Ansible's remote temp files stay in the build tree.
# down: everything up started, in reverse: SSH control masters, sshd, the
#       controller namespace, the sandbox. Safe to run when nothing is up.
set -euo pipefail
# shellcheck source=scripts/bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SSHD_PID=$BENCH_RIG/sshd.pid

# pid from a pid file if that process runs and is called $2.
live_pid() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
}
has_ns() { [ -e "/run/netns/$1" ]; }

keys() {
  mkdir -p "$BENCH_RIG" "$BENCH_RIG/cp"
  chmod 700 "$BENCH_RIG"
  [ -f "$BENCH_RIG/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C kvmnet-bench -f "$BENCH_RIG/id_ed25519"
  [ -f "$BENCH_RIG/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C kvmnet-bench-host -f "$BENCH_RIG/ssh_host_ed25519_key"
  cp "$BENCH_RIG/id_ed25519.pub" "$BENCH_RIG/authorized_keys"
  echo "$BENCH_HOST_ADDR $(cut -d' ' -f1,2 "$BENCH_RIG/ssh_host_ed25519_key.pub")" >"$BENCH_RIG/known_hosts"
  mkdir -p "$BENCH_RIG/home"
  chmod 700 "$BENCH_RIG/home"
}

sshd_config() {
  cat >"$BENCH_RIG/sshd_config" <<EOF
# Written by scripts/bench/rig.sh: the benchmark's test host.
ListenAddress $BENCH_HOST_ADDR:22
HostKey $BENCH_RIG/ssh_host_ed25519_key
PidFile $SSHD_PID
AuthorizedKeysFile $BENCH_RIG/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
# The fleet benchmark opens 20 connections at once.
MaxStartups 100:30:200
MaxSessions 100
LogLevel ERROR
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
}

ctl_ns() {
  has_ns "$BENCH_CTL_NS" || ip netns add "$BENCH_CTL_NS"
  ip -n "$BENCH_CTL_NS" link set lo up
  if ! ip -n "$BENCH_CTL_NS" link show "$BENCH_CTL_IF" >/dev/null 2>&1; then
    # A stale end left in the host namespace (its peer went with the ns).
    ip -n "$KVMNET_NS" link del "$BENCH_HOST_IF" 2>/dev/null || true
    ip -n "$BENCH_CTL_NS" link add "$BENCH_CTL_IF" type veth peer name "$BENCH_HOST_IF" netns "$KVMNET_NS"
  fi
  ip -n "$BENCH_CTL_NS" addr replace "$BENCH_CTL_ADDR/24" dev "$BENCH_CTL_IF"
  ip -n "$KVMNET_NS" addr replace "$BENCH_HOST_ADDR/24" dev "$BENCH_HOST_IF"
  ip -n "$BENCH_CTL_NS" link set "$BENCH_CTL_IF" up
  ip -n "$KVMNET_NS" link set "$BENCH_HOST_IF" up
}

start_sshd() {
  live_pid "$SSHD_PID" sshd >/dev/null && return 0
  # sshd's privilege separation directory (made by the service's start-up,
  # which never ran here).
  if [ ! -d /run/sshd ]; then
    mkdir -p /run/sshd && chmod 755 /run/sshd
    touch "$BENCH_RIG/created-run-sshd"
  fi
  /usr/sbin/sshd -t -f "$BENCH_RIG/sshd_config"
  # shellcheck disable=SC2016 # expanded by the inner sh
  ip netns exec "$KVMNET_NS" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    HOME_DIR="$BENCH_RIG/home" CONF="$BENCH_RIG/sshd_config" LOG="$BENCH_RIG/sshd.log" \
    sh -ec 'mount --bind "$HOME_DIR" /root; exec /usr/sbin/sshd -D -f "$CONF" -E "$LOG"' \
    </dev/null >>"$BENCH_RIG/sshd.out" 2>&1 &
  for _ in $(seq 100); do
    if live_pid "$SSHD_PID" sshd >/dev/null &&
      ip netns exec "$BENCH_CTL_NS" timeout 1 bash -c "exec 3<>/dev/tcp/$BENCH_HOST_ADDR/22" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  bench_die "sshd did not come up; see $BENCH_RIG/sshd.log $BENCH_RIG/sshd.out"
}

check_login() {
  local out
  # shellcheck disable=SC2016 # $HOME and $(...) are the test host's
  out=$(ip netns exec "$BENCH_CTL_NS" ssh -F /dev/null -i "$BENCH_RIG/id_ed25519" \
    -o UserKnownHostsFile="$BENCH_RIG/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes \
    root@"$BENCH_HOST_ADDR" 'echo "$HOME $(ip -o -4 addr show dev '"$BENCH_HOST_IF"' | wc -l)"') ||
    bench_die "cannot log in to the test host"
  [ "$out" = "/root 1" ] || bench_die "the test host answered '$out', not '/root 1'"
}

up() {
  "$BENCH_REPO/tests/rig/sandbox.sh" up
  keys
  sshd_config
  ctl_ns
  start_sshd
  check_login
  bench_say "test host up: root@$BENCH_HOST_ADDR (namespace $KVMNET_NS), controller namespace $BENCH_CTL_NS"
}

down() {
  local s pid
  # SSH control masters Ansible left running (ControlPersist).
  for s in "$BENCH_RIG"/cp/*; do
    [ -S "$s" ] || continue
    ip netns exec "$BENCH_CTL_NS" ssh -F /dev/null -o ControlPath="$s" -O exit bench-host >/dev/null 2>&1 ||
      ssh -F /dev/null -o ControlPath="$s" -O exit bench-host >/dev/null 2>&1 || true
    rm -f "$s"
  done
  if pid=$(live_pid "$SSHD_PID" sshd); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
  fi
  rm -f "$SSHD_PID"
  if has_ns "$BENCH_CTL_NS"; then
    pid=$(ip netns pids "$BENCH_CTL_NS" | tr '\n' ' ')
    [ -z "$pid" ] || bench_say "warning: still running in $BENCH_CTL_NS (left alone): $pid"
    ip netns del "$BENCH_CTL_NS"
  fi
  "$BENCH_REPO/tests/rig/sandbox.sh" down
  if [ -f "$BENCH_RIG/created-run-sshd" ]; then
    rmdir /run/sshd 2>/dev/null || true
    rm -f "$BENCH_RIG/created-run-sshd"
  fi
  # Scratch state of the benchmarks (keys and config stay for the next run).
  rm -rf "${BENCH_RIG:?}/roots" "${BENCH_RIG:?}/home"
}

status() {
  local ok=0
  "$BENCH_REPO/tests/rig/sandbox.sh" status || ok=1
  if pid=$(live_pid "$SSHD_PID" sshd); then echo "sshd: pid $pid on $BENCH_HOST_ADDR:22"; else echo "sshd: not running"; ok=1; fi
  if has_ns "$BENCH_CTL_NS"; then echo "controller namespace: $BENCH_CTL_NS"; else echo "controller namespace: absent"; ok=1; fi
  return $ok
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
