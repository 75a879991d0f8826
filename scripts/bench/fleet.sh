#!/usr/bin/env bash
# The fleet benchmark (the rig of scripts/bench/rig.sh must be up): the
# fleet playbooks (scripts/bench/fleet/: the guide's sandbox-capable tasks
# with kvmnet, and the Python-module twin doing the same jobs) against 20
# inventory hosts, aliases of the one test host, each with its own SSH
# connection. Each playbook first converges through one alias; then every
# measured run is a no-change run of all 20 with warm SSH connections, with
# forks 5 (Ansible's default) and 20.
#   fleet.sh
# Writes $BENCH_RESULTS/fleet.tsv: playbook, forks, wall s, tasks per host,
# hosts, module runs per host.
set -euo pipefail
# shellcheck source=scripts/bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_ansible_env

HOSTS=${BENCH_FLEET_HOSTS:-20}
FORKS=${BENCH_FLEET_FORKS:-5 20}
py() { PYTHONDONTWRITEBYTECODE=1 "$BENCH_VENV/bin/python" "$BENCH_DIR/benchlib.py" "$@"; }

work=$BENCH_BUILD/work/fleet
mkdir -p "$work" "$BENCH_RESULTS"
inventory=$work/inventory.yml
bench_inventory "$inventory" "$HOSTS"
out=$BENCH_RESULTS/fleet.tsv
printf '# playbook\tforks\twall_s\ttasks_per_host\thosts\tmodule_runs_per_host\n' >"$out"
for pb in kvmnet python; do
  mkdir -p "$BENCH_RIG/roots/fleet-$pb/etc/netplan" "$BENCH_RIG/roots/fleet-$pb/etc/libvirt/hooks"
done

run() { # name log [ansible-playbook args...]
  local name=$1 log=$2
  shift 2
  export BENCH_TIMES=$work/$name.times.json
  rm -f "$BENCH_TIMES"
  bench_playbook -i "$inventory" "$@" >"$log" 2>&1 || bench_die "fleet $name failed; see $log"
}

# Converge through one alias (20 at once would race to create the same
# networks), twice: the second run must change nothing.
for pb in kvmnet python; do
  run "converge-$pb" "$work/converge-$pb.log" --limit fleet01 "$BENCH_DIR/fleet/$pb.yml"
  run "converge2-$pb" "$work/converge2-$pb.log" --limit fleet01 "$BENCH_DIR/fleet/$pb.yml"
  read -r _ _ changed < <(py fleet-result "$BENCH_TIMES" 1)
  [ "$changed" = 0 ] || bench_die "fleet $pb: the second converge run changed $changed tasks; see $work/converge2-$pb.log"
done
# One SSH connection per alias, opened before the clock runs.
run warm "$work/warm.log" --forks "$HOSTS" "$BENCH_DIR/fleet/warm.yml"

for forks in $FORKS; do
  for pb in kvmnet python; do
    name=$pb-forks$forks
    start=$(now_ms)
    run "$name" "$work/$name.log" --forks "$forks" "$BENCH_DIR/fleet/$pb.yml"
    wall=$(($(now_ms) - start))
    read -r tasks runs changed < <(py fleet-result "$BENCH_TIMES" "$HOSTS") || bench_die "fleet $name: see $work/$name.log"
    [ "$changed" = 0 ] || bench_die "fleet $name: not a no-change run ($changed changed); see $work/$name.log"
    wall_s=$(awk -v w="$wall" 'BEGIN { printf "%.2f", w / 1000 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$pb" "$forks" "$wall_s" "$tasks" "$HOSTS" "$runs" >>"$out"
    printf 'fleet %-7s forks %-3s %7s s  (%s hosts x %s tasks, %s module runs each)\n' "$pb" "$forks" "$wall_s" "$HOSTS" "$tasks" "$runs" >&2
  done
done
