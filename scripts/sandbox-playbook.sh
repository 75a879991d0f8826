#!/usr/bin/env bash
# Run ansible-playbook against the sandbox host, with the collection as
# built into dist/ (installed into .build/collections).
#   scripts/sandbox-playbook.sh playbooks/demo.yml [ansible-playbook args...]
# The sandbox must be up (tests/rig/sandbox.sh up).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${KVMNET_VENV:-$repo/.build/venv}
export ANSIBLE_HOME=$repo/.build/ansible-home
export ANSIBLE_COLLECTIONS_PATH=$repo/.build/collections
export ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-1}
export ANSIBLE_RETRY_FILES_ENABLED=0
eval "$("$repo/tests/rig/sandbox.sh" env)"
"$repo/tests/rig/sandbox.sh" status >/dev/null || { echo "sandbox-playbook: the sandbox is not up (tests/rig/sandbox.sh up)" >&2; exit 1; }

"$repo/scripts/install-collection.sh" "$ANSIBLE_COLLECTIONS_PATH"

exec ip netns exec "$KVMNET_NS" env LIBVIRT_DEFAULT_URI="$LIBVIRT_DEFAULT_URI" \
  "$venv/bin/ansible-playbook" -i "$repo/tests/rig/inventory.yml" "$@"
