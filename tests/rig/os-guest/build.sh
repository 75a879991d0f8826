#!/usr/bin/env bash
# The sandbox's hot-plug test guest (tests/rig/os-guest): the guest rig's
# Debian kernel with a tiny initramfs whose init only waits. A domain
# sitting in firmware never answers a hot-unplug, so live detach tests need
# a running kernel; this one boots to init in a few seconds under TCG.
#
#   build.sh        build (if missing) and print the directory holding
#                   vmlinuz and initrd.img
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../guest/lib.sh
. "$HERE/../guest/lib.sh"
image=$("$HERE/../guest/build-image.sh" path)
[ -f "$image/vmlinuz" ] || "$HERE/../guest/build-image.sh" >&2
stamp=$(cat "$HERE/init.c" "$HERE/build.sh" "$image/vmlinuz" | sha256sum | cut -c1-16)
out=$GUEST_CACHE/os-guest-$stamp
if [ ! -f "$out/initrd.img" ]; then
  tmp=$(mktemp -d "$GUEST_CACHE/.os-guest.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  gcc -static -Os -s -o "$tmp/init" "$HERE/init.c"
  cp "$image/vmlinuz" "$tmp/vmlinuz"
  # A newc cpio archive with the one file (no cpio on a fresh machine).
  python3 - "$tmp/init" "$tmp/initrd.img" <<'PY'
import os, sys
src, dest = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
def entry(name, mode, body, ino):
    name_b = name.encode() + b"\0"
    head = "070701" + "".join("%08X" % v for v in (
        ino, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(name_b), 0))
    out = head.encode() + name_b
    out += b"\0" * (-len(out) % 4)
    out += body + b"\0" * (-len(body) % 4)
    return out
archive = entry("init", 0o100755, data, 1) + entry("TRAILER!!!", 0, b"", 0)
with open(dest, "wb") as f:
    f.write(archive)
PY
  mkdir -p "$out"
  mv "$tmp/vmlinuz" "$tmp/initrd.img" "$out/"
fi
echo "$out"
