#!/usr/bin/env bash
# Write collection/plugins/modules/<name>.yml from `<name> --doc` for every
# module crate (modules/<name>/src/main.rs; modules/core is a library), and
# make sure collection/tests/sanity/ignore-*.txt skip validate-modules for it.
# The Params types are the single source of the docs; the sidecars are
# generated and committed, so reviewers and ansible-doc see them.
#   --check  write nothing; exit 1 with a unified diff if any sidecar (or
#            ignore line) is stale or missing: the CI staleness test.
# Env: CARGO_TARGET_DIR (default <repo>/target).
set -euo pipefail
shopt -s nullglob

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

cargo build --release --locked --quiet
bin=${CARGO_TARGET_DIR:-$repo/target}/release

dest=collection/plugins/modules
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

stale=0 n=0
for main in modules/*/src/main.rs; do
  name=$(basename "$(dirname "$(dirname "$main")")")
  n=$((n + 1))
  # Write to a temp file first: a binary that fails half-way must not leave
  # a truncated sidecar behind.
  "$bin/$name" --doc >"$tmp/$name.yml"
  if [ "$check" -eq 1 ]; then
    old=$dest/$name.yml
    [ -e "$old" ] || old=/dev/null   # a missing sidecar shows as all-added
    diff -u --label "$dest/$name.yml (committed)" --label "$name --doc" \
      "$old" "$tmp/$name.yml" || stale=1
  elif ! cmp -s "$tmp/$name.yml" "$dest/$name.yml"; then
    mkdir -p "$dest"
    cp "$tmp/$name.yml" "$dest/$name.yml"
    echo "gen-docs: wrote $dest/$name.yml"
  fi

  # validate-modules crashes on a binary file (ANSIBLE.md): every module
  # needs a skip line in each ansible-core version's sanity ignore file.
  skip="plugins/modules/$name validate-modules!skip"
  for ign in collection/tests/sanity/ignore-*.txt; do
    grep -qxF "$skip" "$ign" && continue
    if [ "$check" -eq 1 ]; then
      echo "missing in $ign: $skip"; stale=1
    else
      echo "$skip" >>"$ign"; echo "gen-docs: added $name to $ign"
    fi
  done
done

# A sidecar whose module crate is gone would still be packaged: drop it.
for yml in "$dest"/*.yml; do
  name=$(basename "$yml" .yml)
  [ -e "modules/$name/src/main.rs" ] && continue
  if [ "$check" -eq 1 ]; then
    echo "orphan sidecar (no modules/$name/src/main.rs): $yml"; stale=1
  else
    rm "$yml"; echo "gen-docs: removed orphan $yml"
  fi
done

[ "$n" -gt 0 ] || { echo "gen-docs: no modules found under modules/*/src/main.rs" >&2; exit 1; }
if [ "$stale" -eq 1 ]; then
  echo "gen-docs: generated files are stale; run scripts/gen-docs.sh and commit the result" >&2
  exit 1
fi
[ "$check" -eq 0 ] || echo "gen-docs: $n sidecar(s) up to date"
