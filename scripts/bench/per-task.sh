#!/usr/bin/env bash
# Per-task cost over SSH (the rig of scripts/bench/rig.sh must be up): for
# each variant of scripts/bench/pertask.yml, one playbook converges the job
# once, then runs a marker task and 30 no-change tasks; the cost of a task
# is the controller's time from the marker's result to the 30th task's,
# divided by 30 (callback bench_timer). Each kvmnet module runs beside the
# Python module doing the same job, the floors beside them; the Python
# variants run again with pipelining on, the kvmnet ones with the platform
# facts gathered beforehand (then the action plugin needs no `uname`).
#   per-task.sh [VARIANT...]      default: all
# Writes $BENCH_RESULTS/per-task.tsv: variant, ms per task, playbook wall ms.
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
  variants=("$@")
else
  # kvmnet beside its Python twin; libvirt_network first (nat_forward and
  # vm_interface use its network); the pipelined Python variants last.
  variants=(trivial ping libvirt_network virt_net nat_forward iptables
    netplan_bridge template_bridge netplan_bond template_bond vm_interface
    ping+pipelining virt_net+pipelining iptables+pipelining
    template_bridge+pipelining template_bond+pipelining
    libvirt_network+facts nat_forward+facts netplan_bridge+facts
    netplan_bond+facts vm_interface+facts)
fi

out=$BENCH_RESULTS/per-task.tsv
# All variants: a new file; some: added to what is there.
if [ $# -eq 0 ] || [ ! -f "$out" ]; then printf '# variant\tms_per_task\tplaybook_wall_ms\n' >"$out"; fi
for v in "${variants[@]}"; do
  base=${v%%+*}
  flags=()
  case $v in *+pipelining*) flags+=(--pipelining) ;; esac
  case $v in *+facts*) flags+=(--facts) ;; esac
  pb=$work/$v.yml
  py pertask-playbook "$base" "$pb" --tasks "$TASKS" "${flags[@]}"
  export BENCH_TIMES=$work/$v.times.json
  rm -f "$BENCH_TIMES"
  start=$(now_ms)
  bench_playbook -i "$inventory" "$pb" >"$work/$v.log" 2>&1 ||
    bench_die "$v: ansible-playbook failed; see $work/$v.log"
  wall=$(($(now_ms) - start))
  ms=$(py pertask-result "$base" "$BENCH_TIMES" --tasks "$TASKS") || bench_die "$v: see $work/$v.log"
  printf '%s\t%s\t%s\n' "$v" "$ms" "$wall" >>"$out"
  awk -v v="$v" -v ms="$ms" -v w="$wall" 'BEGIN { printf "%-28s %8s ms per task   (playbook %5.1f s)\n", v, ms, w / 1000 }' >&2
done
