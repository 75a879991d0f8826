#!/usr/bin/env bash
# `molecule test` of molecule/default against the sandbox host, with the
# collection built into dist/. Molecule runs inside the sandbox's network
# namespace so the modules see the namespace's links and libvirtd.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
venv=${KVMNET_VENV:-$repo/.build/venv}
eval "$(tests/rig/sandbox.sh env)"
export ANSIBLE_HOME=$repo/.build/ansible-home
export ANSIBLE_COLLECTIONS_PATH=$repo/.build/molecule-collections
export ANSIBLE_NOCOLOR=1 NO_COLOR=1 ANSIBLE_FORCE_COLOR=0

scripts/install-collection.sh "$ANSIBLE_COLLECTIONS_PATH"

exec ip netns exec "$KVMNET_NS" env PATH="$venv/bin:$PATH" LIBVIRT_DEFAULT_URI="$LIBVIRT_DEFAULT_URI" \
  "$venv/bin/molecule" test
