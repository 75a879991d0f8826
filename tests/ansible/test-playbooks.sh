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
}
recap() { sed -n 's/^sandbox *: //p' <<<"$1"; }
changed() { recap "$1" | sed -n 's/.*changed=\([0-9]*\).*/\1/p'; }
failed() { recap "$1" | sed -n 's/.*failed=\([0-9]*\).*/\1/p'; }

for pb in playbooks/nat-default.yml playbooks/isolated.yml playbooks/host-bridge.yml; do
  # Start from nothing: the scenario's networks are the sandbox's own.
  for n in default isolated host-bridge; do
    v net-destroy "$n" >/dev/null 2>&1 || true
    v net-undefine "$n" >/dev/null 2>&1 || true
  done
  before=$(snapshot)
  out=$(scripts/sandbox-playbook.sh "$pb" --check --diff) || fail "$pb --check: $out"
  [ "$(failed "$out")" = 0 ] && [ "$(changed "$out")" -gt 0 ] || fail "$pb --check predicted no change: $out"
  grep -q '^+++ after' <<<"$out" || fail "$pb --check --diff showed no diff: $out"
  [ "$(snapshot)" = "$before" ] || fail "$pb --check changed the host: $(diff <(echo "$before") <(snapshot))"
  pass "$pb --check --diff predicts $(changed "$out") change(s), host unchanged"
  out=$(scripts/sandbox-playbook.sh "$pb") || fail "$pb: $out"
  [ "$(changed "$out")" -gt 0 ] || fail "$pb first run changed nothing: $out"
  pass "$pb applies ($(recap "$out"))"
  out=$(scripts/sandbox-playbook.sh "$pb") || fail "$pb second run: $out"
  [ "$(changed "$out")" = 0 ] || fail "$pb second run is not idempotent: $out"
  pass "$pb second run changed=0"
done
