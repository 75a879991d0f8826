#!/usr/bin/env bash
# Prove that every module binary in OUTDIR (<name>_<arch>, as
# scripts/build-binaries.sh makes them) runs on its architecture: natively
# for this machine's, under qemu-user for the other (qemu-aarch64 on an
# x86_64 host, invoked directly: no binfmt_misc registration needed; the
# glibc ones load /lib/ld-linux-aarch64.so.1 and libvirt.so.0 from Debian's
# arm64 multiarch packages, see scripts/setup-cross.sh). For each binary:
#   - `--doc` prints the documentation (non-empty, has DOCUMENTATION);
#   - an args file with an unknown option gets Ansible's "Unsupported
#     parameters" failure, as JSON;
#   - runs with real tasks, each an args file with the _ansible_* keys
#     Ansible sends, whose JSON result is checked: libvirt_network and
#     vm_interface against libvirt's test driver (test:///default, in
#     memory, no daemon), check mode and real runs; nat_forward and
#     sriov_vfs read-only (check mode) up to a host-specific refusal;
#     netplan_bond and netplan_bridge write their file under a scratch
#     root_dir through `netplan generate` (netplan.io must be installed),
#     and refuse a bad combination of options.
# Nothing on this machine changes: every run is in check mode, against the
# test driver, or under a scratch root_dir.
# Usage: tests/cross/test-binaries.sh OUTDIR
# Env: KVMNET_ARCHES (default "x86_64 aarch64", scripts/build-vars.sh): whose
#        binaries must be in OUTDIR;
#      KVMNET_QEMU_<arch> (e.g. KVMNET_QEMU_aarch64): the qemu-user binary
#        for a foreign arch (default qemu-<arch>-static, else qemu-<arch>,
#        from PATH).
set -euo pipefail

