#!/usr/bin/env bash
# `ansible-test sanity`, every test, on what ships: the built tarball
# extracted into a scratch ansible_collections/kvmnet/network tree (the path
# ansible-test needs), once per ansible-core line we test, in parallel:
#   2.19 on Python 3.11 (.build/venv-2.19)   2.21 on Python 3.13 (.build/venv)
# Why the tarball and not collection/: the module binaries are git-ignored
# build output, and ansible-test in a git tree only sees tracked files; the
# extracted tarball has no .git, so ansible-test takes every file in it,
# exactly the shipped layout (and the ignore files that ship with it).
# Offline: ansible-test runs each test in a venv of its own, made by
# scripts/setup-release-tools.sh beforehand; PIP_NO_INDEX makes a missing
# one fail here (with a hint) rather than quietly reach for a package index.
# Prints which tests passed, were skipped (nothing to test) or failed, per
# version; exits non-zero if any test failed on any version.
#   tests/ansible/sanity.sh [2.19|2.21 ...]      (default: both)
# Env: KVMNET_VENV (default <repo>/.build/venv), KVMNET_VENV_219 (default
#      <repo>/.build/venv-2.19), KVMNET_SANITY_HOME (default
#      <repo>/.build/sanity-home), KVMNET_SKIP_BUILD=1 to test the tarball
#      already in dist/, KVMNET_TARBALL to test another tarball (implies
#      KVMNET_SKIP_BUILD), KVMNET_SANITY_SKIP (space-separated test names to
#      skip, e.g. "pylint"; for trying things, CI runs them all).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
venv=${KVMNET_VENV:-$repo/.build/venv}
venv219=${KVMNET_VENV_219:-$repo/.build/venv-2.19}
sanity_home=${KVMNET_SANITY_HOME:-$repo/.build/sanity-home}

fail() { echo "sanity: $*" >&2; exit 1; }

versions=("${@:-2.19 2.21}")
# shellcheck disable=SC2206  # "2.19 2.21" as the default splits on purpose
versions=(${versions[*]})
venv_of() {
  case $1 in
    2.19) echo "$venv219" ;;
    2.21) echo "$venv" ;;
    *) fail "no venv for ansible-core $1 (have 2.19, 2.21)" ;;
  esac
}
for v in "${versions[@]}"; do
  vv=$(venv_of "$v")
  [ -x "$vv/bin/ansible-test" ] || fail "no ansible-test in $vv; run scripts/setup-release-tools.sh"
  "$vv/bin/python" -c 'import sys
from importlib.metadata import version
sys.exit(not version("ansible-core").startswith(sys.argv[1] + "."))' "$v" ||
    fail "$vv does not hold ansible-core $v.x; run scripts/setup-release-tools.sh"
done

if [ -n "${KVMNET_TARBALL:-}" ]; then
  tarball=$KVMNET_TARBALL
else
  [ "${KVMNET_SKIP_BUILD:-0}" = 1 ] || scripts/build-collection.sh
  version=$(sed -n 's/^version: *//p' collection/galaxy.yml)
  tarball=dist/kvmnet-network-$version.tar.gz
fi
[ -f "$tarball" ] || fail "$tarball not found (build it with scripts/build-collection.sh)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
skips=()
for t in ${KVMNET_SANITY_SKIP:-}; do skips+=(--skip-test "$t"); done

# One run: its own copy of the tree (ansible-test writes tests/output/ in
# it), HOME and ANSIBLE_HOME where the primed venvs are, and only the
# venv's Python (--python-interpreter: no probing PATH, where pyenv's shims
# answer for Pythons that are not selected).
run() {
  local v=$1 vv tree py pyver rc=0
  vv=$(venv_of "$v")
  tree=$tmp/$v/ansible_collections/kvmnet/network
  mkdir -p "$tree"
  tar -xzf "$tarball" -C "$tree"
  # validate-modules crashes on a binary file in plugins/modules (a
  # symlink it leaves alone) unless the ignore file skips it (ANSIBLE.md).
  if [ ! -f "$tree/tests/sanity/ignore-$v.txt" ] &&
     [ -n "$(find "$tree/plugins/modules" -maxdepth 1 -type f ! -name '*.py' 2>/dev/null)" ]; then
    echo "tests/sanity/ignore-$v.txt is not in $tarball, which has module binaries in plugins/modules" >"$tmp/$v.log"
    date +%s >"$tmp/$v.end"
    return 1
  fi
  py=$vv/bin/python
  pyver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  (cd "$tree" &&
    HOME=$sanity_home ANSIBLE_HOME=$sanity_home/.ansible PIP_NO_INDEX=1 \
    PATH=$vv/bin:$PATH ANSIBLE_NOCOLOR=1 \
    "$vv/bin/ansible-test" sanity --local --python "$pyver" --python-interpreter "$py" \
      --color no --junit "${skips[@]}") >"$tmp/$v.log" 2>&1 || rc=$?
  date +%s >"$tmp/$v.end"
  return "$rc"
}

# The junit files say per test: passed, skipped (why) or failed.
summary() {
  "$venv/bin/python" - "$1" <<'EOF'
import glob, os, sys
import xml.etree.ElementTree as ET
passed, skipped, failed = [], [], []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.xml"))):
    for case in ET.parse(f).iter("testcase"):
        name = case.get("name")
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(name)
        elif case.find("skipped") is not None:
            skipped.append(f"{name} ({case.find('skipped').text})")
        else:
            passed.append(name)
print(f"  passed ({len(passed)}): {' '.join(sorted(set(passed)))}")
print(f"  skipped ({len(skipped)}): {', '.join(sorted(set(skipped)))}")
if failed:
    print(f"  FAILED ({len(failed)}): {' '.join(sorted(set(failed)))}")
EOF
}

declare -A pid start
for v in "${versions[@]}"; do
  start[$v]=$(date +%s)
  run "$v" & pid[$v]=$!
done
bad=0
for v in "${versions[@]}"; do
  rc=0
  wait "${pid[$v]}" || rc=$?
  junit=$tmp/$v/ansible_collections/kvmnet/network/tests/output/junit
  end=$(cat "$tmp/$v.end" 2>/dev/null || date +%s)
  echo "== ansible-core $v: ansible-test sanity exit $rc, $((end - start[$v])) s"
  if [ "$rc" -ne 0 ]; then
    bad=1
    # ansible-test's own report names each error (path:line:col: message).
    grep -v '^Running sanity test\|locale' "$tmp/$v.log" >&2 || true
    if grep -q 'does not have pip available\|No matching distribution\|Could not find a version' "$tmp/$v.log"; then
      echo "sanity: a sanity venv is missing; run scripts/setup-release-tools.sh (needs a package index once)" >&2
    fi
  fi
  [ -d "$junit" ] && summary "$junit"
done
[ ${#skips[@]} -eq 0 ] || echo "  not run (KVMNET_SANITY_SKIP): ${KVMNET_SANITY_SKIP}"
[ "$bad" -eq 0 ] || fail "failed (see above)"
echo "sanity: all tests passed on ansible-core ${versions[*]}"
