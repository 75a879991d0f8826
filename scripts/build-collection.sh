#!/usr/bin/env bash
# Build the kvmnet.network collection tarball into dist/:
# release binaries -> collection/plugins/modules/<name> (git-ignored copies),
# sidecar docs regenerated, then `ansible-galaxy collection build`.
# Env: KVMNET_VENV (default <repo>/.build/venv, made by scripts/setup-host.sh),
#      CARGO_TARGET_DIR (default <repo>/target).
set -euo pipefail
shopt -s nullglob

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
venv=${KVMNET_VENV:-$repo/.build/venv}
[ -x "$venv/bin/ansible-galaxy" ] ||
  { echo "build-collection: no ansible-galaxy in $venv; run scripts/setup-host.sh" >&2; exit 1; }
# Keep Ansible's state (tmp, galaxy cache/token) out of the real home.
export ANSIBLE_HOME=$repo/.build/ansible-home

cargo build --release --locked
bin=${CARGO_TARGET_DIR:-$repo/target}/release
dest=collection/plugins/modules
mkdir -p "$dest"

names=()
for main in modules/*/src/main.rs; do
  names+=("$(basename "$(dirname "$(dirname "$main")")")")
done
[ ${#names[@]} -gt 0 ] || { echo "build-collection: no modules found" >&2; exit 1; }
for name in "${names[@]}"; do
  install -m 0755 "$bin/$name" "$dest/$name"
done
# A binary left over from a module that no longer exists is git-ignored and
# would silently ship: remove anything that is neither a module nor a sidecar.
for f in "$dest"/*; do
  n=$(basename "$f")
  case "$n" in *.yml) continue ;; esac
  [ -e "modules/$n/src/main.rs" ] || { rm -f "$f"; echo "build-collection: removed stale $f"; }
done

scripts/gen-docs.sh

out=$("$venv/bin/ansible-galaxy" collection build collection/ --output-path dist/ --force)
echo "$out"
tarball=$(sed -n 's/^Created collection for .* at //p' <<<"$out")
[ -f "$tarball" ] || { echo "build-collection: no tarball reported by ansible-galaxy" >&2; exit 1; }

# Guard against the manifest pitfall (ANSIBLE.md): extension-less binaries
# must be in the artifact.
listing=$(tar -tzf "$tarball")
for name in "${names[@]}"; do
  grep -qx "plugins/modules/$name" <<<"$listing" ||
    { echo "build-collection: plugins/modules/$name missing from $tarball" >&2; exit 1; }
done

echo "tarball: ${tarball#"$repo"/} $(stat -c %s "$tarball") bytes"
for name in "${names[@]}"; do
  echo "binary:  $name $(stat -c %s "$dest/$name") bytes"
done
