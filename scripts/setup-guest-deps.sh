#!/usr/bin/env bash
# Install what the guest VM rig (tests/rig/guest/) needs on this machine
# (Debian 12, root): a qemu with the emulated `igb` NIC (>= 8.0), qemu-img,
# debootstrap, the ssh client and Debian's python3 (the rig's QMP client).
# Idempotent; silent and quick when everything is already in place.
#
# Where the system's qemu is too old (bookworm: 7.2), qemu 10 comes from
# bookworm-backports, but is NOT installed over the system's: the host's
# libvirt 9.0 cannot drive qemu 10 (it passes -no-acpi, which qemu 10 no longer has),
# and the sandbox rig (tests/rig/sandbox.sh) needs that libvirt. Its .debs
# (qemu-system-x86, -common, -data, qemu-utils, seabios) are unpacked into
# $KVMNET_GUEST_CACHE/qemu (default /var/cache/kvmnet-guest/qemu), which
# only the guest rig uses; the shared libraries they need are ordinary
# bookworm packages and are installed as such.
#
# The backports source gets its own file, with the mirror this machine's apt
# already uses for its release (tests/rig/guest/apt-mirror.sh). Backports
# packages have pin priority 100: nothing is installed from there by this
# script or by a later `apt-get upgrade`.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC2034 # used by lib.sh
GUEST_TAG=setup-guest-deps
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=tests/rig/guest/lib.sh
. "$repo/tests/rig/guest/lib.sh"
BPO_FILE=/etc/apt/sources.list.d/kvmnet-backports.sources
QEMU_DEBS=(qemu-system-x86 qemu-system-common qemu-system-data qemu-utils seabios)

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root to $1"; }
installed() { [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]; }
# Upstream part of a Debian version: 1:10.0.2+ds-1~bpo12+1 -> 10.0.2
upstream() { local v=${1#*:}; echo "${v%%[+~-]*}"; }
major_ok() { local v; v=$(upstream "$1"); [ -n "$v" ] && [ "${v%%.*}" -ge "$QEMU_MIN_MAJOR" ]; }
candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }'; }
# Runs find_qemu (which dies on a bad qemu) in a subshell: true if usable.
qemu_ok() { (find_qemu) >/dev/null 2>&1; }

tools=(debootstrap debian-archive-keyring openssh-client e2fsprogs python3 util-linux)
missing=()
for p in "${tools[@]}"; do installed "$p" || missing+=("$p"); done
if qemu_ok && [ ${#missing[@]} -eq 0 ]; then exit 0; fi

need_root "install packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -e /usr/share/debootstrap/scripts/trixie ] || die "this debootstrap does not know trixie"
qemu_ok && exit 0

# --- The system's own release has a recent enough qemu (e.g. a trixie
# host): use it as it is.
if major_ok "$(candidate qemu-system-x86)"; then
  say "installing qemu-system-x86 qemu-utils"
  apt-get install -y -qq --no-install-recommends qemu-system-x86 qemu-utils >/dev/null
  qemu_ok || (find_qemu)   # dies with the reason
  exit 0
fi

# --- qemu from backports, unpacked into the rig's cache.
# shellcheck disable=SC1091 # the machine's own file
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
bpo=$codename-backports
if ! apt-cache policy | grep -q " $bpo/main "; then
  mirror=$("$repo/tests/rig/guest/apt-mirror.sh" "$codename") ||
    die "cannot derive the Debian mirror from the apt sources"
  say "adding $bpo ($mirror) as $BPO_FILE"
  cat >"$BPO_FILE" <<EOF
# Added by kvmnet's scripts/setup-guest-deps.sh: qemu >= $QEMU_MIN_MAJOR.0 (igb NIC)
# for the guest VM rig. Mirror taken from this machine's own apt sources.
Types: deb
URIs: $mirror
Suites: $bpo
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt-get update -qq
fi
ver=$(apt-cache show "qemu-system-x86/$bpo" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
major_ok "$ver" || die "no qemu-system-x86 >= $QEMU_MIN_MAJOR.0 in $bpo (found '${ver:-none}')"

# Their shared libraries: the Depends of the binary packages, less qemu's
# own packages and firmware (unpacked below), first of any alternatives.
libs=()
for p in qemu-system-x86 qemu-system-common qemu-utils; do
  while read -r dep; do
    case $dep in qemu-* | seabios | ipxe-qemu | "") continue ;; esac
    installed "$dep" || libs+=("$dep")
  done < <(apt-cache show "$p/$bpo" | sed -n 's/^Depends: //p' | head -n 1 |
             tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g')
done
if [ ${#libs[@]} -gt 0 ]; then
  say "installing libraries for qemu $ver: ${libs[*]}"
  apt-get install -y -qq --no-install-recommends "${libs[@]}" >/dev/null
fi

say "unpacking qemu $ver from $bpo into $GUEST_QEMU_DIR"
mkdir -p "$GUEST_CACHE"
tmp=$(mktemp -d "$GUEST_CACHE/.qemu.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# apt's download sandbox user cannot write into root's temp dir.
(cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "${QEMU_DEBS[@]/%//$bpo}") >/dev/null ||
  die "apt-get download of ${QEMU_DEBS[*]} from $bpo failed"
for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$tmp/root"; done
rm -rf "$tmp/root/usr/share/doc" "$tmp/root/usr/share/man"
echo "$ver" >"$tmp/root/VERSION"
nf=$(ldd "$tmp/root/usr/bin/qemu-system-x86_64" "$tmp/root/usr/bin/qemu-img" | grep 'not found' || true)
[ -z "$nf" ] || die "qemu $ver lacks libraries: $nf"
# Swap in the new tree (a running guest keeps its mapped binary).
rm -rf "$GUEST_QEMU_DIR.old"
[ ! -e "$GUEST_QEMU_DIR" ] || mv -T "$GUEST_QEMU_DIR" "$GUEST_QEMU_DIR.old"
mv -T "$tmp/root" "$GUEST_QEMU_DIR"
rm -rf "$GUEST_QEMU_DIR.old"
(find_qemu)   # dies with the reason if it still does not do
say "qemu $ver ready in $GUEST_QEMU_DIR"
