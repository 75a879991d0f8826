#!/usr/bin/env bash
# `molecule test` of the scenarios in molecule/ (all, or those named), the
# way a collection's CI runs them: from collection/, where Molecule 26
# finds them as extensions/molecule/ (a link to molecule/), with the
# collection tarball from dist/ installed. The rigs stay up between
# scenarios (KVMNET_KEEP_RIGS=1): each create restores the guest VM's
# snapshot instead of booting it, and tests/run-all.sh takes them down.
#   tests/ansible/test-molecule.sh [scenario...]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
venv=${KVMNET_VENV:-$repo/.build/venv}
export ANSIBLE_HOME=$repo/.build/ansible-home
export ANSIBLE_COLLECTIONS_PATH=$repo/.build/molecule-collections
export ANSIBLE_NOCOLOR=1 NO_COLOR=1 ANSIBLE_FORCE_COLOR=0
export KVMNET_KEEP_RIGS=${KVMNET_KEEP_RIGS:-1}
export PATH=$venv/bin:$PATH
eval "$(tests/rig/sandbox.sh env)"

scripts/install-collection.sh "$ANSIBLE_COLLECTIONS_PATH"

# The sandbox host's scenarios, then the guest VM's; whole-host last.
all=(default nat-default isolated macvtap port-forward
     bridged-host mgmt-and-vm-networks vlan-bridges bonded-bridge sriov whole-host)
scenarios=("${@:-${all[@]}}")
for s in "${scenarios[@]}"; do
  [ -f "molecule/$s/molecule.yml" ] || { echo "test-molecule: no scenario $s (have: ${all[*]})" >&2; exit 2; }
done
# Every scenario on disk is in the list above.
for f in molecule/*/molecule.yml; do
  s=$(basename "$(dirname "$f")")
  [[ " ${all[*]} " == *" $s "* ]] || { echo "test-molecule: scenario $s is not in the list" >&2; exit 2; }
done

cd collection
run() {
  local s t0
  for s in "$@"; do
    t0=$SECONDS
    molecule test -s "$s" || { echo "test-molecule: scenario $s FAILED after $((SECONDS - t0)) s"; return 1; }
    echo "test-molecule: scenario $s passed in $((SECONDS - t0)) s"
  done
}
# The two rigs are independent: the sandbox host's scenarios run beside
# the guest VM's (their output follows when both are done).
sandbox=() guest=()
for s in "${scenarios[@]}"; do
  if grep -q -- '- name: sandbox' "../molecule/$s/molecule.yml"; then sandbox+=("$s"); else guest+=("$s"); fi
done
log=$repo/.build/molecule-sandbox.log
rc=0
if [ ${#sandbox[@]} -gt 0 ] && [ ${#guest[@]} -gt 0 ]; then
  run "${sandbox[@]}" >"$log" 2>&1 &
  pid=$!
  run "${guest[@]}" || rc=1
  wait "$pid" || rc=1
  echo "--- the sandbox host's scenarios ($log):"
  cat "$log"
else
  run "${sandbox[@]}" "${guest[@]}" || rc=1
fi
exit "$rc"
