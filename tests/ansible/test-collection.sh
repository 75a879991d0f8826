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

names=()
for main in modules/*/src/main.rs; do
  names+=("$(basename "$(dirname "$(dirname "$main")")")")
done
[ ${#names[@]} -gt 0 ] || fail "no modules found under modules/*/src/main.rs"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Only the temp path: an older kvmnet.network elsewhere must not be picked up.
export ANSIBLE_COLLECTIONS_PATH=$tmp/collections

"$venv/bin/ansible-galaxy" collection install "$tarball" -p "$tmp/collections" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "ansible-galaxy collection install $tarball"; }
installed=$tmp/collections/ansible_collections/kvmnet/network
"$venv/bin/ansible-galaxy" collection list kvmnet.network 2>/dev/null | grep -Eq "^kvmnet\.network +$version *$" ||
  fail "kvmnet.network $version not listed in $ANSIBLE_COLLECTIONS_PATH"
pass "installed $tarball into a temporary collections path"

for name in "${names[@]}"; do
  bin=$installed/plugins/modules/$name
  [[ -f $bin && -x $bin ]] || fail "$bin missing or not executable"
  cmp -s "$bin" "collection/plugins/modules/$name" ||
    fail "installed $name differs from collection/plugins/modules/$name"
  pass "$name: installed binary is executable and identical to the built one"

  "$venv/bin/ansible-doc" "kvmnet.network.$name" >"$tmp/doc.txt" 2>"$tmp/doc.err" ||
    { cat "$tmp/doc.err" >&2; fail "ansible-doc kvmnet.network.$name"; }
  # Every top-level option of the sidecar must show up in ansible-doc.
  for opt in $("$py" -c 'import sys, yaml
print(*yaml.safe_load(open(sys.argv[1]))["DOCUMENTATION"]["options"])' "$installed/plugins/modules/$name.yml"); do
    grep -Eq -- "^[-=] $opt( |\$)" "$tmp/doc.txt" || fail "ansible-doc kvmnet.network.$name does not show option $opt"
  done
  pass "$name: ansible-doc shows all options of the sidecar"
done
# A known option, in case the sidecar itself lost it.
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
echo "test-collection: all checks passed"
