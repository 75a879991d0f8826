#!/usr/bin/env bash
# End-to-end check of the built collection, no libvirtd needed:
# build the tarball, install it into a throw-away collections path, check the
# installed binaries and their docs, then call every module by FQCN through
# ansible-playbook with an unknown option (normal and check mode) and assert
# the module's own "Unsupported parameters" failure comes back. That proves
# the FQCN resolves to our binary and the args-file/JSON round trip works.
# Env: KVMNET_VENV (default <repo>/.build/venv), KVMNET_SKIP_BUILD=1 to test
#      the tarball already in dist/.
set -euo pipefail
shopt -s nullglob

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
venv=${KVMNET_VENV:-$repo/.build/venv}
py=$venv/bin/python
# shellcheck source=scripts/build-vars.sh
source scripts/build-vars.sh
export ANSIBLE_HOME=$repo/.build/ansible-home
# Plain ansible-doc text: top-level options are "- opt" / "= opt" (required).
export ANSIBLE_NOCOLOR=1

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$venv/bin/ansible-playbook" ] || fail "no ansible in $venv; run scripts/setup-host.sh"

[ "${KVMNET_SKIP_BUILD:-0}" = 1 ] || scripts/build-collection.sh
version=$("$py" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' collection/galaxy.yml)
tarball=dist/kvmnet-network-$version.tar.gz
[ -f "$tarball" ] || fail "$tarball not found (build it, or unset KVMNET_SKIP_BUILD)"

names=("${kvmnet_modules[@]}")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Only the temp path: an older kvmnet.network elsewhere must not be picked up.
export ANSIBLE_COLLECTIONS_PATH=$tmp/collections
# The local connection runs modules with this HOME: the action plugin's
# binary cache (~/.ansible/kvmnet) and async results stay in the temp dir
# (async's dir named outright: the controller expands ~ from the passwd).
mkdir -p "$tmp/home"
export HOME=$tmp/home ANSIBLE_ASYNC_DIR=$tmp/home/.ansible_async

"$venv/bin/ansible-galaxy" collection install "$tarball" -p "$tmp/collections" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "ansible-galaxy collection install $tarball"; }
installed=$tmp/collections/ansible_collections/kvmnet/network
"$venv/bin/ansible-galaxy" collection list kvmnet.network 2>/dev/null | grep -Eq "^kvmnet\.network +$version *$" ||
  fail "kvmnet.network $version not listed in $ANSIBLE_COLLECTIONS_PATH"
pass "installed $tarball into a temporary collections path"

