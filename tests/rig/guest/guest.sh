#!/usr/bin/env bash
# The guest VM rig: a Debian trixie guest under qemu, for what this host's
# kernel cannot do (bonds, VLANs, netplan apply, SR-IOV VFs on an emulated
# igb NIC, libvirt 11). Docs: RIGS.md "Guest VM rig"; README.md here.
#
#   guest.sh up            build the image if missing, boot, snapshot `booted`
#   guest.sh restore       fresh guest from the `booted` snapshot (~3-30 s)
#   guest.sh ssh [cmd...]  run a command in the guest as root
#   guest.sh down          stop qemu, remove the run dir (idempotent)
#   guest.sh status        exit 0 when up
#   guest.sh env           export lines for eval
#   guest.sh inventory     write an Ansible inventory for it; print its path
#
# Env: KVMNET_GUEST_SSH_PORT (2222), KVMNET_GUEST_RUN (/run/kvmnet-guest),
# KVMNET_GUEST_CACHE (/var/cache/kvmnet-guest), KVMNET_GUEST_ACCEL
# (auto|tcg|kvm), KVMNET_GUEST_BOOT_TIMEOUT (900 s),
# KVMNET_GUEST_RESTORE_TIMEOUT (300 s), KVMNET_GUEST_QEMU_DIR (the qemu tree
# scripts/setup-guest-deps.sh unpacks; default $KVMNET_GUEST_CACHE/qemu),
# KVMNET_GUEST_QEMU (a qemu-system-x86_64 >= 8.0 to use instead).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by lib.sh
GUEST_TAG=guest
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

RUN=${KVMNET_GUEST_RUN:-/run/kvmnet-guest}
case $RUN in /?*) ;; *) die "KVMNET_GUEST_RUN must be an absolute path" ;; esac
RUN=${RUN%/}
BOOT_TIMEOUT=${KVMNET_GUEST_BOOT_TIMEOUT:-900}
RESTORE_TIMEOUT=${KVMNET_GUEST_RESTORE_TIMEOUT:-300}
MARK=$RUN/.kvmnet-guest   # says "this run dir is ours" to `down`
MGMT_MAC=52:54:00:12:34:56  # matched by the image's netplan file

# A running guest's port and image are the ones it was started with.
PORT=$(cat "$RUN/port" 2>/dev/null || echo "${KVMNET_GUEST_SSH_PORT:-2222}")
IMG=$(cat "$RUN/image" 2>/dev/null || "$HERE/build-image.sh" path)
KEY=$IMG/id_ed25519

SSH_OPTS=(-i "$KEY" -p "$PORT" -o BatchMode=yes -o StrictHostKeyChecking=no
          -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10
          -o ServerAliveInterval=15 -o ServerAliveCountMax=8)

# One guest.sh changes things at a time. fd 9 is closed for qemu, or the
# daemon would hold the lock for ever.
lock() { exec 9<"${BASH_SOURCE[0]}"; flock 9; }
# Runs and is not a zombie (PID 1 here is slow to reap orphans).
running() { local s; s=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) && [ "$s" != Z ]; }
qemu_pid() {
  local pid
  pid=$(cat "$RUN/qemu.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && running "$pid" &&
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == qemu-system* ]] && echo "$pid"
}
# TERM, wait up to 10 s, then KILL.
stop_qemu() {
  local pid
  pid=$(qemu_pid) || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do running "$pid" || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 50); do running "$pid" || return 0; sleep 0.1; done
  die "qemu $pid does not go away"
}

# shellcheck disable=SC2029 # the command line is meant for the guest
gssh() { ssh "${SSH_OPTS[@]}" root@127.0.0.1 "$@"; }

# One HMP command through QMP (waits for it to finish); prints its output.
hmp() {
  /usr/bin/python3 - "$RUN/qmp.sock" "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(600)
s.connect(sys.argv[1])
f = s.makefile("rw")
def call(cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
    f.flush()
    while True:
        m = json.loads(f.readline())
        if "return" in m:
            return m["return"]
        if "error" in m:
            sys.exit("qmp %s: %s" % (cmd, m["error"].get("desc")))
json.loads(f.readline())  # greeting
call("qmp_capabilities")
sys.stdout.write(call("human-monitor-command", **{"command-line": sys.argv[2]}))
EOF
}

console_tail() { tail -n "${1:-25}" "$RUN/console.log" 2>/dev/null | sed 's/\r$//;s/^/  | /' >&2 || true; }

# TCG unless this machine has real hardware virtualisation: a paravirtual
# /dev/kvm (no vmx/svm) cannot boot a stock Debian kernel.
accel_args() {
  local a=${KVMNET_GUEST_ACCEL:-auto}
  if [ "$a" = auto ]; then
    if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then a=kvm; else a=tcg; fi
  fi
  case $a in
    kvm) echo "-accel kvm -cpu host" ;;
    tcg) echo "-accel tcg -cpu max" ;;
    *) die "KVMNET_GUEST_ACCEL must be auto, tcg or kvm" ;;
  esac
}

