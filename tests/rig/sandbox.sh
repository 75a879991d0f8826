#!/usr/bin/env bash
# A private libvirtd inside a network namespace, for kvmnet's tests
# (docs: RIGS.md, "A private libvirtd inside a network namespace").
#
#   sandbox.sh up | down | status | env
#   sandbox.sh restart                  restart libvirtd only (networks and
#                                       guests keep running, as on a host)
#   sandbox.sh guest <name> <network>   define+start a tiny TCG guest
#   sandbox.sh guest-rm <name>
#
# Env: KVMNET_NS (default kvmnet-sb), KVMNET_SANDBOX (default /run/kvmnet-sandbox).
# Clients: eval "$(sandbox.sh env)"; ip netns exec "$KVMNET_NS" <cmd>.
set -euo pipefail

NS=${KVMNET_NS:-kvmnet-sb}
R=${KVMNET_SANDBOX:-/run/kvmnet-sandbox}
URI="qemu:///system?socket=$R/run/libvirt/libvirt-sock"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# QEMU capabilities probed by libvirtd, kept across down/up: a cold start
# takes ~8 s without them, ~0.2 s with. libvirtd re-probes if qemu or
# libvirt changed. Empty = no cache.
CACHE=${KVMNET_SANDBOX_CACHE-$HERE/../../.build/sandbox-cache}
# libvirtd's compiled-in paths, bind-mounted to $R/<path> in its own mount ns.
DIRS="/etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt"

case $R in /?*) ;; *) echo "KVMNET_SANDBOX must be an absolute path" >&2; exit 2 ;; esac
R=${R%/}

say() { printf 'sandbox: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
v() { virsh -q -c "$URI" "$@"; }
alive() { virsh -c "$URI" version >/dev/null 2>&1; }
has_ns() { [ -e "/run/netns/$NS" ]; }
# One sandbox.sh changes things at a time (tests may call `up` in parallel).
lock() { exec 9<"${BASH_SOURCE[0]}"; flock 9; }

# Runs and is not a zombie (PID 1 here is slow to reap orphans).
running() { local s; s=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) && [ "$s" != Z ]; }
# pid from a pid file if that process runs and its name starts with $2.
live_pid() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && running "$pid" &&
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$2"* ]] && echo "$pid"
}
# TERM, wait up to 10 s, then KILL.
stop_pid() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do running "$1" || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}

write_config() {
  mkdir -p "$R/etc/libvirt"
  cat >"$R/etc/libvirt/libvirtd.conf" <<'EOF'
auth_unix_ro = "none"
auth_unix_rw = "none"
unix_sock_group = "root"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
  # Run qemu as root without cgroups, private /dev or labelling: no systemd,
  # and nothing here is shared with the host's own (absent) libvirt.
  cat >"$R/etc/libvirt/qemu.conf" <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
namespaces = []
cgroup_controllers = []
EOF
}

links() {
  local l
  ip -n "$NS" link show br-host >/dev/null 2>&1 || ip -n "$NS" link add br-host type bridge
  ip -n "$NS" link show veth-lan0 >/dev/null 2>&1 || ip -n "$NS" link add veth-lan0 type veth peer name veth-lan1
  ip -n "$NS" link show eth-up0 >/dev/null 2>&1 || ip -n "$NS" link add eth-up0 type veth peer name eth-up1
  ip -n "$NS" link set veth-lan0 master br-host
  for l in lo br-host veth-lan0 veth-lan1 eth-up0 eth-up1; do ip -n "$NS" link set "$l" up; done
}

save_caps() {
  [ -n "$CACHE" ] && [ -d "$R/var/cache/libvirt/qemu" ] || return 0
  { mkdir -p "$CACHE" && rm -rf "$CACHE/qemu" && cp -a "$R/var/cache/libvirt/qemu" "$CACHE/"; } 2>/dev/null || true
}

up() {
  lock
  mkdir -p "$R"
  if ! has_ns; then
    # `ip netns add` leaves /run/netns as a mount point: note it to undo it.
    [ -d /run/netns ] || echo dir >>"$R/created"
    mountpoint -q /run/netns || echo mount >>"$R/created"
    ip netns add "$NS"
  fi
  links
  alive && return 0
  if ! live_pid "$R/libvirtd.pid" libvirtd >/dev/null; then
    write_config
    if [ -n "$CACHE" ] && [ -d "$CACHE/qemu" ]; then
      mkdir -p "$R/var/cache/libvirt" && cp -a "$CACHE/qemu" "$R/var/cache/libvirt/"
    fi
    # `ip netns exec` gives the shell a private mount ns (slave of the host's),
    # so these bind mounts stay there and die with libvirtd and its children.
    # Mount points missing on the host are created there, and noted in
    # $R/created so that `down` removes them again.
    # stdio goes to a file so a daemon never holds a caller's pipe open, and
    # fd 9 (our lock) is closed or libvirtd would hold the lock forever.
    # shellcheck disable=SC2016 # expanded by the inner sh
    ip netns exec "$NS" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C R="$R" DIRS="$DIRS" \
      sh -ec 'for d in $DIRS; do
                [ -d "$d" ] || { mkdir -p "$d"; echo "$d" >>"$R/created"; }
                mkdir -p "$R$d"; mount --bind "$R$d" "$d"
              done
              exec libvirtd -d -p "$R/libvirtd.pid"' </dev/null >>"$R/libvirtd.out" 2>&1 9<&- ||
      die "libvirtd failed to start: $(tail -n 5 "$R/libvirtd.out" "$R/var/log/libvirt/libvirtd.log" 2>/dev/null)"
  fi
  # Cold start probes QEMU's capabilities (~8 s).
  for _ in $(seq 600); do alive && { save_caps; return 0; }; sleep 0.1; done
  die "libvirtd did not answer within 60 s; see $R/var/log/libvirt/libvirtd.log"
}

