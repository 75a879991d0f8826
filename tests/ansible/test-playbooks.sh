#!/usr/bin/env bash
# The playbooks/ scenarios through ansible-playbook against the sandbox host,
# the way users run them: a --check --diff dry run that must predict changes
# and leave the host as it was, a real run, and a second run that must
# report changed=0. The sandbox must be up; it is left up.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
eval "$(tests/rig/sandbox.sh env)"
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
v() { virsh -q "$@"; }
snapshot() {
  local n
  for n in $(v net-list --all --name); do
    v net-dumpxml --inactive "$n"; v net-dumpxml "$n"; v net-info "$n"
  done
  # Without the operational state (column 2), which moves on its own.
  ip -n "$KVMNET_NS" -br link | awk '{$2=""; print}'
  ip -n "$KVMNET_NS" -br addr | awk '{$2=""; print}'
  for n in $(v list --all --name); do v dumpxml --inactive "$n"; done
  # What nat_forward may change: the firewall and the hook files.
  ip netns exec "$KVMNET_NS" sh -c 'iptables -S -t nat; iptables -S -t filter; nft -s list ruleset 2>/dev/null'
  find "$KVMNET_SANDBOX/etc/libvirt/hooks" 2>/dev/null | sort
}
# A guest for the vm_interface playbooks: firmware only (nothing to boot),
# with ACPI so that NICs hot-plug; defined afresh for each playbook.
fresh_guest() {
  v destroy t-pb >/dev/null 2>&1 || true
  v undefine t-pb >/dev/null 2>&1 || true
  grep -v -e '<kernel>' -e '<initrd>' -e '<cmdline>' tests/rig/os-guest/domain.xml |
    sed -e 's/@NAME@/t-pb/' -e "s|@CONSOLE@|$KVMNET_SANDBOX/t-pb.console|" >"$KVMNET_SANDBOX/t-pb.xml"
  v define "$KVMNET_SANDBOX/t-pb.xml" >/dev/null
  v start t-pb >/dev/null
}
recap() { sed -n 's/^sandbox *: //p' <<<"$1"; }
changed() { recap "$1" | sed -n 's/.*changed=\([0-9]*\).*/\1/p'; }
failed() { recap "$1" | sed -n 's/.*failed=\([0-9]*\).*/\1/p'; }

for pb in playbooks/nat-default.yml playbooks/isolated.yml playbooks/host-bridge.yml \
  playbooks/attach-vm-to-bridge.yml playbooks/macvtap.yml playbooks/port-forward.yml; do
  # Start from nothing: the scenario's networks are the sandbox's own.
  for n in default isolated host-bridge; do
    v net-destroy "$n" >/dev/null 2>&1 || true
    v net-undefine "$n" >/dev/null 2>&1 || true
  done
  case $pb in *attach-vm* | *macvtap*) fresh_guest ;; esac
  # The forward needs its NAT network; its hook files go under the sandbox.
  extra=()
  case $pb in *port-forward*)
    scripts/sandbox-playbook.sh playbooks/nat-default.yml >/dev/null || fail "nat-default.yml before $pb"
    extra=(-e "kvmnet_root_dir=$KVMNET_SANDBOX") ;;
  esac
  before=$(snapshot)
  out=$(scripts/sandbox-playbook.sh "$pb" "${extra[@]}" --check --diff) || fail "$pb --check: $out"
  [ "$(failed "$out")" = 0 ] && [ "$(changed "$out")" -gt 0 ] || fail "$pb --check predicted no change: $out"
  grep -q '^+++ after' <<<"$out" || fail "$pb --check --diff showed no diff: $out"
  [ "$(snapshot)" = "$before" ] || fail "$pb --check changed the host: $(diff <(echo "$before") <(snapshot))"
  pass "$pb --check --diff predicts $(changed "$out") change(s), host unchanged"
  out=$(scripts/sandbox-playbook.sh "$pb" "${extra[@]}") || fail "$pb: $out"
  [ "$(changed "$out")" -gt 0 ] || fail "$pb first run changed nothing: $out"
  pass "$pb applies ($(recap "$out"))"
  case $pb in
    *attach-vm*) v domiflist t-pb | grep -Eq ' bridge +br-host +virtio ' || fail "$pb: no NIC on br-host: $(v domiflist t-pb)"
      v domiflist t-pb --inactive | grep -Eq ' bridge +br-host +virtio ' || fail "$pb: not in the definition" ;;
    *macvtap*) v domiflist t-pb | grep -Eq ' direct +eth-up1 ' || fail "$pb: no macvtap NIC on eth-up1: $(v domiflist t-pb)" ;;
    *port-forward*)
      [ "$(ip netns exec "$KVMNET_NS" iptables -S -t nat | grep 'kvmnet:web:' | grep -c -- '--dport 80 .*-j DNAT --to-destination 192.168.122.10:80')" = 1 ] ||
        fail "$pb: no DNAT rule: $(ip netns exec "$KVMNET_NS" iptables -S -t nat)"
      ip netns exec "$KVMNET_NS" iptables -S FORWARD | head -2 | grep -q 'kvmnet:web:' || fail "$pb: the accept is not on top of FORWARD"
      [ -f "$KVMNET_SANDBOX/etc/libvirt/hooks/kvmnet/forwards/web.json" ] || fail "$pb: forward not saved for the hook" ;;
  esac
  out=$(scripts/sandbox-playbook.sh "$pb" "${extra[@]}") || fail "$pb second run: $out"
  [ "$(changed "$out")" = 0 ] || fail "$pb second run is not idempotent: $out"
  pass "$pb second run changed=0"
done
v destroy t-pb >/dev/null 2>&1 || true
v undefine t-pb >/dev/null 2>&1 || true
# The forward, its hook and its saved copy go again.
echo "{\"name\": \"web\", \"state\": \"absent\", \"root_dir\": \"$KVMNET_SANDBOX\"}" >"$KVMNET_SANDBOX/pf-absent.json"
ip netns exec "$KVMNET_NS" collection/plugins/modules/nat_forward "$KVMNET_SANDBOX/pf-absent.json" | grep -q '"changed":true' ||
  fail "removing the port-forward.yml forward"