# The qemu command line, written once per run dir: `restore` must use the
# very same qemu, machine and devices as the snapshot was taken with.
write_args() {
  local accel
  read -ra accel <<<"$(accel_args)"
  # shellcheck disable=SC2054 # commas inside qemu options
  local args=(
    "${QEMU_CMD[@]}" -name kvmnet-guest "${accel[@]}"
    -machine q35 -smp 2 -m 2048 -display none -daemonize
    -pidfile "$RUN/qemu.pid"
    -qmp "unix:$RUN/qmp.sock,server=on,wait=off"
    # Serial console: logged to console.log, and live on console.sock
    # (socat -,raw,echo=0 UNIX-CONNECT:console.sock).
    -chardev "socket,id=ser0,path=$RUN/console.sock,server=on,wait=off,logfile=$RUN/console.log,logappend=on"
    -serial chardev:ser0
    -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" -append "root=/dev/vda rw console=ttyS0 quiet"
    -drive "file=$RUN/disk.qcow2,if=virtio,format=qcow2,cache=unsafe"
    # Management NIC: user networking that reaches nothing (restrict=on);
    # SSH forwarded from the host's loopback only. No option ROMs (romfile=):
    # the kernel is booted directly.
    -netdev "user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:$PORT-:22"
    -device "virtio-net-pci,netdev=mgmt,mac=$MGMT_MAC,romfile="
    # NICs under test: hub ports that go nowhere. Two virtio (bond members)...
    -netdev hubport,id=hp1,hubid=1 -device virtio-net-pci,netdev=hp1,mac=52:54:00:00:01:01,romfile=
    -netdev hubport,id=hp2,hubid=2 -device virtio-net-pci,netdev=hp2,mac=52:54:00:00:01:02,romfile=
    # ...and an igb (SR-IOV, 7 VFs) behind a PCIe root port.
    -device pcie-root-port,id=rp1,chassis=1,slot=1
    -netdev hubport,id=hp3,hubid=3 -device igb,bus=rp1,netdev=hp3,mac=52:54:00:00:02:01,romfile=
    # Two more virtio NICs at fixed slots (enp0s6, enp0s7), so the
    # whole-host Molecule scenario has a NIC for every playbook at once.
    -netdev hubport,id=hp4,hubid=4 -device virtio-net-pci,netdev=hp4,addr=0x6,mac=52:54:00:00:01:03,romfile=
    -netdev hubport,id=hp5,hubid=5 -device virtio-net-pci,netdev=hp5,addr=0x7,mac=52:54:00:00:01:04,romfile=
  )
  printf '%s\0' "${args[@]}" >"$RUN/qemu.args"
}

start_qemu() {
  local args t0=$SECONDS
  mapfile -d '' args <"$RUN/qemu.args"
  rm -f "$RUN/qemu.pid" "$RUN/qmp.sock" "$RUN/console.sock"
  echo "--- $(date -u +%FT%TZ) start $*" >>"$RUN/qemu.log"
  # -daemonize: returns once the machine is set up (snapshot loaded).
  "${args[@]}" "$@" </dev/null >>"$RUN/qemu.log" 2>&1 9<&- ||
    die "qemu failed to start: $(tail -n 5 "$RUN/qemu.log")"
  qemu_pid >/dev/null || die "qemu exited at once: $(tail -n 5 "$RUN/qemu.log")"
  say "qemu $(qemu_pid) started ($((SECONDS - t0)) s)"
}

# Wait until the guest answers SSH; $1 = timeout in seconds.
wait_ssh() {
  local t0=$SECONDS
  while :; do
    qemu_pid >/dev/null || { console_tail; die "qemu died while waiting for SSH: $(tail -n 5 "$RUN/qemu.log")"; }
    timeout 30 ssh "${SSH_OPTS[@]}" -o ConnectTimeout=5 root@127.0.0.1 true 2>/dev/null </dev/null && break
    if [ $((SECONDS - t0)) -ge "$1" ]; then
      console_tail 40
      stop_qemu
      die "guest did not answer SSH on 127.0.0.1:$PORT within $1 s (console: $RUN/console.log)"
    fi
    sleep 1
  done
  say "SSH up after $((SECONDS - t0)) s"
}

write_inventory() {
  mkdir -p "$RUN"
  cat >"$RUN/inventory.yml" <<EOF
# kvmnet guest VM rig (tests/rig/guest/guest.sh); valid while it is up.
all:
  children:
    kvmnet_guest:
      hosts:
        guest:
          ansible_host: 127.0.0.1
          ansible_port: $PORT
          ansible_user: root
          ansible_ssh_private_key_file: $KEY
          ansible_python_interpreter: /usr/bin/python3
          ansible_ssh_common_args: "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
          ansible_host_key_checking: false
EOF
}

