#!/usr/bin/env bash
# The collection's changelog (antsibull-changelog; collection/changelogs/
# config.yaml): fragments in changelogs/fragments/ become, on release,
# changelogs/changelog.yaml (the record Galaxy and the Ansible docs read)
# and CHANGELOG.md.
#   scripts/changelog.sh check    what CI runs; writes nothing in the tree:
#                                 the fragments lint; changelog.yaml lints;
#                                 the committed CHANGELOG.md is what
#                                 changelog.yaml generates (not hand-edited,
#                                 not half-committed); and a release of the
#                                 galaxy.yml version, made in a scratch copy,
#                                 works and shows what it would add.
#   scripts/changelog.sh release  the maintainer's step before tagging: the
#                                 fragments are merged into the release of
#                                 the galaxy.yml version (a new one, or the
#                                 existing one, dated today) and deleted
#                                 (keep_fragments: false); commit the result.
# Never `release` in CI: it consumes the fragments. Both work on a copy of
# collection/ without the module binaries (git-ignored build output that
# ansible-doc, which antsibull-changelog asks for the new modules, would list
# as undocumented modules); only the changelog files come back.
# Env: KVMNET_VENV (default <repo>/.build/venv, with antsibull-changelog from
#      scripts/setup-release-tools.sh).
set -euo pipefail
shopt -s nullglob

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
venv=${KVMNET_VENV:-$repo/.build/venv}
say() { printf 'changelog: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

mode=${1:-}
case "$mode" in
  check | release) ;;
  *) echo "usage: $0 check|release" >&2; exit 2 ;;
esac
[ -x "$venv/bin/antsibull-changelog" ] ||
  fail "no antsibull-changelog in $venv; run scripts/setup-release-tools.sh"
export PATH=$venv/bin:$PATH ANSIBLE_NOCOLOR=1
version=$(sed -n 's/^version: *//p' collection/galaxy.yml)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ANSIBLE_HOME=$tmp/ansible-home
# copy <dir>: collection/ as antsibull-changelog needs it, docs without binaries.
copy() {
  mkdir -p "$1"
  tar -C collection --exclude=./extensions --exclude=./tests/output \
    --exclude='./changelogs/.plugin-cache.yaml' -cf - . | tar -C "$1" -xf -
  local f
  for f in "$1"/plugins/modules/*; do
    case "$f" in *.py) ;; *) rm -f "$f" ;; esac
  done
}
clog() { (cd "$1" && antsibull-changelog "${@:2}"); }

copy "$tmp/work"
clog "$tmp/work" lint || fail "fragments in collection/changelogs/fragments/ do not lint (above)"
if [ -f collection/changelogs/changelog.yaml ]; then
  clog "$tmp/work" lint-changelog-yaml changelogs/changelog.yaml ||
    fail "collection/changelogs/changelog.yaml does not lint (above)"
fi

if [ "$mode" = check ]; then
  if [ -f collection/changelogs/changelog.yaml ]; then
    # What the committed changelog.yaml generates must be the committed
    # CHANGELOG.md (generate reads no fragments).
    copy "$tmp/gen"
    rm -f "$tmp/gen"/changelogs/fragments/*
    clog "$tmp/gen" generate >"$tmp/gen.log" 2>&1 || { cat "$tmp/gen.log" >&2; fail "antsibull-changelog generate"; }
    diff -u --label 'collection/CHANGELOG.md (committed)' --label 'generated from changelogs/changelog.yaml' \
      collection/CHANGELOG.md "$tmp/gen/CHANGELOG.md" ||
      fail "collection/CHANGELOG.md is not what changelogs/changelog.yaml generates; run scripts/changelog.sh release (or antsibull-changelog generate) and commit both"
  fi
  pending=("$tmp/work"/changelogs/fragments/*.y*ml)
  clog "$tmp/work" release --update-existing >"$tmp/release.log" 2>&1 ||
    { cat "$tmp/release.log" >&2; fail "antsibull-changelog release (in a scratch copy) failed"; }
  "$venv/bin/python" -c 'import sys, yaml
sys.exit(sys.argv[2] not in (yaml.safe_load(open(sys.argv[1]))["releases"] or {}))' \
    "$tmp/work/changelogs/changelog.yaml" "$version" ||
    fail "a release of $version (in a scratch copy) did not record $version in changelog.yaml"
  say "fragments lint; CHANGELOG.md matches changelog.yaml; a release of $version works" \
      "(${#pending[@]} pending fragment(s); nothing in the tree changed)"
  if [ ${#pending[@]} -gt 0 ]; then
    diff -u --label 'CHANGELOG.md (committed)' --label "CHANGELOG.md (after a release of $version)" \
      collection/CHANGELOG.md "$tmp/work/CHANGELOG.md" 2>/dev/null || true
  fi
  exit 0
fi

# --- release: in the copy, then the changelog files back and the consumed
# fragments deleted.
before=("$tmp/work"/changelogs/fragments/*)
clog "$tmp/work" release --update-existing || fail "antsibull-changelog release failed"
cp "$tmp/work/changelogs/changelog.yaml" collection/changelogs/changelog.yaml
cp "$tmp/work/CHANGELOG.md" collection/CHANGELOG.md
for f in "${before[@]}"; do
  n=$(basename "$f")
  [ -e "$f" ] || { rm -f "collection/changelogs/fragments/$n"; say "consumed fragment $n"; }
done
say "released $version: collection/changelogs/changelog.yaml and collection/CHANGELOG.md written; review and commit them with the fragments' deletion"
