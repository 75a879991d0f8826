#!/usr/bin/env bash
# Install the collection tarball built into dist/ (make collection) into a
# collections path: scripts/install-collection.sh <path>. Reinstalls only
# when the tarball is newer than what the path holds.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${1:?usage: install-collection.sh <collections path>}
venv=${KVMNET_VENV:-$repo/.build/venv}
export ANSIBLE_HOME=${ANSIBLE_HOME:-$repo/.build/ansible-home}
version=$("$venv/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' "$repo/collection/galaxy.yml")
tarball=$repo/dist/kvmnet-network-$version.tar.gz
[ -f "$tarball" ] || { echo "install-collection: $tarball missing (make collection)" >&2; exit 1; }
stamp=$dest/.installed-from
if [ ! -f "$stamp" ] || [ "$tarball" -nt "$stamp" ]; then
  "$venv/bin/ansible-galaxy" collection install --force -p "$dest" "$tarball" >/dev/null
  touch "$stamp"
fi
