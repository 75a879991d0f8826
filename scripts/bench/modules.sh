#!/usr/bin/env bash
# Each module binary as a process on the test host (in its namespace, no
# Ansible, no SSH): wall time (hyperfine) and peak memory (GNU time's
# maximum resident set size) of a no-change run and of a change run. A
# change run's preparation (untimed) takes the change back first.
# The rig of scripts/bench/rig.sh must be up.
#   modules.sh
# Writes $BENCH_RESULTS/modules.tsv: module, run, median ms, mean ms,
# stddev ms, peak RSS KiB (largest of the measured runs), runs.
set -euo pipefail
# shellcheck source=scripts/bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

RUNS_NOCHANGE=${BENCH_RUNS_NOCHANGE:-30}
RUNS_CHANGE=${BENCH_RUNS_CHANGE:-10}
RSS_RUNS=${BENCH_RSS_RUNS:-5}
work=$BENCH_BUILD/work/modules
mkdir -p "$work" "$BENCH_RESULTS"
: >"$work/hyperfine.log"
roots=$BENCH_RIG/roots/modules
rm -rf "$roots"
mkdir -p "$roots/nochange/etc/netplan" "$roots/change/etc/netplan"
out=$BENCH_RESULTS/modules.tsv
printf '# module\trun\tmedian_ms\tmean_ms\tstddev_ms\tpeak_rss_kib\truns\n' >"$out"

# The args files: no-change runs reuse what the first run made; change runs
# make something the preparation removed.
cat >"$work/libvirt_network.json" <<'JSON'
{"name": "bench-mod", "forward": {"mode": "nat"}, "autostart": true,
 "ips": [{"address": "10.66.2.1", "prefix": 24,
          "dhcp": {"ranges": [{"start": "10.66.2.100", "end": "10.66.2.200"}],
                   "hosts": [{"mac": "52:54:00:66:02:01", "name": "a", "ip": "10.66.2.10"}]}}],
 "dns": {"forwarders": [{"addr": "1.1.1.1"}, {"addr": "9.9.9.9"}]}}
JSON
sed 's/bench-mod/bench-chg/; s/10\.66\.2\./10.66.3./g; s/66:02:01/66:03:01/' "$work/libvirt_network.json" >"$work/libvirt_network-change.json"
echo '{"name": "bench-mod", "network": "bench-mod", "dest": "10.66.2.10", "host_port": 8090, "dest_port": 80}' >"$work/nat_forward.json"
echo '{"name": "bench-chg", "network": "bench-mod", "dest": "10.66.2.11", "host_port": 8091, "dest_port": 80}' >"$work/nat_forward-change.json"
echo '{"name": "bench-chg", "state": "absent"}' >"$work/nat_forward-undo.json"
for kind in nochange change; do
  cat >"$work/netplan_bridge-$kind.json" <<JSON
{"name": "br0", "interfaces": ["eno1"], "addresses": ["192.168.1.10/24"], "root_dir": "$roots/$kind",
 "routes": [{"to": "default", "via": "192.168.1.1"}], "nameservers": {"addresses": ["192.168.1.1"]},
 "parameters": {"stp": false, "forward_delay": 0}}
JSON
  cat >"$work/netplan_bond-$kind.json" <<JSON
{"name": "bond0", "interfaces": ["eno3", "eno4"], "root_dir": "$roots/$kind",
 "parameters": {"mode": "802.3ad", "lacp_rate": "fast", "mii_monitor_interval": 100, "transmit_hash_policy": "layer3+4"}}
JSON
done
echo '{"domain": "bench-vm", "type": "bridge", "source": {"bridge": "br-host"}, "mac": "52:54:00:be:00:11", "model": "virtio"}' >"$work/vm_interface.json"
echo '{"domain": "bench-vm", "type": "bridge", "source": {"bridge": "br-host"}, "mac": "52:54:00:be:00:12", "model": "virtio"}' >"$work/vm_interface-change.json"
echo '{"domain": "bench-vm", "state": "absent", "mac": "52:54:00:be:00:12"}' >"$work/vm_interface-undo.json"

