#!/usr/bin/env bash
# ansible-lint's production profile (.ansible-lint) over the playbooks
# users copy and the Molecule scenarios that run them, with the collection
# from dist/ installed so every kvmnet.network module resolves.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
venv=${KVMNET_VENV:-$repo/.build/venv}
export ANSIBLE_HOME=$repo/.build/ansible-home
export ANSIBLE_COLLECTIONS_PATH=$repo/.build/molecule-collections
export NO_COLOR=1 ANSIBLE_NOCOLOR=1
scripts/install-collection.sh "$ANSIBLE_COLLECTIONS_PATH"
# Offline: no collection or role downloads.
exec "$venv/bin/ansible-lint" --offline --format pep8 playbooks molecule