say() { printf 'test-binaries: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
[ -d "$1" ] || die "$1 is not a directory"
out=$(cd "$1" && pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
# shellcheck source=scripts/build-vars.sh
source scripts/build-vars.sh   # kvmnet_modules, kvmnet_arches (KVMNET_ARCHES)
arches=("${kvmnet_arches[@]}")
[ ${#arches[@]} -gt 0 ] || die "KVMNET_ARCHES is empty"
command -v python3 >/dev/null || die "python3 is needed to read the modules' JSON"
command -v netplan >/dev/null || die "netplan is needed by the netplan modules' runs (apt install netplan.io)"

names=("${kvmnet_modules[@]}")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# How to start a binary of ARCH here: nothing for the host's own, else
# qemu-user with / as the guest's root (where the arm64 multiarch loader
# and libraries are). -L / explicitly: Debian's qemu-user-static otherwise
# looks in /etc/qemu-binfmt/<arch> first.
runner=()
set_runner() {
  local arch=$1 var="KVMNET_QEMU_$1" q=""
  runner=()
  [ "$arch" != "$(uname -m)" ] || return 0
  if [ -n "${!var:-}" ]; then
    q=${!var}
  else
    q=$(command -v "qemu-$arch-static" || command -v "qemu-$arch") ||
      die "no qemu-$arch-static or qemu-$arch to run $arch binaries (scripts/setup-cross.sh installs qemu-user-static)"
  fi
  runner=("$q" -L /)
}

# The args file Ansible writes for a binary module: the task's options and
# the _ansible_* keys (modules/core/src/args.rs acts on check_mode, diff,
# no_log and verbosity and must ignore the rest, so some of those are sent
# too).
mkargs() {   # mkargs FILE MODULE MODE OPTIONS_JSON; MODE: run, check, diff, check+diff
  python3 - "$@" <<'EOF'
import json, sys
path, module, mode, options = sys.argv[1:]
args = json.loads(options)
args.update({
    "_ansible_check_mode": "check" in mode,
    "_ansible_diff": "diff" in mode,
    "_ansible_no_log": False,
    "_ansible_verbosity": 0,
    "_ansible_debug": False,
    "_ansible_keep_remote_files": False,
    "_ansible_module_name": "kvmnet.network." + module,
    "_ansible_version": "2.20.0",
    "_ansible_string_conversion_action": "warn",
    "_ansible_selinux_special_fs": ["fuse", "nfs", "vboxsf", "ramfs", "9p", "vfat"],
    "_ansible_syslog_facility": "LOG_USER",
    "_ansible_shell_executable": "/bin/sh",
    "_ansible_tmpdir": None,
    "_ansible_remote_tmp": "~/.ansible/tmp",
    "_ansible_target_log_info": None,
})
json.dump(args, open(path, "w"))
EOF
}

# Check a run's stdout: exactly one JSON object, the exit code Ansible's
# convention implies (1 when failed), and EXPECT, a Python expression over
# the result `r`.
check_result() {   # check_result STDOUT_FILE RC EXPECT
  python3 - "$@" <<'EOF'
import json, sys
path, rc, expect = sys.argv[1:]
text = open(path).read()
try:
    r = json.loads(text)
except ValueError as e:
    sys.exit(f"not one JSON object ({e}): {text[:2000]!r}")
if not isinstance(r, dict):
    sys.exit(f"not a JSON object: {text[:2000]!r}")
if int(rc) != (1 if r.get("failed") else 0):
    sys.exit(f"exit code {rc} does not go with failed={r.get('failed')}: {text[:2000]}")
if not eval(expect, {}, {"r": r}):
    sys.exit(f"expected {expect}, got: {text[:2000]}")
EOF
}

failures=0 runs=0
bin="" name=""
fail() { say "FAIL: $*"; failures=$((failures + 1)); }

# One task: write its args file, run the binary on it, check the result.
task() {   # task LABEL MODE OPTIONS_JSON EXPECT
  local label=$1 mode=$2 options=$3 expect=$4 rc=0 why
  mkargs "$tmp/args.json" "$name" "$mode" "$options"
  "${runner[@]}" "$bin" "$tmp/args.json" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  runs=$((runs + 1))
  if why=$(check_result "$tmp/stdout" "$rc" "$expect" 2>&1); then
    printf '  ok   %-10s %s\n' "$mode" "$label"
  else
    fail "$(basename "$bin"), $label ($mode): $why${why:+ }$(head -c 500 "$tmp/stderr")"
  fi
}

# --- Each module's real tasks. Every test:///default connection is a fresh
# in-memory host (network "default", NAT 192.168.122.0/24 on virbr0; domain
# "test" running, one NIC aa:bb:cc:dd:ee:ff on network default).
ranges='"ranges": [{"start": "192.168.122.2", "end": "192.168.122.254"}]'
web1='"hosts": [{"mac": "52:54:00:6c:3c:01", "name": "web1", "ip": "192.168.122.50"}]'
default_net() {   # default_net [DHCP_EXTRA]: test:///default's network "default"
  echo "{\"name\": \"default\", \"uri\": \"test:///default\", \"forward\": {\"mode\": \"nat\"},
    \"ips\": [{\"address\": \"192.168.122.1\", \"prefix\": 24, \"dhcp\": {$ranges${1:+, $1}}}]}"
}

tasks_libvirt_network() {
  task "test driver: default network as it is, nothing to do" run \
    "$(default_net)" \
    'r["changed"] is False and r["actions"] == [] and r["active"] is True'
  task "test driver: a DHCP host added, predicted with a diff" check+diff \
    "$(default_net "$web1")" \
    'r["changed"] is True and "web1" in r["diff"]["after"] and "web1" not in r["diff"]["before"]'
  task "test driver: a DHCP host added live (update, then verified)" run \
    "$(default_net "$web1")" \
    'r["changed"] is True and any("add ip-dhcp-host" in a for a in r["actions"]) and "web1" in r["xml"]'
  task "test driver: a new isolated network defined and started" run \
    '{"name": "kvmnet-cross", "uri": "test:///default", "bridge": {"name": "virbr-kx"}, "ips": [{"address": "10.77.0.1", "prefix": 24}]}' \
    'r["changed"] is True and r["actions"] == ["define network kvmnet-cross", "start network kvmnet-cross"] and r["active"] is True'
  task "refused: a running network's subnet changed without allow_restart" check \
    '{"name": "default", "uri": "test:///default", "forward": {"mode": "nat"}, "ips": [{"address": "10.1.2.1", "prefix": 24}]}' \
    'r["failed"] is True and "allow_restart" in r["msg"]'
}

tasks_vm_interface() {
  # The test driver cannot attach or update devices: a change is shown in
  # check mode, a real run is the no-change one.
  task "test driver: the domain's NIC as it is, nothing to do" run \
    '{"domain": "test", "uri": "test:///default", "type": "network", "source": {"network": "default"}, "mac": "aa:bb:cc:dd:ee:ff"}' \
    'r["changed"] is False and r["target"] == "testnet0"'
  task "test driver: a second NIC attached, predicted with a diff" check+diff \
    '{"domain": "test", "uri": "test:///default", "type": "network", "source": {"network": "default"}, "mac": "52:54:00:12:34:56"}' \
    'r["changed"] is True and "52:54:00:12:34:56" in r["diff"]["after"] and len(r["actions"]) == 2'
  task "refused: type bridge without source.bridge" check \
    '{"domain": "test", "uri": "test:///default", "type": "bridge"}' \
    'r["failed"] is True and "type bridge needs source.bridge" in r["msg"]'
}

tasks_nat_forward() {
  # Check mode only: a real run would change this machine's firewall. The
  # backend is named, so that the module does not go looking for libvirt's
  # own rules for the test driver's network (there are none); it still
  # reads the firewall (iptables-save, nft listings) and the network.
  local fw="\"uri\": \"test:///default\", \"backend\": \"iptables\", \"root_dir\": \"$tmp/root\""
  task "test driver: port 8080 to a guest's 80, the rules predicted" check \
    "{\"name\": \"crosstest\", \"network\": \"default\", \"dest\": \"192.168.122.50\", \"host_port\": \"8080\", \"dest_port\": \"80\", $fw}" \
    'r["changed"] is True and len(r["rules"]) == 2 and "--to-destination 192.168.122.50:80" in r["rules"][0]'
  task "test driver: a guest address outside the network refused" check \
    "{\"name\": \"crosstest\", \"network\": \"default\", \"dest\": \"10.0.0.5\", \"host_port\": 80, $fw}" \
    'r["failed"] is True and r["msg"] == "dest: 10.0.0.5 is not a guest address in network default'"'"'s subnet 192.168.122.0/24"'
  task "refused: a port range that ends before it starts" check \
    "{\"name\": \"crosstest\", \"network\": \"default\", \"dest\": \"192.168.122.50\", \"host_port\": \"90-80\", $fw}" \
    'r["failed"] is True and r["msg"] == "host_port: the range '"'"'90-80'"'"' ends before it starts"'
}

tasks_kvm_net_facts() {
  # Read-only: this machine's links and firewall are only listed. The test
  # driver's network "default" is active NAT with a bridge that is not on
  # this machine, and no masquerade rule of libvirt's is here.
  local facts='r["changed"] is False and [n["name"] for n in r["networks"]] == ["default"] and r["domains"][0]["nics"][0]["source"] == "default" and r["ansible_facts"]["kvmnet"]["findings"] == r["findings"]'
  local checks='[(f["check"], f["subject"]) for f in r["findings"]]'
  task "test driver: facts and findings" run '{"uri": "test:///default"}' \
    "$facts and (\"bridge_missing\", \"network default\") in $checks and (\"nat_rules_missing\", \"network default\") in $checks and \"default\" in r[\"topology\"][\"mermaid\"]"
  task "test driver: the same in check mode, a finding ignored" check '{"uri": "test:///default", "ignore": ["nat_rules_missing"]}' \
    "$facts and \"nat_rules_missing\" not in [c for c, _ in $checks]"
  task "refused: a check that does not exist" check '{"ignore": ["no_such_check"]}' \
    'r["failed"] is True and "no_such_check" in r["msg"]'
}

tasks_sriov_vfs() {
  # Check mode: sysfs and rtnetlink read, then refused (lo has no VFs).
  task "a virtual interface named as the PF refused" check \
    '{"device": "lo", "num_vfs": 2, "uri": "test:///default"}' \
    'r["failed"] is True and r["msg"].startswith("device: lo is not a PCI network device")'
  task "refused: a VLAN out of range and an unknown link state, both named" check \
    '{"device": "lo", "vfs": [{"id": 1, "vlan": 5000, "link_state": "up"}]}' \
    'r["failed"] is True and "value of vlan must be between 0 and 4095, got: 5000 found in vfs" in r["msg"] and "value of link_state must be one of: auto, enable, disable, got: up" in r["msg"]'
}

tasks_netplan_bond() {
  local root=$tmp/root opts
  opts="{\"name\": \"bond0\", \"interfaces\": [\"enp1s0\", \"enp2s0\"], \"parameters\": {\"mode\": \"active-backup\", \"primary\": \"enp1s0\", \"mii_monitor_interval\": 100, \"up_delay\": 200}, \"root_dir\": \"$root\", \"apply\": false}"
  task "refused: MII and ARP monitoring both set" check \
    "{\"name\": \"bond0\", \"interfaces\": [\"eth1\"], \"parameters\": {\"mode\": \"active-backup\", \"mii_monitor_interval\": 100, \"arp_interval\": 200, \"arp_ip_targets\": [\"10.0.0.1\"]}, \"root_dir\": \"$root\", \"apply\": false}" \
    'r["failed"] is True and r["msg"].startswith("parameters.mii_monitor_interval (100) and parameters.arp_interval (200) are both set")'
  task "refused: up_delay not a multiple of mii_monitor_interval" check \
    "{\"name\": \"bond0\", \"interfaces\": [\"eth1\"], \"parameters\": {\"mode\": \"active-backup\", \"mii_monitor_interval\": 100, \"up_delay\": 250}, \"root_dir\": \"$root\", \"apply\": false}" \
    'r["failed"] is True and "not a multiple of parameters.mii_monitor_interval" in r["msg"]'
  task "scratch root_dir: the bond predicted with a diff" check+diff "$opts" \
    'r["changed"] is True and "mode: active-backup" in r["diff"]["after"]'
  task "scratch root_dir: the bond's file written (netplan generate validates)" run "$opts" \
    'r["changed"] is True and "primary: enp1s0" in open(r["file"]).read()'
  task "scratch root_dir: second run, nothing to do" run "$opts" \
    'r["changed"] is False and r["actions"] == []'
}

tasks_netplan_bridge() {
  local root=$tmp/root opts
  opts="{\"name\": \"br0\", \"interfaces\": [\"eth1\"], \"addresses\": [\"10.9.0.1/24\"], \"parameters\": {\"stp\": true, \"forward_delay\": 4}, \"root_dir\": \"$root\", \"apply\": false}"
  task "refused: an address that is not one" check \
    "{\"name\": \"br0\", \"interfaces\": [\"eth1\"], \"addresses\": [\"10.9.0.300/24\"], \"root_dir\": \"$root\", \"apply\": false}" \
    'r["failed"] is True and "10.9.0.300" in r["msg"]'
  task "scratch root_dir: the bridge predicted with a diff" check+diff "$opts" \
    'r["changed"] is True and "forward-delay: 4" in r["diff"]["after"]'
  task "scratch root_dir: the bridge's file written (netplan generate validates)" run "$opts" \
    'r["changed"] is True and "10.9.0.1/24" in open(r["file"]).read()'
  task "scratch root_dir: second run, nothing to do" run "$opts" \
    'r["changed"] is False and r["actions"] == []'
}

for arch in "${arches[@]}"; do
  set_runner "$arch"
  say "$arch: ${runner[0]:-native}"
  for name in "${names[@]}"; do
    bin=$out/${name}_$arch
    if [ ! -f "$bin" ]; then
      fail "$bin is missing"
      continue
    fi
    declare -F "tasks_$name" >/dev/null || { fail "no tasks for module $name in $0"; continue; }
    echo "${name}_$arch:"
    rm -rf "$tmp/root"
    mkdir -p "$tmp/root/etc/netplan"

    # --doc: the documentation, whatever its format (it starts with a
    # DOCUMENTATION block in each of them).
    rc=0
    "${runner[@]}" "$bin" --doc >"$tmp/doc" 2>"$tmp/stderr" || rc=$?
    if [ "$rc" -eq 0 ] && [ -s "$tmp/doc" ] && grep -q DOCUMENTATION "$tmp/doc"; then
      printf '  ok   %-10s %s bytes of documentation\n' --doc "$(stat -c %s "$tmp/doc")"
    else
      fail "$(basename "$bin") --doc: exit $rc, $(stat -c %s "$tmp/doc") bytes, no DOCUMENTATION: $(head -c 300 "$tmp/stderr")"
    fi

    for mode in run check; do
      task "unknown option refused" "$mode" '{"bogus_option": "x"}' \
        "r[\"failed\"] is True and r[\"changed\"] is False and r[\"msg\"].startswith(\"Unsupported parameters for ($name) module: bogus_option.\")"
    done
    "tasks_$name"
  done
done

[ "$failures" -eq 0 ] || die "$failures of the checks failed (above)"
say "all ${#names[@]} modules x ${#arches[@]} arches: --doc and $runs runs as expected"
