#!/usr/bin/env bash
# The module-binary cache of the action plugin (plugins/plugin_utils/
# binary_cache.py), end to end through ansible-playbook and the installed
# tarball, on the local connection (a real shell, real sudo):
# - the same tasks give the same results with the cache and without it
#   (check mode + diff, a change, no change, a refused option, a module
#   failure, no_log, become), so the cache changes nothing but the cost;
# - the first cached task installs the binary once (one copy), later tasks
#   copy nothing and run in one command; without the cache every task
#   copies binary and args;
# - a missing, foreign-owned or older cached binary is replaced; become
#   uses the cache only with pipelining on, as Ansible pipelines modules.
# Env: KVMNET_VENV (default <repo>/.build/venv); needs dist/ built
# (scripts/build-collection.sh) and sudo.
# shellcheck disable=SC2015  # "check && check || fail": fail when either fails, as meant
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
venv=${KVMNET_VENV:-$repo/.build/venv}
py=$venv/bin/python
export ANSIBLE_HOME=$repo/.build/ansible-home ANSIBLE_NOCOLOR=1

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v sudo >/dev/null || fail "sudo is missing: run scripts/setup-host.sh"
version=$("$py" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' collection/galaxy.yml)
tarball=dist/kvmnet-network-$version.tar.gz
[ -f "$tarball" ] || fail "$tarball not found: run scripts/build-collection.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ANSIBLE_COLLECTIONS_PATH=$tmp/collections
"$venv/bin/ansible-galaxy" collection install "$tarball" -p "$tmp/collections" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "ansible-galaxy collection install $tarball"; }
binaries=$tmp/collections/ansible_collections/kvmnet/network/binaries
arch=$(uname -m)
# The local connection runs the module as this process's user, with its
# HOME: the cache lands in $tmp/home/.ansible/kvmnet.
export HOME=$tmp/home
cache=$HOME/.ansible/kvmnet
mkdir -p "$HOME"

# play LOG PLAYBOOK [ansible-playbook args]: run it at -vvv (the log shows
# each SSH-like operation: EXEC and PUT lines).
play() {
  local log=$1 book=$2
  shift 2
  "$venv/bin/ansible-playbook" -vvv -i localhost, -c local -e "ansible_python_interpreter=$py" "$@" "$book" >"$log" 2>&1 ||
    { cat "$log" >&2; fail "ansible-playbook $book (log above)"; }
}
puts() { grep -c '^<localhost> PUT ' "$1" || true; }
execs() { grep -c '^<localhost> EXEC ' "$1" || true; }

# A no-change task: the NIC the test driver's guest has.
nic_task='      kvmnet.network.vm_interface:
        domain: test
        uri: test:///default
        type: network
        source: {network: default}
        mac: aa:bb:cc:dd:ee:ff'

# --- The same results either way. Each task runs for cache false, then
# true; the two registered results must be equal.
cat >"$tmp/same.yml" <<YAML
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Define a network (check mode, diff)
      kvmnet.network.libvirt_network:
        name: t-cache
        uri: test:///default
        ips: [{address: 10.10.32.1, prefix: 24}]
      check_mode: true
      diff: true
      vars: {kvmnet_binary_cache: "{{ item }}"}
      loop: [false, true]
      register: dry
    - name: Define it (a change)
      kvmnet.network.libvirt_network:
        name: t-cache
        uri: test:///default
        ips: [{address: 10.10.32.1, prefix: 24}]
      vars: {kvmnet_binary_cache: "{{ item }}"}
      loop: [false, true]
      register: real
    - name: The test driver's guest's NIC as it is (no change)