# Remove the run dir, if it is one of ours.
clear_run() {
  [ ! -d "$RUN" ] || [ -e "$MARK" ] || [ -z "$(ls -A "$RUN")" ] ||
    die "$RUN does not look like a guest run dir; not touching it"
  rm -rf "$RUN"
}

up() {
  local t0=$SECONDS img state
  lock
  find_qemu
  img=$("$HERE/build-image.sh")
  if [ -e "$MARK" ] && [ "$(cat "$RUN/image" 2>/dev/null)" != "$img" ]; then
    say "run dir $RUN is for another image: starting over"
    stop_qemu
    clear_run
  fi
  if qemu_pid >/dev/null; then
    if [ -f "$RUN/booted.saved" ]; then
      wait_ssh "$RESTORE_TIMEOUT"; write_inventory; return 0
    fi
    say "qemu runs but has no snapshot yet: waiting for the boot"
  elif [ -f "$RUN/booted.saved" ]; then
    say "snapshot 'booted' present: restoring it"
    restore_locked
    return 0
  else
    clear_run
    mkdir -p "$RUN"
    : >"$MARK"
    echo "$img" >"$RUN/image"
    echo "$PORT" >"$RUN/port"
    IMG=$img KEY=$img/id_ed25519
    "${QEMU_IMG_CMD[@]}" create -q -f qcow2 -b "$img/base.qcow2" -F qcow2 "$RUN/disk.qcow2" ||
      die "cannot create the overlay $RUN/disk.qcow2"
    write_args
    say "booting $(accel_args | cut -d' ' -f2) guest with qemu $QEMU_VERSION (console: $RUN/console.log)"
    start_qemu
  fi
  wait_ssh "$BOOT_TIMEOUT"
  # Let the boot finish (libvirtd, networkd...) before the snapshot, so that
  # every restore starts from a settled system.
  state=$(gssh 'timeout 300 systemctl is-system-running --wait' </dev/null 2>/dev/null) || true
  [ "$state" = running ] ||
    say "warning: guest is '$state': $(gssh 'systemctl --failed --no-legend --plain' </dev/null 2>&1 | tr '\n' ' ')"
  say "guest booted in $((SECONDS - t0)) s; saving snapshot 'booted'"
  local out t1=$SECONDS
  out=$(hmp "savevm booted") || die "savevm failed: $out"
  [ -z "$out" ] || die "savevm failed: $out"
  : >"$RUN/booted.saved"
  say "snapshot saved ($((SECONDS - t1)) s)"
  write_inventory
}

restore_locked() {
  local t0=$SECONDS
  stop_qemu
  start_qemu -loadvm booted
  wait_ssh "$RESTORE_TIMEOUT"
  # The guest's clock is the snapshot's: set it from the host.
  gssh "date -u -s @$(date +%s.%N) >/dev/null" </dev/null || die "cannot set the guest clock"
  write_inventory
  say "restored in $((SECONDS - t0)) s"
}

restore() {
  lock
  if [ ! -f "$RUN/booted.saved" ]; then
    say "no snapshot yet: booting (guest.sh up)"
    exec 9<&-
    up
    return
  fi
  find_qemu
  restore_locked
}

down() {
  lock
  stop_qemu
  clear_run
}

status() {
  local pid
  if pid=$(qemu_pid); then
    echo "up: qemu pid $pid, ssh root@127.0.0.1:$PORT, $(grep -qz -- '^kvm$' "$RUN/qemu.args" && echo kvm || echo tcg)," \
      "snapshot $([ -f "$RUN/booted.saved" ] && echo booted || echo none), image $IMG, run $RUN"
    timeout 20 ssh "${SSH_OPTS[@]}" root@127.0.0.1 true </dev/null 2>/dev/null ||
      { echo "but SSH does not answer"; return 1; }
  else
    echo "down: no qemu running for $RUN"
    return 1
  fi
}

env_() {
  # Single-quoted for eval; the paths hold no single quote.
  printf "export KVMNET_GUEST_SSH_PORT='%s'\nexport KVMNET_GUEST_KEY='%s'\nexport KVMNET_GUEST_INVENTORY='%s'\nexport KVMNET_GUEST_RUN='%s'\n" \
    "$PORT" "$KEY" "$RUN/inventory.yml" "$RUN"
}

case ${1:-} in
  up) up ;;
  restore) restore ;;
  ssh) shift; exec ssh "${SSH_OPTS[@]}" root@127.0.0.1 "$@" ;;
  down) down ;;
  status) status ;;
  env) env_ ;;
  inventory) write_inventory; echo "$RUN/inventory.yml" ;;
  *) echo "usage: $0 up|restore|ssh [cmd...]|down|status|env|inventory" >&2; exit 2 ;;
esac
