#!/usr/bin/env bash
# Every test, as `make test` and CI run them. The sandbox host gets its own
# namespace and state dir so a running demo sandbox is left alone, and it is
# torn down at the end whatever happens.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export KVMNET_NS=${KVMNET_TEST_NS:-kvmnet-test}
export KVMNET_SANDBOX=${KVMNET_TEST_SANDBOX:-/run/kvmnet-test}
started=$(date +%s)
# Each step says when it starts (seconds since the run began): where the
# time goes, read straight from CI's log.
step() { printf '\n==> [%ss] %s\n' "$(($(date +%s) - started))" "$*"; }
# A step that hangs fails after its limit, named, instead of running into
# CI's deadline with nothing said (timeout signals the whole step).
bounded() {
  local limit=$1; shift
  local rc=0
  timeout -k 30 "$limit" "$@" || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "run-all: '$*' did not finish within $limit" >&2
  fi
  return "$rc"
}

step "host setup"
scripts/setup-host.sh

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features --locked -q -- -D warnings

# The check first: build-collection.sh regenerates the generated files.
step "committed generated files up to date; make release: every architecture, tarball installed and run by FQCN"
scripts/gen-docs.sh --check
if [ -z "$(git status --porcelain)" ]; then
  bounded 20m scripts/release.sh
else
  echo "run-all: the work tree has changes: release build without the clean-tree check"
  KVMNET_RELEASE_DIRTY=1 bounded 20m scripts/release.sh
fi

step "every binary runs on its architecture (aarch64 under qemu-user): --doc and real argument files"
bounded 10m tests/cross/test-binaries.sh collection/binaries

step "the action plugin's binary cache: the normal path's results in one command per task (ansible-core 2.21, 2.19)"
bounded 5m tests/ansible/test-binary-cache.sh
KVMNET_VENV=.build/venv-2.19 bounded 5m tests/ansible/test-binary-cache.sh

step "ansible-test sanity (2.19 and 2.21), changelog, reference pages, docs site"
KVMNET_SKIP_BUILD=1 bounded 10m tests/ansible/docs-and-sanity.sh

step "unit and golden tests"
cargo test --workspace --locked -q

step "sandbox host up"
trap 'step "rigs down"; tests/rig/guest/guest.sh down; tests/rig/sandbox.sh down' EXIT
tests/rig/sandbox.sh up
eval "$(tests/rig/sandbox.sh env)"

# The guest VM has what this kernel lacks (VLANs, bonds, SR-IOV) and runs
# netplan apply for real. If qemu cannot run here, this fails, loudly.
step "guest VM up (Debian trixie under qemu)"
scripts/setup-guest-deps.sh
tests/rig/guest/guest.sh up
eval "$(tests/rig/guest/guest.sh env)"

step "live tests: the sandbox libvirtd, and the guest VM"
bounded 40m cargo test --workspace --locked -q -- --ignored --test-threads=2

step "ansible-lint, production profile: playbooks/ and molecule/"
bounded 10m tests/ansible/lint.sh

# Every scenario of the guide, converged with the playbooks/ files: dry run
# first, converge, idempotence, dry run again, verify the real state.
step "molecule test: every scenario, on the sandbox host and the guest VM"
bounded 30m tests/ansible/test-molecule.sh

step "all tests passed in $(( $(date +%s) - started )) s"