$nic_task
      vars: {kvmnet_binary_cache: "{{ item }}"}
      loop: [false, true]
      register: same
    - name: An unknown option
      kvmnet.network.netplan_bond:
        name: bond0
        bogus_option: 1
      vars: {kvmnet_binary_cache: "{{ item }}"}
      loop: [false, true]
      register: bogus
      ignore_errors: true
    - name: A module failure (a running network's address needs allow_restart)
      kvmnet.network.libvirt_network:
        name: default
        uri: test:///default
        ips: [{address: 10.10.33.1, prefix: 24}]
      vars: {kvmnet_binary_cache: "{{ item }}"}
      loop: [false, true]
      register: failure
      ignore_errors: true
    - name: no_log
      kvmnet.network.libvirt_network:
        name: t-cache
        uri: test:///default
        ips: [{address: 10.10.32.1, prefix: 24}]
      no_log: true
      vars: {kvmnet_binary_cache: "{{ item }}"}
      loop: [false, true]
      register: hidden
    - name: The same through sudo (become, pipelining on)
      kvmnet.network.libvirt_network:
        name: t-cache
        uri: test:///default
        ips: [{address: 10.10.32.1, prefix: 24}]
      become: true
      vars: {kvmnet_binary_cache: "{{ item }}", ansible_pipelining: true}
      loop: [false, true]
      register: sudo
    - name: Equal results, cache or not
      ansible.builtin.assert:
        that:
          # The test driver makes a new network's UUID at random.
          - (r.results[0] | dict2items | rejectattr('key', 'eq', 'item') | to_json(sort_keys=true) | regex_replace(uuid, ''))
            == (r.results[1] | dict2items | rejectattr('key', 'eq', 'item') | to_json(sort_keys=true) | regex_replace(uuid, ''))
        fail_msg: "{{ r.results[0] }} != {{ r.results[1] }}"
      loop: "{{ [dry, real, same, bogus, failure, hidden, sudo] }}"
      loop_control: {loop_var: r}
      vars:
        uuid: '<uuid>[-0-9a-f]+</uuid>'
    - name: And each what it should be
      ansible.builtin.assert:
        that:
          - dry.results[1] is changed and '10.10.32.1' in (dry.results[1].diff | string)
          - real.results[1] is changed and real.results[1] is not failed
          - same.results[1] is not changed and same.results[1] is not failed
          - "'Unsupported parameters for (netplan_bond) module: bogus_option' in bogus.results[1].msg"
          - failure.results[1] is failed and failure.results[1] is not changed
          - sudo.results[1] is changed
YAML
play "$tmp/same.log" "$tmp/same.yml"
# no_log: both results hidden from the output.
[ "$(awk '/^TASK \[no_log\]/,/^TASK \[The same through sudo/' "$tmp/same.log" | grep -c "censored due to no_log")" = 2 ] ||
  fail "no_log: the two results were not both censored in the output"
pass "cache or not, equal results: check mode + diff, a change, no change, an unknown option, a module failure, no_log, become"

# --- What each way costs: operations on the target. Four no-change tasks
# of one module with a cold cache, again with the warm cache, and without
# the cache.
cat >"$tmp/ops.yml" <<YAML
- hosts: localhost
  gather_facts: false
  tasks:
    - name: The test driver's guest's NIC as it is
$nic_task
      loop: [1, 2, 3, 4]
YAML
rm -rf "$cache"
play "$tmp/cold.log" "$tmp/ops.yml"
[ "$(puts "$tmp/cold.log")" = 1 ] && [ "$(execs "$tmp/cold.log")" = 10 ] ||
  fail "cold cache: expected 1 copy and 10 commands (4 runs; once: the miss, home, temp dir, chmod, install, removal), got $(puts "$tmp/cold.log") and $(execs "$tmp/cold.log")"
installed=("$cache"/vm_interface_"$arch"-*)
[ ${#installed[@]} = 1 ] && cmp -s "${installed[0]}" "$binaries/vm_interface_$arch" ||
  fail "the cache does not hold exactly the shipped vm_interface_$arch: ${installed[*]}"
[ "$(stat -c %a "$cache") $(stat -c %a "${installed[0]}")" = "700 700" ] ||
  fail "cache modes: $(stat -c %a "$cache" "${installed[0]}")"
pass "cold cache: the binary copied once, installed 0700 in a 0700 dir, 4 tasks in 10 commands"
play "$tmp/warm.log" "$tmp/ops.yml"
[ "$(puts "$tmp/warm.log")" = 0 ] && [ "$(execs "$tmp/warm.log")" = 4 ] ||
  fail "warm cache: expected no copy and 4 commands, got $(puts "$tmp/warm.log") and $(execs "$tmp/warm.log")"
pass "warm cache: one command per task, nothing copied"
play "$tmp/off.log" "$tmp/ops.yml" -e kvmnet_binary_cache=false
[ "$(puts "$tmp/off.log")" = 8 ] ||
  fail "kvmnet_binary_cache=false: expected 8 copies (binary and args per task), got $(puts "$tmp/off.log")"
pass "kvmnet_binary_cache=false: the normal path (binary and args copied for each task)"
play "$tmp/become.log" "$tmp/ops.yml" -e ansible_become=true
[ "$(puts "$tmp/become.log")" = 8 ] ||
  fail "become with pipelining off: expected the normal path (8 copies), got $(puts "$tmp/become.log")"
pass "become with pipelining off: the normal path, as Ansible would not pipeline either"
# With pipelining on, become uses the cache: of the user sudo makes (its
# HOME, with sudo's -H), installed on the first run if need be.
play "$tmp/become-piped-1.log" "$tmp/ops.yml" -e ansible_become=true -e ansible_pipelining=true
play "$tmp/become-piped.log" "$tmp/ops.yml" -e ansible_become=true -e ansible_pipelining=true
[ "$(puts "$tmp/become-piped.log")" = 0 ] && [ "$(execs "$tmp/become-piped.log")" = 4 ] ||
  fail "become with pipelining on, warm: expected no copy and 4 commands, got $(puts "$tmp/become-piped.log") and $(execs "$tmp/become-piped.log")"
pass "become with pipelining on: one command per task through sudo, nothing copied"

# --- A cached binary that cannot be trusted is replaced: another user's
# file, one not executable; an older build is removed when a new one is
# installed.
old=$cache/vm_interface_$arch-00000000000000000000
printf 'old build\n' >"$old"
chown nobody "${installed[0]}"
play "$tmp/foreign.log" "$tmp/ops.yml"
[ "$(puts "$tmp/foreign.log")" = 1 ] && [ "$(stat -c %U "${installed[0]}")" = "$(id -un)" ] && [ ! -e "$old" ] ||
  fail "a cached binary owned by nobody was not replaced by ours, or the older build stayed"
chmod 0600 "${installed[0]}"
play "$tmp/noexec.log" "$tmp/ops.yml"
[ "$(puts "$tmp/noexec.log")" = 1 ] && [ -x "${installed[0]}" ] ||
  fail "a cached binary that is not executable was not replaced"
pass "a cached binary owned by another user, or not executable, is replaced; an older build is removed"

# --- When the cache cannot be made, the task runs the normal way and says
# why (here: the cache dir belongs to another user).
rm -rf "$cache"
mkdir -p "$cache"
chown nobody "$cache"
play "$tmp/nocache.log" "$tmp/ops.yml"
grep -q "cannot cache vm_interface_$arch on the target (KVMNET-CACHE-NOT-INSTALLED: cannot make .*, or another user owns it" "$tmp/nocache.log" ||
  fail "no warning that the cache could not be made"
grep -q 'ok=1 ' "$tmp/nocache.log" || fail "the tasks did not run the normal way"
pass "a cache dir owned by another user: a warning, and the task runs the normal way"
echo "test-binary-cache: all checks passed"