# The preparations of the change runs (run in the test host's namespace).
bin() { echo "$BENCH_BIN/${1}_$ARCH"; }
prep() {
  printf '#!/bin/sh\n# Undo the change run of %s (scripts/bench/modules.sh).\n%s\n' "$1" "$2" >"$work/undo-$1.sh"
  chmod +x "$work/undo-$1.sh"
}
prep libvirt_network "virsh -q net-destroy bench-chg >/dev/null 2>&1; virsh -q net-undefine bench-chg >/dev/null 2>&1; exit 0"
prep nat_forward "$(bin nat_forward) $work/nat_forward-undo.json >/dev/null"
prep netplan_bridge "rm -f $roots/change/etc/netplan/60-kvmnet-br0.yaml"
prep netplan_bond "rm -f $roots/change/etc/netplan/60-kvmnet-bond0.yaml"
prep vm_interface "$(bin vm_interface) $work/vm_interface-undo.json >/dev/null"

# vm_interface's guest, defined (not running).
if ! bench_virsh dominfo bench-vm >/dev/null 2>&1; then
  sed -e 's/@NAME@/bench-vm/' -e 's/@NETWORK@/bench-nat/' "$BENCH_REPO/tests/rig/guest-domain.xml" >"$work/bench-vm.xml"
  bench_virsh define "$work/bench-vm.xml" >/dev/null
fi

# One module run in the namespace; fails unless it reports `changed` as $1.
run_expect() {
  local want=$1 res
  shift
  res=$(in_host "$@") || true
  grep -q "\"changed\":$want" <<<"$res" || bench_die "$* did not report changed=$want: $res"
}

# peak RSS in KiB: the largest of $RSS_RUNS runs (after the preparation, if any).
peak_rss() {
  local undo=$1 max=0 kib
  shift
  for _ in $(seq "$RSS_RUNS"); do
    [ -z "$undo" ] || in_host "$undo"
    in_host /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null
    kib=$(tail -n 1 "$work/rss")
    [ "$kib" -le "$max" ] || max=$kib
  done
  echo "$max"
}

measure() { # module kind undo-script args-file
  local m=$1 kind=$2 undo=$3 args=$4 runs json
  local -a prepare=()
  if [ "$kind" = change ]; then
    runs=$RUNS_CHANGE
    prepare=(--prepare "$undo")
  else
    runs=$RUNS_NOCHANGE
    undo=
  fi
  json=$work/$m-$kind.hyperfine.json
  in_host hyperfine -N --style none --warmup 2 --runs "$runs" "${prepare[@]}" \
    --export-json "$json" -n "$m $kind" "$(bin "$m") $args" >>"$work/hyperfine.log" 2>&1 ||
    bench_die "hyperfine failed on $m ($kind); see $work/hyperfine.log"
  read -r med mean sd < <("$BENCH_VENV/bin/python" "$BENCH_DIR/benchlib.py" hyperfine-ms "$json")
  rss=$(peak_rss "$undo" "$(bin "$m")" "$args")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$kind" "$med" "$mean" "$sd" "$rss" "$runs" >>"$out"
  printf '%-16s %-9s %8s ms (median)  %7s KiB peak RSS\n' "$m" "$kind" "$med" "$rss" >&2
}

# Set up the no-change state, check both kinds of run really are what they
# claim, then measure.
in_host "$work/undo-libvirt_network.sh"
in_host "$(bin libvirt_network)" "$work/libvirt_network.json" >/dev/null
run_expect false "$(bin libvirt_network)" "$work/libvirt_network.json"
run_expect true "$(bin libvirt_network)" "$work/libvirt_network-change.json"
measure libvirt_network nochange "" "$work/libvirt_network.json"
measure libvirt_network change "$work/undo-libvirt_network.sh" "$work/libvirt_network-change.json"

in_host "$(bin nat_forward)" "$work/nat_forward.json" >/dev/null
run_expect false "$(bin nat_forward)" "$work/nat_forward.json"
in_host "$work/undo-nat_forward.sh"
run_expect true "$(bin nat_forward)" "$work/nat_forward-change.json"
measure nat_forward nochange "" "$work/nat_forward.json"
measure nat_forward change "$work/undo-nat_forward.sh" "$work/nat_forward-change.json"