rm_domain() {
  v destroy "$1" >/dev/null 2>&1 || true
  v undefine --nvram "$1" >/dev/null 2>&1 || v undefine "$1" >/dev/null 2>&1 || true
}

down() {
  local d n f pid
  lock
  # `down` ends with rm -rf "$R": make sure $R is a sandbox.
  [ ! -d "$R" ] || [ -e "$R/etc/libvirt/libvirtd.conf" ] || [ -e "$R/created" ] || [ -z "$(ls -A "$R")" ] ||
    die "$R does not look like a sandbox dir; not touching it"
  # Errors are ignored here (a transient object is gone once destroyed);
  # what is left is killed by pid file below.
  if alive; then
    for d in $(v list --all --name); do rm_domain "$d"; done
    # net-destroy before libvirtd goes, or dnsmasq outlives it.
    for n in $(v net-list --all --name); do
      v net-destroy "$n" >/dev/null 2>&1 || true
      v net-undefine "$n" >/dev/null 2>&1 || true
    done
  fi
  if pid=$(live_pid "$R/libvirtd.pid" libvirtd); then stop_pid "$pid"; fi
  # In case libvirtd was not answering: whatever it left running.
  for f in "$R"/run/libvirt/network/*.pid; do
    if pid=$(live_pid "$f" dnsmasq); then stop_pid "$pid"; fi
  done
  for f in "$R"/run/libvirt/qemu/*.pid; do
    if pid=$(live_pid "$f" qemu); then stop_pid "$pid"; fi
  done
  if has_ns; then
    pid=$(ip netns pids "$NS" | tr '\n' ' ')
    [ -z "$pid" ] || say "warning: still running in $NS (left alone): $pid"
    ip netns del "$NS"
  fi
  save_caps
  # Undo what `up` added to the host's tree, unless another sandbox uses it.
  if [ -f "$R/created" ]; then
    if grep -qx mount "$R/created" && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
      umount /run/netns 2>/dev/null || true
    fi
    for d in $(grep / "$R/created"; grep -qx dir "$R/created" && echo /run/netns); do
      grep -qs " $d " /proc/[0-9]*/mountinfo || rmdir "$d" 2>/dev/null || true
    done
  fi
  rm -rf "$R"
}

restart() {
  local pid
  lock
  if pid=$(live_pid "$R/libvirtd.pid" libvirtd); then stop_pid "$pid"; fi
  flock -u 9
  up
}

status() {
  if alive; then
    echo "up: ns $NS, libvirtd pid $(cat "$R/libvirtd.pid" 2>/dev/null), $URI"
  else
    echo "down: ns $NS$(has_ns && echo ' exists' || echo ' absent'), no libvirtd answering at $URI"
    return 1
  fi
}

env_() {
  # Single-quoted for eval; the paths hold no single quote.
  printf "export LIBVIRT_DEFAULT_URI='%s'\nexport KVMNET_NS='%s'\nexport KVMNET_SANDBOX='%s'\n" "$URI" "$NS" "$R"
}

guest() {
  local name=$1 net=$2
  lock
  alive || die "sandbox is not up"
  if ! v dominfo "$name" >/dev/null 2>&1; then
    sed -e "s/@NAME@/$name/g" -e "s/@NETWORK@/$net/g" "$HERE/guest-domain.xml" >"$R/guest-$name.xml"
    v define "$R/guest-$name.xml" >/dev/null
  fi
  [ "$(v domstate "$name")" = running ] || v start "$name" >/dev/null
}

guest_rm() {
  lock
  alive || return 0
  rm_domain "$1"
  ! v dominfo "$1" >/dev/null 2>&1 || die "could not remove domain $1"
  rm -f "$R/guest-$1.xml"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  restart) restart ;;
  status) status ;;
  env) env_ ;;
  guest) [ $# -eq 3 ] || die "usage: $0 guest <name> <network>"; guest "$2" "$3" ;;
  guest-rm) [ $# -eq 2 ] || die "usage: $0 guest-rm <name>"; guest_rm "$2" ;;
  *) echo "usage: $0 up|down|restart|status|env|guest <name> <network>|guest-rm <name>" >&2; exit 2 ;;
esac
