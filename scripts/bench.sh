#!/usr/bin/env bash
# Benchmarks (numbers, not pass/fail): the cost of no-change runs of
# libvirt_network, vm_interface and nat_forward against the sandbox libvirtd, next to
# the cost of a bare libvirt connect; the netplan modules offline; binary
# sizes; which binaries link libvirt.
# Uses hyperfine (installed from Debian's packages when missing).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
command -v hyperfine >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hyperfine >/dev/null
}
tests/rig/sandbox.sh up
eval "$(tests/rig/sandbox.sh env)"
bin=$repo/collection/plugins/modules
arch=$(uname -m)   # the collection ships <name>_<arch> for each architecture
[ -x "$bin/libvirt_network_$arch" ] || { echo "bench: build the collection first (make collection)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/args.json" <<'JSON'
{"name": "bench-net", "forward": {"mode": "nat"}, "autostart": true,
 "ips": [{"address": "10.66.0.1", "prefix": 24,
          "dhcp": {"ranges": [{"start": "10.66.0.100", "end": "10.66.0.200"}],
                   "hosts": [{"mac": "52:54:00:66:00:01", "name": "a", "ip": "10.66.0.10"}]}}],
 "dns": {"forwarders": [{"addr": "1.1.1.1"}], "hosts": [{"ip": "10.66.0.20", "hostnames": ["db"]}]},
 "_ansible_check_mode": false, "_ansible_diff": true}
JSON
in_ns() { ip netns exec "$KVMNET_NS" env LIBVIRT_DEFAULT_URI="$LIBVIRT_DEFAULT_URI" "$@"; }
first=$(in_ns "$bin/libvirt_network_$arch" "$work/args.json")
grep -q '"changed":true' <<<"$first" || { echo "bench: setup run did not create the network: $first" >&2; exit 1; }
second=$(in_ns "$bin/libvirt_network_$arch" "$work/args.json")
grep -q '"changed":false' <<<"$second" || { echo "bench: second run is not a no-change run: $second" >&2; exit 1; }

echo "== no-change run vs. a bare libvirt connect (virsh uri), inside the sandbox namespace"
in_ns hyperfine -N --warmup 5 --runs 100 \
  -n "libvirt_network (no change)" "$bin/libvirt_network_$arch $work/args.json" \
  -n "virsh uri (connect only)" "virsh -q uri"

echo
echo "== netplan_bridge no-change run (root_dir: file + whole netplan config read, rendered, compared; no netplan generate)"
root=$work/root
mkdir -p "$root/etc/netplan"
printf 'network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n' >"$root/etc/netplan/50-cloud-init.yaml"
chmod 600 "$root/etc/netplan/50-cloud-init.yaml"
cat >"$work/bridge.json" <<JSON
{"name": "br0", "interfaces": ["eth0"], "addresses": ["192.168.1.10/24"], "root_dir": "$root",
 "routes": [{"to": "default", "via": "192.168.1.1"}], "parameters": {"stp": false, "forward_delay": 0}}
JSON
"$bin/netplan_bridge_$arch" "$work/bridge.json" | grep -q '"changed":true' || { echo "bench: netplan_bridge setup run failed" >&2; exit 1; }
"$bin/netplan_bridge_$arch" "$work/bridge.json" | grep -q '"changed":false' || { echo "bench: netplan_bridge second run changed" >&2; exit 1; }
hyperfine -N --warmup 5 --runs 200 -n "netplan_bridge (no change)" "$bin/netplan_bridge_$arch $work/bridge.json"

echo
echo "== netplan_bond no-change run (root_dir, the same configuration plus the bridge's file)"
cat >"$work/bond.json" <<JSON
{"name": "bond0", "interfaces": ["eth1", "eth2"], "root_dir": "$root",
 "parameters": {"mode": "802.3ad", "lacp_rate": "fast", "mii_monitor_interval": 100, "transmit_hash_policy": "layer3+4"}}
JSON
"$bin/netplan_bond_$arch" "$work/bond.json" | grep -q '"changed":true' || { echo "bench: netplan_bond setup run failed" >&2; exit 1; }
"$bin/netplan_bond_$arch" "$work/bond.json" | grep -q '"changed":false' || { echo "bench: netplan_bond second run changed" >&2; exit 1; }
hyperfine -N --warmup 5 --runs 200 -n "netplan_bond (no change)" "$bin/netplan_bond_$arch $work/bond.json"

echo
echo "== vm_interface no-change run (a bridge NIC of a running firmware guest: live and persistent XML read and compared)"
grep -v -e '<kernel>' -e '<initrd>' -e '<cmdline>' tests/rig/os-guest/domain.xml |
  sed -e 's/@NAME@/bench-vm/' -e "s|@CONSOLE@|$KVMNET_SANDBOX/bench-vm.console|" >"$work/vm.xml"
virsh -q destroy bench-vm >/dev/null 2>&1 || true
virsh -q undefine bench-vm >/dev/null 2>&1 || true
virsh -q define "$work/vm.xml" >/dev/null && virsh -q start bench-vm >/dev/null
echo '{"domain": "bench-vm", "type": "bridge", "source": {"bridge": "br-host"}, "mac": "52:54:00:be:00:01"}' >"$work/vm.json"
in_ns "$bin/vm_interface_$arch" "$work/vm.json" | grep -q '"changed":true' || { echo "bench: vm_interface setup run failed" >&2; exit 1; }
in_ns "$bin/vm_interface_$arch" "$work/vm.json" | grep -q '"changed":false' || { echo "bench: vm_interface second run changed" >&2; exit 1; }
in_ns hyperfine -N --warmup 5 --runs 100 \
  -n "vm_interface (no change)" "$bin/vm_interface_$arch $work/vm.json" \
  -n "virsh domiflist (connect + one domain's XML)" "virsh -q domiflist bench-vm"
virsh -q destroy bench-vm >/dev/null; virsh -q undefine bench-vm >/dev/null

echo
echo "== nat_forward no-change run (libvirt network read, firewall detected, iptables + nft listed, hook state read)"
echo '{"name": "bench-fwd", "network": "bench-net", "dest": "10.66.0.10", "host_port": 8080, "dest_port": 80}' >"$work/fwd.json"
in_ns "$bin/nat_forward_$arch" "$work/fwd.json" | grep -q '"changed":true' || { echo "bench: nat_forward setup run failed" >&2; exit 1; }
in_ns "$bin/nat_forward_$arch" "$work/fwd.json" | grep -q '"changed":false' || { echo "bench: nat_forward second run changed" >&2; exit 1; }
in_ns hyperfine -N --warmup 5 --runs 100 \
  -n "nat_forward (no change)" "$bin/nat_forward_$arch $work/fwd.json" \
  -n "iptables -S -t nat (one listing)" "iptables -w -S -t nat"
echo '{"name": "bench-fwd", "state": "absent"}' >"$work/fwd-absent.json"
in_ns "$bin/nat_forward_$arch" "$work/fwd-absent.json" >/dev/null

echo
echo "== binaries (stripped, release profile)"
for f in "$bin"/*; do
  case $f in *.py) continue ;; esac
  printf '%-20s %8d bytes  links libvirt: %s\n' "$(basename "$f")" "$(stat -c %s "$f")" \
    "$(ldd "$f" | grep -q libvirt && echo yes || echo no)"
done
virsh -q net-destroy bench-net >/dev/null; virsh -q net-undefine bench-net >/dev/null