for m in netplan_bridge netplan_bond; do
  in_host "$(bin "$m")" "$work/$m-nochange.json" >/dev/null
  run_expect false "$(bin "$m")" "$work/$m-nochange.json"
  in_host "$work/undo-$m.sh"
  run_expect true "$(bin "$m")" "$work/$m-change.json"
  measure "$m" nochange "" "$work/$m-nochange.json"
  measure "$m" change "$work/undo-$m.sh" "$work/$m-change.json"
done

in_host "$(bin vm_interface)" "$work/vm_interface.json" >/dev/null
run_expect false "$(bin vm_interface)" "$work/vm_interface.json"
in_host "$work/undo-vm_interface.sh"
run_expect true "$(bin vm_interface)" "$work/vm_interface-change.json"
measure vm_interface nochange "" "$work/vm_interface.json"
measure vm_interface change "$work/undo-vm_interface.sh" "$work/vm_interface-change.json"

# The floor: a process that only reads its args file.
measure_floor() {
  local json=$work/trivial.hyperfine.json
  in_host hyperfine -N --style none --warmup 2 --runs "$RUNS_NOCHANGE" --export-json "$json" \
    -n trivial "$BENCH_BUILD/library/bench_trivial $work/nat_forward.json" >>"$work/hyperfine.log" 2>&1 ||
    bench_die "hyperfine failed on the trivial module; see $work/hyperfine.log"
  read -r med mean sd < <("$BENCH_VENV/bin/python" "$BENCH_DIR/benchlib.py" hyperfine-ms "$json")
  rss=$(peak_rss "" "$BENCH_BUILD/library/bench_trivial" "$work/nat_forward.json")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "trivial static binary (floor)" nochange "$med" "$mean" "$sd" "$rss" "$RUNS_NOCHANGE" >>"$out"
  printf '%-16s %-9s %8s ms (median)  %7s KiB peak RSS\n' trivial nochange "$med" "$rss" >&2
}
measure_floor

# What a no-change run is up against: the bare commands that read the same
# state (a libvirt connect, one domain's XML, one iptables listing).
baseline() { # name command...
  local name=$1 json=$work/baseline-$1.hyperfine.json
  shift
  in_host hyperfine -N --style none --warmup 2 --runs "$RUNS_NOCHANGE" --export-json "$json" \
    -n "$name" "$*" >>"$work/hyperfine.log" 2>&1 || bench_die "hyperfine failed on $name; see $work/hyperfine.log"
  read -r med mean sd < <("$BENCH_VENV/bin/python" "$BENCH_DIR/benchlib.py" hyperfine-ms "$json")
  rss=$(peak_rss "" "$@")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" baseline "$med" "$mean" "$sd" "$rss" "$RUNS_NOCHANGE" >>"$out"
  printf '%-16s %-9s %8s ms (median)  %7s KiB peak RSS\n' "$name" baseline "$med" "$rss" >&2
}
baseline "virsh uri (libvirt connect)" virsh -q uri
baseline "virsh domiflist (one domain)" virsh -q domiflist bench-vm
baseline "iptables -S -t nat (one listing)" iptables -w -S -t nat

# Leave nothing of this script's own behind.
in_host "$work/undo-nat_forward.sh"
echo '{"name": "bench-mod", "state": "absent"}' >"$work/nat_forward-cleanup.json"
in_host "$(bin nat_forward)" "$work/nat_forward-cleanup.json" >/dev/null || true
in_host "$work/undo-vm_interface.sh"
echo '{"domain": "bench-vm", "state": "absent", "mac": "52:54:00:be:00:11"}' >"$work/vm_interface-cleanup.json"
in_host "$(bin vm_interface)" "$work/vm_interface-cleanup.json" >/dev/null || true
in_host "$work/undo-libvirt_network.sh"
bench_virsh net-destroy bench-mod >/dev/null 2>&1 || true
bench_virsh net-undefine bench-mod >/dev/null 2>&1 || true
rm -rf "$roots"
