#!/usr/bin/env bash
# Build the kvmnet.network collection tarball into dist/:
# the module binaries for every architecture (scripts/build-binaries.sh:
# static musl, or glibc >= 2.17 + libvirt) -> collection/binaries/<name>_<arch>,
# each reached as a module through a relative symlink
# collection/plugins/modules/<name>_<arch> (both git-ignored build output),
# the generated docs, action plugins and routing refreshed, then
# `ansible-galaxy collection build`.
# Why symlinks: Ansible's module loader follows them (the action plugin runs
# <name>_<arch> as a module), while ansible-doc's listing, validate-modules
# and antsibull-docs skip them, so no tool tries to read a binary as docs
# and sanity needs no ignore lines.
# Reports each binary's size (build-binaries.sh) and the tarball's, and fails when the tarball
# outgrows its budget (Galaxy refuses artifacts over 20 MB).
# Env: KVMNET_VENV (default <repo>/.build/venv, made by scripts/setup-host.sh),
#      KVMNET_ARCHES (scripts/build-vars.sh), CARGO_TARGET_DIR (default <repo>/target).
set -euo pipefail
shopt -s nullglob

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/build-vars.sh
source scripts/build-vars.sh
venv=${KVMNET_VENV:-$repo/.build/venv}
[ -x "$venv/bin/ansible-galaxy" ] ||
  { echo "build-collection: no ansible-galaxy in $venv; run scripts/setup-host.sh" >&2; exit 1; }
# Keep Ansible's state (tmp, galaxy cache/token) out of the real home.
export ANSIBLE_HOME=$repo/.build/ansible-home
# Half of Galaxy's limit: the binaries of both architectures take ~7 MB
# unpacked; a jump past this means something big slipped in.
budget=$((10 * 1024 * 1024))

dest=collection/plugins/modules
binaries=collection/binaries
mkdir -p "$dest" "$binaries"
names=("${kvmnet_modules[@]}")

scripts/build-binaries.sh "$binaries"
wanted=" "
for name in "${names[@]}"; do
  wanted+="$name.py "
  for arch in "${kvmnet_arches[@]}"; do
    wanted+="${name}_$arch "
    ln -sfn "../../binaries/${name}_$arch" "$dest/${name}_$arch"
  done
done
# A file left over from a module or architecture that is gone is git-ignored
# and would silently ship: keep only the docs and today's binaries.
for f in "$dest"/* "$binaries"/*; do
  [[ $wanted == *" $(basename "$f") "* ]] || { rm -f "$f"; echo "build-collection: removed stale $f"; }
done

scripts/gen-docs.sh

out=$("$venv/bin/ansible-galaxy" collection build collection/ --output-path dist/ --force)
echo "$out"
tarball=$(sed -n 's/^Created collection for .* at //p' <<<"$out")
[ -f "$tarball" ] || { echo "build-collection: no tarball reported by ansible-galaxy" >&2; exit 1; }

# Guard against the manifest pitfall (ANSIBLE.md): extension-less binaries
# must be in the artifact, beside each module's docs and action plugin.
listing=$(tar -tzf "$tarball")
for name in "${names[@]}"; do
  for f in "plugins/modules/$name.py" "plugins/action/$name.py" \
           "${kvmnet_arches[@]/#/plugins/modules/${name}_}" "${kvmnet_arches[@]/#/binaries/${name}_}"; do
    grep -qx "$f" <<<"$listing" ||
      { echo "build-collection: $f missing from $tarball" >&2; exit 1; }
  done
done

# Each binary's size and kind were listed by build-binaries.sh above.
size=$(stat -c %s "$tarball")
printf 'tarball: %s %d bytes (budget %d, Galaxy limit 20 MB)\n' "${tarball#"$repo"/}" "$size" "$budget"
[ "$size" -le "$budget" ] ||
  { echo "build-collection: $tarball is over its budget of $budget bytes" >&2; exit 1; }
