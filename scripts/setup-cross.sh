#!/usr/bin/env bash
# Prepare this machine (Debian 12, root) for scripts/build-binaries.sh and
# tests/cross/test-binaries.sh: the module binaries for x86_64 and aarch64.
#   - rustup targets: both musl triples, and the other architecture's gnu;
#   - the other architecture's libvirt-dev through Debian multiarch (its
#     libvirt.pc and libvirt.so to link against, and libvirt0 with its
#     libraries and the loader to run the binaries under qemu);
#   - qemu-user-static, to run the other architecture's binaries (invoked
#     directly: no binfmt_misc registration is needed or relied on);
#   - binutils (readelf, for the binaries' checks);
#   - ziglang and cargo-zigbuild from PyPI in the venv (the linker for
#     every target, and glibc 2.17's symbols for the gnu ones).
# Idempotent; silent when everything is already in place.
# Env: KVMNET_VENV (default <repo>/.build/venv; made by scripts/setup-host.sh).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${KVMNET_VENV:-$repo/.build/venv}

say() { printf 'setup-cross: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root to $1"; }

# The two architectures, by uname -m and Debian names; "other" is the one
# this machine runs under qemu.
host=$(uname -m)
declare -A deb=([x86_64]=amd64 [aarch64]=arm64)
case $host in
  x86_64) other=aarch64 ;;
  aarch64) other=x86_64 ;;   # not tried: the project builds on x86_64
  *) die "unsupported build machine architecture $host (x86_64 or aarch64)" ;;
esac

# --- Rust targets (a fresh rustup has only the host's gnu one).
command -v rustup >/dev/null || die "rustup not found"
targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl "$other-unknown-linux-gnu")
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$installed" || { say "adding rust target $t"; rustup target add "$t" >/dev/null 2>&1 || die "rustup target add $t failed"; }
done

# --- The other architecture in dpkg, then its libvirt-dev. Multi-Arch:
# same packages must be at one version on both architectures, so apt may
# upgrade some of this machine's own libraries to match (point releases
# and security updates of libgnutls30, libxml2, libglib2.0-0...).
if ! dpkg --print-foreign-architectures | grep -qx "${deb[$other]}"; then
  need_root "add the ${deb[$other]} architecture"
  say "adding dpkg architecture ${deb[$other]}"
  dpkg --add-architecture "${deb[$other]}"   # its package lists come with the update below
fi
pkgs=("libvirt-dev:${deb[$host]}" "libvirt-dev:${deb[$other]}" binutils pkg-config)
missing=()
for p in "${pkgs[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
done
# Any qemu-user flavour will do (Debian's qemu-user, or a newer one from
# backports): only its qemu-<arch> binary is used.
command -v "qemu-$other-static" >/dev/null || command -v "qemu-$other" >/dev/null ||
  missing+=(qemu-user-static)
if [ ${#missing[@]} -gt 0 ]; then
  need_root "install packages"
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
fi
[ -f "/usr/lib/$other-linux-gnu/pkgconfig/libvirt.pc" ] ||
  die "no /usr/lib/$other-linux-gnu/pkgconfig/libvirt.pc after installing libvirt-dev:${deb[$other]}"

# --- ziglang and cargo-zigbuild in the venv. zig 0.15 is what the
# binaries were built and checked with (glibc 2.17 stubs, musl); a newer
# zig minor changes its command line and cargo-zigbuild follows later.
[ -x "$venv/bin/python" ] || die "no venv at $venv; run scripts/setup-host.sh first"
zig_ok() {
  "$venv/bin/python" - 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
def v(name):
    return tuple(int(x) for x in version(name).split(".")[:2])
sys.exit(not ((0, 15) <= v("ziglang") < (0, 16) and (0, 24) <= v("cargo-zigbuild") < (0, 25)))
EOF
}
if ! zig_ok || [ ! -x "$venv/bin/cargo-zigbuild" ]; then
  say "installing ziglang and cargo-zigbuild into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    'ziglang>=0.15,<0.16' 'cargo-zigbuild>=0.24,<0.25'
  zig_ok || die "ziglang/cargo-zigbuild not at the wanted versions in $venv after install"
  "$venv/bin/python" -m ziglang version >/dev/null || die "zig from $venv does not run"
fi
