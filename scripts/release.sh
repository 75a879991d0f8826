#!/usr/bin/env bash
# `make release`: the Galaxy tarball, built from a clean tree and proven.
# Refuses a work tree with uncommitted or untracked files (the tarball must be
# what the commit says), removes ignored leftovers under collection/ (old
# binaries, test output), builds every architecture's binaries and the
# tarball (scripts/build-collection.sh: sizes reported, budget checked), then
# installs the tarball into a scratch collections path and runs the modules
# by FQCN (tests/ansible/test-collection.sh). Prints the artifact and its
# sha256 for the upload.
# Env: as scripts/build-collection.sh; KVMNET_RELEASE_DIRTY=1 skips the
#      clean-tree check (for trying the script itself; never for a release).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
say() { printf 'release: %s\n' "$*" >&2; }

if [ "${KVMNET_RELEASE_DIRTY:-0}" != 1 ]; then
  dirty=$(git status --porcelain)
  [ -z "$dirty" ] || { say "the work tree is not clean (commit or stash first):"; echo "$dirty" >&2; exit 1; }
  # Ignored files under collection/ would be packed by ansible-galaxy.
  git clean -fdXq -- collection/
fi

scripts/build-collection.sh
KVMNET_SKIP_BUILD=1 tests/ansible/test-collection.sh

version=$(sed -n 's/^version: *//p' collection/galaxy.yml)
tarball=dist/kvmnet-network-$version.tar.gz
say "$tarball $(stat -c %s "$tarball") bytes, from $(git rev-parse --short HEAD)$([ -z "$(git status --porcelain)" ] || echo ' (dirty)')"
sha256sum "$tarball"
