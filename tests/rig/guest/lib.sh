# Shared by the guest VM rig's scripts (sourced, not run): paths, messages,
# and which qemu to use. Nothing here changes the image, so it is not part
# of the image's cache key (that is build-image.sh alone).
# shellcheck shell=bash

# Cache for the image(s) and the rig's own qemu; survives `down`.
GUEST_CACHE=${KVMNET_GUEST_CACHE:-/var/cache/kvmnet-guest}
GUEST_CACHE=${GUEST_CACHE%/}
# qemu >= 8.0 (for the igb NIC), unpacked from bookworm-backports by
# scripts/setup-guest-deps.sh (default: in the cache). Kept apart from the
# system's qemu: the host's libvirt 9.0 cannot drive qemu 10 (it passes
# -no-acpi, which qemu 10 no longer has), and the sandbox rig needs it.
GUEST_QEMU_DIR=${KVMNET_GUEST_QEMU_DIR:-$GUEST_CACHE/qemu}
QEMU_MIN_MAJOR=8

: "${GUEST_TAG:=guest}"
say() { printf '%s: %s\n' "$GUEST_TAG" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Sets QEMU_CMD and QEMU_IMG_CMD (arrays: how to run qemu-system-x86_64 and
# qemu-img) and QEMU_VERSION. Order: $KVMNET_GUEST_QEMU (a
# qemu-system-x86_64; its qemu-img beside it or on PATH), the rig's unpacked
# qemu, the system's. Dies when that qemu is too old or lacks igb.
#
# The unpacked qemu runs in a mount namespace of its own where the system's
# firmware and module dirs are its own build's: qemu also looks for modules
# in its compiled-in dir, and one of the system's older build aborts it
# ("Only modules from the same build can be loaded"). -L and
# QEMU_MODULE_DIR cover a machine without those dirs.
find_qemu() {
  local bin=${KVMNET_GUEST_QEMU:-} dir=$GUEST_QEMU_DIR ver img wrap=()
  if [ -n "$bin" ]; then
    img=$(dirname "$bin")/qemu-img
    [ -x "$img" ] || img=$(command -v qemu-img || true)
  elif [ -x "$dir/usr/bin/qemu-system-x86_64" ]; then
    bin=$dir/usr/bin/qemu-system-x86_64
    img=$dir/usr/bin/qemu-img
    # shellcheck disable=SC2016 # expanded by the inner sh
    wrap=(env "QEMU_MODULE_DIR=$dir/usr/lib/x86_64-linux-gnu/qemu"
          unshare --mount --propagation private sh -ec '
            d=$1; shift
            for p in /usr/share/qemu /usr/share/seabios /usr/lib/x86_64-linux-gnu/qemu; do
              if [ -d "$d$p" ] && [ -d "$p" ]; then mount --bind "$d$p" "$p"; fi
            done
            exec "$@"' qemu-ns "$dir")
  else
    bin=$(command -v qemu-system-x86_64 || true)
    img=$(command -v qemu-img || true)
  fi
  [[ -n $bin && -x $bin ]] ||
    die "no qemu-system-x86_64 found: run scripts/setup-guest-deps.sh (or set KVMNET_GUEST_QEMU)"
  QEMU_CMD=("${wrap[@]}" "$bin")
  [ -z "${wrap[*]}" ] || QEMU_CMD+=(-L "$dir/usr/share/qemu" -L "$dir/usr/share/seabios")
  ver=$("${QEMU_CMD[@]}" -version 2>&1 | sed -n 's/^QEMU emulator version \([0-9][0-9.]*\).*/\1/p') ||
    true
  [ -n "$ver" ] || die "$bin does not run: $("${QEMU_CMD[@]}" -version 2>&1 | head -n 3)"
  [ "${ver%%.*}" -ge "$QEMU_MIN_MAJOR" ] ||
    die "$bin is qemu $ver; the guest rig needs >= $QEMU_MIN_MAJOR.0 for the igb NIC: run scripts/setup-guest-deps.sh"
  "${QEMU_CMD[@]}" -device help 2>/dev/null | grep -q '^name "igb"' ||
    die "$bin (qemu $ver) has no igb device"
  [[ -n $img && -x $img ]] ||
    die "no qemu-img found beside $bin or on PATH: run scripts/setup-guest-deps.sh"
  QEMU_IMG_CMD=("${wrap[@]}" "$img")
  "${QEMU_IMG_CMD[@]}" --version >/dev/null 2>&1 || die "$img does not run"
  # shellcheck disable=SC2034 # for the callers
  QEMU_VERSION=$ver
}