for name in "${names[@]}"; do
  for arch in "${kvmnet_arches[@]}"; do
    # The module is a relative symlink into binaries/ (build-collection.sh).
    link=$installed/plugins/modules/${name}_$arch
    [ "$(readlink "$link")" = "../../binaries/${name}_$arch" ] ||
      fail "$link is not the symlink ../../binaries/${name}_$arch"
    [[ -f $link && -x $link ]] || fail "$link does not lead to an executable file"
    cmp -s "$link" "collection/binaries/${name}_$arch" ||
      fail "installed ${name}_$arch differs from collection/binaries/${name}_$arch"
  done
  pass "$name: installed binaries (${kvmnet_arches[*]}) are executable, linked as modules, identical to the built ones"

  "$venv/bin/ansible-doc" "kvmnet.network.$name" >"$tmp/doc.txt" 2>"$tmp/doc.err" ||
    { cat "$tmp/doc.err" >&2; fail "ansible-doc kvmnet.network.$name"; }
  # Every top-level option of the docs must show up in ansible-doc.
  for opt in $("$py" -c 'import ast, sys, yaml
tree = ast.parse(open(sys.argv[1]).read())
doc = next(n.value.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "DOCUMENTATION")
print(*yaml.safe_load(doc)["options"])' "$installed/plugins/modules/$name.py"); do
    grep -Eq -- "^[-=] $opt( |\$)" "$tmp/doc.txt" || fail "ansible-doc kvmnet.network.$name does not show option $opt"
  done
  pass "$name: ansible-doc shows all options of its docs"
done
# A known option, in case the docs themselves lost it.
"$venv/bin/ansible-doc" kvmnet.network.libvirt_network | grep -q allow_restart ||
  fail "ansible-doc kvmnet.network.libvirt_network does not mention allow_restart"
pass "libvirt_network: ansible-doc mentions allow_restart"

# One play per module, generated so that new modules are covered without
# editing this script (a task's module name cannot be templated).
play=$tmp/unsupported.yml
echo "- hosts: localhost
  gather_facts: false
  tasks:" >"$play"
for name in "${names[@]}"; do
  for check in false true; do
    cat >>"$play" <<YAML
    - name: $name rejects an unknown option (check_mode=$check)
      kvmnet.network.$name:
        bogus_option: 1
      check_mode: $check
      register: r
      ignore_errors: true
    - name: $name failed with its own message (check_mode=$check)
      ansible.builtin.assert:
        that:
          - r is failed
          - r is not changed
          - "'Unsupported parameters for ($name) module: bogus_option' in r.msg"
        fail_msg: "unexpected result: {{ r }}"
YAML
  done
done
"$venv/bin/ansible-playbook" -i localhost, -c local -e "ansible_python_interpreter=$py" "$play" >"$tmp/play.log" 2>&1 ||
  { cat "$tmp/play.log" >&2; fail "ansible-playbook: a module was not reached or answered wrongly"; }
for name in "${names[@]}"; do
  pass "$name: FQCN kvmnet.network.$name runs the binary and rejects bogus_option (normal and check mode)"
done

# The action plugin picks the binary for the target's architecture: from the
# gathered facts when there are some, else from `uname -s -m` on the target.
# A target shell whose `uname` answers armv7l stands in for a host we ship
# no binary for (everything else about the connection is real).
shipped=$(printf '%s\n' "${kvmnet_arches[@]}" | sort | paste -sd, | sed 's/,/, /g')
# fake_uname NAME BODY: $tmp/NAME/shell, a target shell whose `uname` is BODY.
fake_uname() {
  mkdir -p "$tmp/$1/bin"
  printf '#!/bin/sh\n%s\n' "$2" >"$tmp/$1/bin/uname"
  # shellcheck disable=SC2016  # $PATH and $@ are the fake shell's own
  printf '#!/bin/sh\nPATH=%s:$PATH exec /bin/sh "$@"\n' "$tmp/$1/bin" >"$tmp/$1/shell"
  chmod +x "$tmp/$1/bin/uname" "$tmp/$1/shell"
}
fake_uname armv7l 'echo Linux armv7l'
# And one whose `uname` fails: the architecture cannot be told.
fake_uname no-uname 'echo "uname: broken" >&2; exit 3'
cat >"$tmp/arch.yml" <<YAML
- name: A host we ship no binary for gets a clear error
  hosts: localhost
  gather_facts: false
  vars:
    ansible_shell_executable: $tmp/armv7l/shell
  tasks:
    - name: netplan_bond on an armv7l host (check_mode={{ item }})
      kvmnet.network.netplan_bond:
        name: bond0
      check_mode: "{{ item }}"
      loop: [false, true]
      register: r
      ignore_errors: true
    - name: It failed naming the host's architecture and what ships
      ansible.builtin.assert:
        that:
          - r.results | map(attribute='failed') | list == [true, true]
          - r.results | map(attribute='changed') | list == [false, false]
          - "'kvmnet.network.netplan_bond has no binary for this host, which is Linux armv7l' in r.results[0].msg"
          - "'ships it for Linux $shipped' in r.results[0].msg"
        fail_msg: "unexpected result: {{ r }}"

- name: A host whose architecture cannot be read gets a clear error
  hosts: localhost
  gather_facts: false
  vars:
    ansible_shell_executable: $tmp/no-uname/shell
  tasks:
    - name: netplan_bond where uname fails
      kvmnet.network.netplan_bond:
        name: bond0
      register: r
      ignore_errors: true
    - name: It failed saying what uname answered
      ansible.builtin.assert:
        that:
          - r is failed and r is not changed
          - "'cannot tell the target' in r.msg"
          - "'returned rc=3' in r.msg"
          - "'uname: broken' in r.msg"
        fail_msg: "unexpected result: {{ r }}"

- name: Gathered facts name the architecture (uname is not asked)
  hosts: localhost
  gather_facts: true
  gather_subset: ["!all"]
  vars:
    ansible_shell_executable: $tmp/armv7l/shell
  tasks:
    - name: The binary for the facts' architecture runs
      kvmnet.network.netplan_bond:
        bogus_option: 1
      register: r
      ignore_errors: true
    - name: It answered with the module's own message
      ansible.builtin.assert:
        that: "'Unsupported parameters for (netplan_bond) module: bogus_option' in r.msg"
        fail_msg: "unexpected result: {{ r }}"

- name: A module does real work by FQCN (libvirt's test driver, no daemon)
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Define a network, dry run with diff
      kvmnet.network.libvirt_network:
        name: t-collection
        uri: test:///default
        ips:
          - address: 10.10.30.1
            prefix: 24
      check_mode: true
      diff: true
      register: dry
    - name: Define a network, as an async task
      kvmnet.network.libvirt_network:
        name: t-collection
        uri: test:///default
        ips:
          - address: 10.10.30.1
            prefix: 24
      async: 60
      poll: 1
      register: real
    - name: Both predicted or made the network, the dry run with its XML
      ansible.builtin.assert:
        that:
          - dry is changed and dry is not failed
          - "'10.10.30.1' in (dry.diff | string)"
          - real is changed and real is not failed
          - real.finished == 1
        fail_msg: "unexpected: {{ dry }} {{ real }}"
YAML
"$venv/bin/ansible-playbook" -i localhost, -c local -e "ansible_python_interpreter=$py" "$tmp/arch.yml" >"$tmp/arch.log" 2>&1 ||
  { cat "$tmp/arch.log" >&2; fail "ansible-playbook: architecture dispatch"; }
pass "an armv7l host gets a clear error naming its architecture and the shipped ones (normal and check mode)"
pass "a host whose uname fails gets a clear error with uname's answer"
pass "gathered facts pick the binary without asking uname"
pass "libvirt_network by FQCN defines a network on libvirt's test driver: check mode + diff, and async"
echo "test-collection: all checks passed"
