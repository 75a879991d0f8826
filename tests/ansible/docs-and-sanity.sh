#!/usr/bin/env bash
# The release checks, as CI runs them (all offline, after
# scripts/setup-release-tools.sh):
#   1. ansible-test sanity on the built tarball, ansible-core 2.19 and 2.21
#      in parallel (tests/ansible/sanity.sh)
#   2. the changelog: fragments lint, CHANGELOG.md matches changelog.yaml,
#      a release works in a scratch copy (scripts/changelog.sh check)
#   3. docs/reference/ is what the module docs generate
#      (scripts/docs-reference.sh --check)
#   4. the documentation site: lint-collection-docs, sphinx-build -W
#      (scripts/docs-site.sh)
# Every step runs even when one fails, so one CI run reports them all; the
# exit status is non-zero if any failed. Each step's time is printed.
# Env: KVMNET_SKIP_BUILD=1 to use the tarball already in dist/ (what
#      tests/run-all.sh does after its build step); the scripts' own
#      variables pass through.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

[ "${KVMNET_SKIP_BUILD:-0}" = 1 ] || scripts/build-collection.sh
export KVMNET_SKIP_BUILD=1

failed=()
step() {
  local name=$1 start rc=0
  shift
  printf '\n--> %s\n' "$name"
  start=$(date +%s)
  "$@" || rc=$?
  printf -- '--> %s: %s in %d s\n' "$name" "$([ "$rc" -eq 0 ] && echo passed || echo "FAILED (exit $rc)")" \
    "$(( $(date +%s) - start ))"
  [ "$rc" -eq 0 ] || failed+=("$name")
}

step "sanity (2.19, 2.21)" tests/ansible/sanity.sh
step "changelog" scripts/changelog.sh check
step "reference pages" scripts/docs-reference.sh --check
step "docs site" scripts/docs-site.sh

if [ ${#failed[@]} -gt 0 ]; then
  echo "docs-and-sanity: failed: ${failed[*]}" >&2
  exit 1
fi
echo "docs-and-sanity: all passed"
