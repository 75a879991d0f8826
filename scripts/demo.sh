#!/usr/bin/env bash
# `make demo`: playbooks/demo.yml against the sandbox host, twice. The first
# run shows the diffs of what it creates; the second must change nothing.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
eval "$(tests/rig/sandbox.sh env)"
# A demo starts from an empty sandbox: remove what an earlier demo made.
for n in default isolated host-bridge; do
  virsh -q net-destroy "$n" >/dev/null 2>&1 || true
  virsh -q net-undefine "$n" >/dev/null 2>&1 || true
done

echo "==> first run (--diff): creates the networks"
scripts/sandbox-playbook.sh playbooks/demo.yml --diff
echo "==> second run: nothing left to do"
out=$(scripts/sandbox-playbook.sh playbooks/demo.yml)
echo "$out"
grep -Eq '^sandbox +: .*changed=0 .*failed=0' <<<"$out" || { echo "demo: the second run was not clean" >&2; exit 1; }
echo "==> the sandbox's networks now:"
virsh net-list --all
echo "The sandbox keeps running: tests/rig/sandbox.sh down stops it."
