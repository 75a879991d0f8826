#!/usr/bin/env bash
# Build every module binary for each architecture into OUTDIR as
# <name>_<arch> (arch as `uname -m` names it: x86_64, aarch64), portable:
#   - a module that links libvirt (the virt-sys crate is in its dependency
#     tree, through kvmnet_core's `libvirt` feature): glibc, built against
#     glibc 2.17's symbols (cargo-zigbuild's <triple>.2.17 target), needing
#     only libvirt.so.0 and glibc's own libraries at run time;
#   - any other module: static musl, no run-time dependency at all.
# Each binary is checked (ELF machine, static-ness, loader, highest GLIBC_
# version, NEEDED list) and listed with its size and kind; the script fails
# if any does not pass, after naming every one that does not (and leaves
# none of those in OUTDIR).
# Usage: scripts/build-binaries.sh OUTDIR
# Env: KVMNET_ARCHES (default "x86_64 aarch64", scripts/build-vars.sh),
#      KVMNET_VENV (default <repo>/.build/venv, with ziglang and
#        cargo-zigbuild: scripts/setup-cross.sh),
#      CARGO_TARGET_DIR (default <repo>/target).
set -euo pipefail

say() { printf 'build-binaries: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
mkdir -p "$1"
out=$(cd "$1" && pwd)   # relative to the caller's directory, before the cd
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
venv=${KVMNET_VENV:-$repo/.build/venv}
target_dir=${CARGO_TARGET_DIR:-$repo/target}
# shellcheck source=scripts/build-vars.sh
source scripts/build-vars.sh   # kvmnet_modules, kvmnet_arches (KVMNET_ARCHES)
arches=("${kvmnet_arches[@]}")
[ ${#arches[@]} -gt 0 ] || die "KVMNET_ARCHES is empty"

# The glibc baseline: RHEL/CentOS 7's, the oldest Rust's std supports.
glibc_max=2.17

[ -x "$venv/bin/cargo-zigbuild" ] ||
  die "no cargo-zigbuild in $venv; run scripts/setup-cross.sh"
"$venv/bin/python" -c 'import ziglang' 2>/dev/null ||
  die "no ziglang in $venv; run scripts/setup-cross.sh"
# cargo-zigbuild asks `python -m ziglang` first: pin it to the venv's zig
# rather than whatever python3 or zig is on PATH.
export CARGO_ZIGBUILD_PYTHON_PATH=$venv/bin/python

# --- Per architecture: Rust triples, Debian's multiarch dir (libvirt.pc and
# libvirt.so for linking), the ELF machine readelf reports, the loader.
declare -A multiarch=([x86_64]=x86_64-linux-gnu [aarch64]=aarch64-linux-gnu)
declare -A machine=([x86_64]="Advanced Micro Devices X86-64" [aarch64]=AArch64)
declare -A loader=([x86_64]=/lib64/ld-linux-x86-64.so.2 [aarch64]=/lib/ld-linux-aarch64.so.1)
musl_targets=() glibc_targets=()
for arch in "${arches[@]}"; do
  [ -n "${multiarch[$arch]:-}" ] || die "unknown architecture '$arch' in KVMNET_ARCHES (known: ${!multiarch[*]})"
  musl_targets+=(--target "$arch-unknown-linux-musl")
  glibc_targets+=(--target "$arch-unknown-linux-gnu.$glibc_max")
  # libvirt.pc of the target's architecture, for virt-sys's pkg-config probe.
  # Target-scoped variables (the pkg-config crate reads them), so that the
  # other target and build scripts keep the defaults; ALLOW_CROSS because
  # for a foreign triple the crate refuses pkg-config otherwise.
  pcdir=/usr/lib/${multiarch[$arch]}/pkgconfig
  triple_=${arch}_unknown_linux_gnu
  export "PKG_CONFIG_LIBDIR_$triple_=$pcdir:/usr/share/pkgconfig"
  export "PKG_CONFIG_ALLOW_CROSS_$triple_=1"
done

# --- Which modules link libvirt: virt-sys (`links = "virt"`) in the
# module's own resolved tree. Per module (-p), so features that other
# workspace members turn on do not count.
names=("${kvmnet_modules[@]}") musl=() glibc=()
for name in "${names[@]}"; do
  tree=$(cargo tree --locked -q -p "$name" -e normal --target all --prefix none --format '{p}') ||
    die "cargo tree -p $name failed"
  if grep -q '^virt-sys ' <<<"$tree"; then glibc+=("$name"); else musl+=("$name"); fi
done

if [ ${#glibc[@]} -gt 0 ]; then
  for arch in "${arches[@]}"; do
    [ -f "/usr/lib/${multiarch[$arch]}/pkgconfig/libvirt.pc" ] ||
      die "no libvirt.pc for $arch in /usr/lib/${multiarch[$arch]}/pkgconfig; run scripts/setup-cross.sh"
  done
fi

# --- Build: one cargo run per kind, all architectures at once (cargo
# schedules the targets' crates together). The -p lists keep each kind's
# feature set its own: the musl modules never pull in virt-sys.
zigbuild() { "$venv/bin/cargo-zigbuild" zigbuild --release --locked "$@"; }
if [ ${#musl[@]} -gt 0 ]; then
  say "static musl: ${musl[*]}"
  zigbuild "${musl[@]/#/--package=}" "${musl_targets[@]}"
fi
if [ ${#glibc[@]} -gt 0 ]; then
  say "glibc $glibc_max + libvirt: ${glibc[*]}"
  zigbuild "${glibc[@]/#/--package=}" "${glibc_targets[@]}"
fi

# --- Checks. readelf (binutils) reads any architecture's ELF, unlike the
# host's objdump; `file` is not on a minimal Debian.
check() {   # check FILE ARCH KIND; prints the kind's description
  local f=$1 arch=$2 kind=$3 header interp needed lib versions top lv
  header=$(readelf -hW "$f") || die "$f: not an ELF file"
  grep -q 'Class: *ELF64' <<<"$header" || die "$f: not a 64-bit ELF"
  grep -q "Machine: *${machine[$arch]}\$" <<<"$header" ||
    die "$f: ELF machine is '$(sed -n 's/.*Machine: *//p' <<<"$header")', not ${machine[$arch]}"
  interp=$(readelf -lW "$f" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
  needed=$(readelf -dW "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  case $kind in
    musl)
      [ -z "$interp" ] || die "$f: not static: it asks for the loader $interp"
      [ -z "$needed" ] || die "$f: not static: it needs ${needed//$'\n'/ }"
      echo "static musl"
      ;;
    glibc)
      [ "$interp" = "${loader[$arch]}" ] || die "$f: loader is '$interp', not ${loader[$arch]}"
      grep -qx 'libvirt.so.0' <<<"$needed" || die "$f: does not need libvirt.so.0"
      # libvirt and glibc's own libraries only (at 2.17, libpthread, libdl
      # and librt are still apart from libc): anything else would have to
      # be on every managed host too.
      for lib in $needed; do
        case $lib in
          libvirt.so.0 | libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1 | \
            libgcc_s.so.1 | ld-linux-x86-64.so.2 | ld-linux-aarch64.so.1) ;;
          *) die "$f: needs $lib; only libvirt.so.0 and glibc's libraries are allowed" ;;
        esac
      done
      versions=$(readelf -VW "$f" | grep -o 'Name: GLIBC_[0-9.]*' | sed 's/.*GLIBC_//' | sort -uV)
      [ -n "$versions" ] || die "$f: no GLIBC_ symbol versions (not linked against glibc?)"
      top=$(tail -n1 <<<"$versions")
      [ "$(printf '%s\n' "$top" "$glibc_max" | sort -V | tail -n1)" = "$glibc_max" ] ||
        die "$f: needs GLIBC_$top, above the $glibc_max baseline ($(readelf -sW --dyn-syms "$f" | grep -o "[^ ]*@GLIBC_$top" | sort -u | head -5 | tr '\n' ' '))"
      # The newest libvirt API version used: the oldest libvirt it runs with.
      lv=$(readelf -VW "$f" | grep -o 'Name: LIBVIRT_[0-9.]*' | sed 's/.*LIBVIRT_//' | sort -uV | tail -n1)
      echo "glibc <= $glibc_max + libvirt (highest GLIBC_$top, LIBVIRT_${lv:-?}; NEEDED ${needed//$'\n'/ })"
      ;;
  esac
}

status=0
for arch in "${arches[@]}"; do
  for name in "${names[@]}"; do
    if [[ " ${glibc[*]} " == *" $name "* ]]; then
      kind=glibc triple=$arch-unknown-linux-gnu
    else
      kind=musl triple=$arch-unknown-linux-musl
    fi
    src=$target_dir/$triple/release/$name
    [ -f "$src" ] || die "$src was not built"
    # A binary failing its checks must not ship, nor an older one left
    # in OUTDIR under its name.
    desc=$(check "$src" "$arch" "$kind") || { status=1; rm -f "$out/${name}_$arch"; continue; }
    install -m 0755 "$src" "$out/${name}_$arch"
    printf '%-24s %9s bytes  %s\n' "${name}_$arch" "$(stat -c %s "$out/${name}_$arch")" "$desc"
  done
done
[ "$status" -eq 0 ] || die "some binaries failed their checks (above); nothing was installed for them"
