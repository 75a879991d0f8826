#!/usr/bin/env bash
# Per-task cost over SSH (the rig of scripts/bench/rig.sh must be up): for
# each group of scripts/bench/pertask.yml, one playbook converges each
# member's job once, then runs a marker task and 30 no-change tasks of each
# member, interleaved: a kvmnet module, the Python module doing the same
# job, that Python module with pipelining on, the kvmnet module again...
# A task's cost is the controller's time from the previous task's result to
# its own (callback bench_timer), averaged over a member's 30 tasks. The
# floors (a trivial static binary module, ansible.builtin.ping) are a group
# of their own; so are the kvmnet modules with the platform facts gathered
# beforehand (then the action plugin needs no `uname`).
#   per-task.sh [GROUP...]      default: all
# Writes $BENCH_RESULTS/per-task.tsv: variant, ms per task, group, the
# group's playbook wall ms.
set -euo pipefail
# shellcheck source=scripts/bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_ansible_env

TASKS=${BENCH_TASKS:-30}
py() { PYTHONDONTWRITEBYTECODE=1 "$BENCH_VENV/bin/python" "$BENCH_DIR/benchlib.py" "$@"; }

work=$BENCH_BUILD/work/per-task
mkdir -p "$work" "$BENCH_RESULTS"
inventory=$work/inventory.yml
bench_inventory "$inventory"
mkdir -p "$BENCH_RIG/roots/kvmnet/etc/netplan" "$BENCH_RIG/roots/python/etc/netplan"

# vm_interface's guest: defined, not running.
if ! bench_virsh dominfo bench-vm >/dev/null 2>&1; then
  sed -e 's/@NAME@/bench-vm/' -e 's/@NETWORK@/bench-nat/' "$BENCH_REPO/tests/rig/guest-domain.xml" >"$work/bench-vm.xml"
  bench_virsh define "$work/bench-vm.xml" >/dev/null
fi

if [ $# -gt 0 ]; then
  groups=("$@")
else
  # libvirt_network first: nat_forward and vm_interface use its network.
  groups=(floors libvirt_network nat_forward netplan_bridge netplan_bond vm_interface facts)
fi

out=$BENCH_RESULTS/per-task.tsv
# All groups: a new file; some: added to what is there.
if [ $# -eq 0 ] || [ ! -f "$out" ]; then printf '# variant\tms_per_task\tgroup\tplaybook_wall_ms\n' >"$out"; fi
for g in "${groups[@]}"; do
  pb=$work/$g.yml
  py pertask-playbook "$g" "$pb" --tasks "$TASKS"
  export BENCH_TIMES=$work/$g.times.json
  rm -f "$BENCH_TIMES"
  start=$(now_ms)
  bench_playbook -i "$inventory" "$pb" >"$work/$g.log" 2>&1 ||
    bench_die "$g: ansible-playbook failed; see $work/$g.log"
  wall=$(($(now_ms) - start))
  py pertask-result "$g" "$BENCH_TIMES" --tasks "$TASKS" >"$work/$g.result" || bench_die "$g: see $work/$g.log"
  while IFS=$'\t' read -r v ms; do
    printf '%s\t%s\t%s\t%s\n' "$v" "$ms" "$g" "$wall" >>"$out"
    awk -v v="$v" -v ms="$ms" 'BEGIN { printf "%-28s %8s ms per task\n", v, ms }' >&2
  done <"$work/$g.result"
  awk -v g="$g" -v w="$wall" 'BEGIN { printf "  (group %s: playbook %.1f s)\n", g, w / 1000 }' >&2
done
