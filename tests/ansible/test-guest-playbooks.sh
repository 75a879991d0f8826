#!/usr/bin/env bash
# The guide's netplan playbooks through ansible-playbook over SSH into the
# guest VM: a --check --diff dry run that must predict changes and leave
# the guest as it was, a real run, and a second run with changed=0. Each
# playbook starts from a clean guest. The guest must be up
# (tests/rig/guest/guest.sh up); it is left up.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
venv=${KVMNET_VENV:-$repo/.build/venv}
export ANSIBLE_HOME=$repo/.build/ansible-home
export ANSIBLE_COLLECTIONS_PATH=$repo/.build/guest-collections
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
eval "$(tests/rig/guest/guest.sh env)"
inventory=$(tests/rig/guest/guest.sh inventory)
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
g() { tests/rig/guest/guest.sh ssh "$@"; }
scripts/install-collection.sh "$ANSIBLE_COLLECTIONS_PATH"

clean() {
  g 'virsh -q destroy t-pb 2>/dev/null; virsh -q undefine t-pb 2>/dev/null; echo 0 > /sys/class/net/enp1s0/device/sriov_numvfs' >/dev/null
  g 'rm -f /etc/netplan/60-kvmnet-*; for l in br0 br-vm br-vlan20 br-vlan30 enp0s4.20 enp0s4.30 bond0; do ip link del $l 2>/dev/null; done; netplan apply; ip link set enp0s3 down; ip link set enp0s4 down' >/dev/null
}
snapshot() {
  g 'for f in /etc/netplan/*; do stat -c "== %n %a" "$f"; cat "$f"; done; for d in $(virsh -q list --all --name); do virsh dumpxml --inactive $d; done; ip -d link show | sed -E "s/ [a-z_]+_timer +[0-9.]+//g; s/state [A-Z]+ //; s/NO-CARRIER,//; s/,LOWER_UP//"'
}
play() { "$venv/bin/ansible-playbook" -i "$inventory" -e @tests/ansible/guest-vars.yml -e target=guest "$@"; }
changed() { sed -n 's/^guest *:.*changed=\([0-9]*\).*/\1/p' <<<"$1"; }
failed() { sed -n 's/^guest *:.*failed=\([0-9]*\).*/\1/p' <<<"$1"; }

# The guide's "Attach VF to VM" needs VFs and a defined guest.
vf_guest() {
  g "echo ${1:-2} > /sys/class/net/enp1s0/device/sriov_numvfs; printf '%s' \"<domain type='qemu'><name>t-pb</name><memory unit='MiB'>32</memory><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><memballoon model='none'/></devices></domain>\" > /tmp/t-pb.xml; virsh -q define /tmp/t-pb.xml" >/dev/null
}

for pb in playbooks/bridge-static.yml playbooks/mgmt-and-vm-networks.yml playbooks/vlan-bridges.yml playbooks/bonded-bridge.yml \
  playbooks/attach-vf.yml playbooks/sriov.yml; do
  clean
  [ "$pb" = playbooks/attach-vf.yml ] && vf_guest
  [ "$pb" = playbooks/sriov.yml ] && vf_guest 0
  before=$(snapshot)
  out=$(play "$pb" --check --diff) || fail "$pb --check: $out"
  [ "$(failed "$out")" = 0 ] && [ "$(changed "$out")" -gt 0 ] || fail "$pb --check predicted no change: $out"
  grep -q '^+++ after' <<<"$out" || fail "$pb --check --diff showed no diff: $out"
  [ "$(snapshot)" = "$before" ] || fail "$pb --check changed the guest"
  pass "$pb --check --diff predicts $(changed "$out") change(s), guest unchanged"
  out=$(play "$pb") || fail "$pb: $out"
  [ "$(changed "$out")" -gt 0 ] || fail "$pb first run changed nothing: $out"
  pass "$pb applies in the guest"
  if [ "$pb" = playbooks/bonded-bridge.yml ]; then
    [ "$(g cat /sys/class/net/bond0/bonding/mode)" = "802.3ad 4" ] || fail "bond0 is not in 802.3ad mode"
    # networkd enslaves in its own order.
    [ "$(g cat /sys/class/net/bond0/bonding/slaves | tr ' ' '\n' | sort | xargs)" = "enp0s3 enp0s4" ] || fail "bond0's members"
    [ "$(g 'basename $(readlink /sys/class/net/bond0/master)')" = br0 ] || fail "bond0 is not a port of br0"
    pass "$pb: bond0 in 802.3ad over enp0s3 and enp0s4, a port of br0"
  fi
  if [ "$pb" = playbooks/attach-vf.yml ]; then
    vf0=$(g 'basename $(readlink /sys/class/net/enp1s0/device/virtfn0)')
    xml=$(g 'virsh dumpxml --inactive t-pb')
    grep -q "<interface type='hostdev'" <<<"$xml" && grep -q "slot='0x${vf0:8:2}'" <<<"$xml" && grep -q "<tag id='42'/>" <<<"$xml" ||
      fail "$pb: t-pb lacks VF $vf0 with VLAN 42: $xml"
    pass "$pb: t-pb holds VF $vf0 of enp1s0 as a hostdev NIC, VLAN 42"
  fi
  if [ "$pb" = playbooks/sriov.yml ]; then
    [ "$(g cat /sys/class/net/enp1s0/device/sriov_numvfs)" = 4 ] || fail "$pb: enp1s0 has not 4 VFs"
    g grep -q 'virtual-function-count: 4' /etc/netplan/60-kvmnet-sriov-enp1s0.yaml || fail "$pb: no netplan VF count"
    g ip link show enp1s0 | grep -q 'vf 0 .*52:54:00:5f:00:10' || fail "$pb: VF 0 has not its MAC"
    g virsh dumpxml --inactive t-pb | grep -q "<mac address='52:54:00:5f:00:10'/>" || fail "$pb: t-pb lacks VF 0"
    pass "$pb: 4 VFs kept by netplan, VF 0 with its MAC handed to t-pb"
  fi
  out=$(play "$pb") || fail "$pb second run: $out"
  [ "$(changed "$out")" = 0 ] || fail "$pb second run is not idempotent: $out"
  pass "$pb second run changed=0"
done
clean
