#!/usr/bin/env bash
# The benchmark suite (`make bench`; numbers, not pass/fail), on this machine:
#   1. modules   each module binary as a process on the test host: wall
#                time and peak RSS of a no-change and of a change run
#   2. per-task  the cost of one task over SSH, 30 no-change tasks, each
#                kvmnet module beside the Python module doing the same job,
#                with a trivial static binary module and ansible.builtin.ping
#                as floors
#   3. fleet     a playbook of the guide's sandbox-capable tasks, kvmnet and
#                its Python twin, against 20 inventory hosts, forks 5 and 20
#   4. sizes     the module binaries and the collection tarball
# then prints the results as markdown tables (also written to
# .build/bench/results/results.md; docs/performance.md holds a run's).
#
#   scripts/bench.sh [sizes] [modules] [per-task] [fleet]    default: all
#
# The test host is a network namespace of this machine (scripts/bench/rig.sh:
# the sandbox libvirtd and an sshd; the controller in a namespace of its own,
# over a veth pair). Everything started here is stopped on exit, and a run
# left over by an interrupted one is taken down first.
set -euo pipefail
# shellcheck source=scripts/bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench/common.sh"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(sizes modules per-task fleet)
for p in "${parts[@]}"; do
  case $p in sizes | modules | per-task | fleet) ;; *) bench_die "unknown part '$p' (sizes, modules, per-task, fleet)" ;; esac
done
[ -x "$BENCH_BIN/libvirt_network_$ARCH" ] || bench_die "build the collection first (make collection)"
started=$(date +%s)

"$BENCH_DIR/setup.sh"
"$BENCH_DIR/rig.sh" down >/dev/null 2>&1 || true
trap '"$BENCH_DIR/rig.sh" down >/dev/null 2>&1 || bench_say "warning: rig.sh down failed; run scripts/bench/rig.sh down"' EXIT
trap 'exit 130' INT TERM
"$BENCH_DIR/rig.sh" up

rm -rf "$BENCH_RESULTS"
mkdir -p "$BENCH_RESULTS"
{
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'commit\t%s\n' "$(git -C "$BENCH_REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$BENCH_REPO" diff --quiet HEAD -- modules collection scripts/bench.sh scripts/bench 2>/dev/null || echo ' plus uncommitted changes to modules/, collection/ or scripts/bench')"
  printf 'CPU\t%s, %s cores (nproc)\n' "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)" "$(nproc)"
  printf 'memory\t%s GiB\n' "$(awk '/^MemTotal/ { printf "%.1f", $2 / 1024 / 1024 }' /proc/meminfo)"
  printf 'kernel\t%s\n' "$(uname -sr)"
  printf 'OS\t%s\n' "$(. /etc/os-release && echo "$PRETTY_NAME")"
  printf 'ansible-core (controller)\t%s, Python %s\n' \
    "$("$BENCH_VENV/bin/python" -c 'import ansible.release as r; print(r.__version__)')" \
    "$("$BENCH_VENV/bin/python" -c 'import platform; print(platform.python_version())')"
  printf 'community.libvirt\t%s\n' "$("$BENCH_VENV/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["collection_info"]["version"])' "$BENCH_BUILD/pycollections/ansible_collections/community/libvirt/MANIFEST.json")"
  printf 'target\tPython %s, libvirt %s, OpenSSH %s, netplan %s\n' \
    "$(/usr/bin/python3 -c 'import platform; print(platform.python_version())')" \
    "$(dpkg-query -W -f='${Version}' libvirt-daemon 2>/dev/null)" \
    "$(dpkg-query -W -f='${Version}' openssh-server 2>/dev/null)" \
    "$(dpkg-query -W -f='${Version}' netplan.io 2>/dev/null)"
} >"$BENCH_RESULTS/meta.tsv"

for p in "${parts[@]}"; do
  bench_say "== $p"
  "$BENCH_DIR/$p.sh"
done

secs=$(($(date +%s) - started))
printf 'bench run time\t%d min %02d s (%s)\n' $((secs / 60)) $((secs % 60)) "${parts[*]}" >>"$BENCH_RESULTS/meta.tsv"
"$BENCH_VENV/bin/python" "$BENCH_DIR/benchlib.py" report "$BENCH_RESULTS" >"$BENCH_RESULTS/results.md"
echo
cat "$BENCH_RESULTS/results.md"
bench_say "results in $BENCH_RESULTS (results.md; raw: *.tsv; logs under $BENCH_BUILD/work)"
