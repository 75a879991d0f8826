#!/usr/bin/env bash
# Build the Debian trixie guest image of the guest VM rig (docs: RIGS.md,
# "Guest VM rig"): root file system as a compressed qcow2, the kernel and a
# small initramfs beside it, and the root SSH key.
#
#   build-image.sh [build]   build unless cached; print the image dir
#   build-image.sh path      print the image dir (built or not)
#
# The image dir is $KVMNET_GUEST_CACHE/<hash of this file>/ (default cache
# /var/cache/kvmnet-guest): editing this script makes a new image, nothing
# else does. Everything the image holds is written from here.
# It is built in a temp dir beside it and renamed into place when complete,
# so an interrupted build leaves no half image (the next build sweeps it).
# Needs root, debootstrap, mkfs.ext4 and qemu-img (scripts/setup-guest-deps.sh).
# ~2-7 minutes under load; the packages come from the Debian mirror this
# machine's apt uses (apt-mirror.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by lib.sh
GUEST_TAG=build-image
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

SUITE=trixie
MGMT_MAC=52:54:00:12:34:56
DISK_SIZE=4G
# Packages as in RIGS.md; debootstrap cannot resolve libvirt's alternatives,
# so those come from apt inside the chroot.
INCLUDE=linux-image-amd64,systemd-sysv,udev,dbus,openssh-server,python3,netplan.io,iproute2,ethtool,kmod,pciutils,iputils-ping,procps
CHROOT_PKGS=(libvirt-daemon-system libvirt-daemon-driver-network libvirt-clients dnsmasq-base nftables)

HASH=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
IMG=$GUEST_CACHE/$HASH

# Unmount whatever is mounted below $1 (deepest first), then remove it
# without crossing into another file system: a mount that did not go away
# (busy) is then left alone instead of emptied.
unmount_under() {
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$1/" | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
}
remove_build() {
  unmount_under "$1"
  rm -rf --one-file-system "$1"
}

build() {
  local tmp R mirror codename kver log t0
  [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot)"
  command -v debootstrap >/dev/null || die "debootstrap missing: run scripts/setup-guest-deps.sh"
  [ -e "/usr/share/debootstrap/scripts/$SUITE" ] || die "this debootstrap does not know $SUITE"
  find_qemu
  mkdir -p "$GUEST_CACHE"
  # One build at a time; a second caller waits and then finds the image.
  exec 8>"$GUEST_CACHE/.build.lock"
  flock 8
  [ -f "$IMG/base.qcow2" ] && return 0
  # Leftovers of interrupted builds (we hold the lock: none is running).
  for tmp in "$GUEST_CACHE"/.build-*; do
    [ -d "$tmp" ] && { say "removing unfinished build $tmp"; remove_build "$tmp"; }
  done

  # shellcheck disable=SC1091 # the machine's own file
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  mirror=$("$HERE/apt-mirror.sh" "$codename") || die "cannot derive a Debian mirror from the apt sources"
  tmp=$(mktemp -d "$GUEST_CACHE/.build-$HASH.XXXXXX")
  R=$tmp/root
  log=$tmp/build.log
  # On failure keep the log where the next look finds it.
  # shellcheck disable=SC2064 # $tmp and $log are fixed now
  trap "cp -f '$log' '$GUEST_CACHE/failed-build.log' 2>/dev/null; remove_build '$tmp'" EXIT
  t0=$SECONDS
  say "building the $SUITE image into $IMG (log: $log)"

  # Output to the log; on failure show its end.
  run() {
    "$@" >>"$log" 2>&1 ||
      { tail -n 30 "$log" >&2; die "failed: $* (log: $GUEST_CACHE/failed-build.log)"; }
  }
  in_root() { run chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

  # Downloaded .debs are kept in the cache for the next rebuild.
  mkdir -p "$GUEST_CACHE/debs"
  run debootstrap --variant=minbase --include="$INCLUDE" --components=main \
    --cache-dir="$GUEST_CACHE/debs" "$SUITE" "$R" "$mirror"
  say "debootstrap done ($((SECONDS - t0)) s)"

  # --- Packages debootstrap cannot resolve. Services must not start in the
  # chroot (policy-rc.d), and the chroot needs /proc and name resolution.
  mount -t proc proc "$R/proc"
  mount -t sysfs sys "$R/sys"
  mount -t devpts -o newinstance,ptmxmode=0666 devpts "$R/dev/pts"
  printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
  chmod 755 "$R/usr/sbin/policy-rc.d"
  cp -L /etc/resolv.conf "$R/etc/resolv.conf"
  in_root apt-get update
  in_root apt-get install -y --no-install-recommends "${CHROOT_PKGS[@]}"
  say "chroot packages done ($((SECONDS - t0)) s)"

  # --- Identity and file systems.
  echo kvmnet-guest >"$R/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tkvmnet-guest\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
  echo '/dev/vda / ext4 errors=remount-ro 0 1' >"$R/etc/fstab"
  # Empty: systemd makes a fresh one at first boot.
  : >"$R/etc/machine-id"
  rm -f "$R/var/lib/dbus/machine-id"
  # The guest reaches nothing outside (qemu's restrict=on): no name servers,
  # no apt sources (nor the mirror's name in the image).
  : >"$R/etc/resolv.conf"
  echo '# kvmnet guest: no network access, no apt sources' >"$R/etc/apt/sources.list"
  # Root's password stays locked ('*' from debootstrap): SSH keys only.
  in_root passwd -l root

  # --- Management NIC: matched by MAC, so the names of the NICs under test
  # are what udev makes of them. networkd renders netplan; nothing waits for
  # "online" (the hub NICs never get a carrier).
  mkdir -p "$R/etc/netplan"
  cat >"$R/etc/netplan/01-mgmt.yaml" <<EOF
network:
  version: 2
  renderer: networkd
  ethernets:
    mgmt0:
      match:
        macaddress: "$MGMT_MAC"
      set-name: mgmt0
      dhcp4: true
EOF
  chmod 600 "$R/etc/netplan/01-mgmt.yaml"
  in_root systemctl enable systemd-networkd.service
  in_root systemctl mask systemd-networkd-wait-online.service
  # No network to update from; timers would only add noise under TCG.
  in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer
  # Login prompt on the serial console (console.log / console.sock); the
  # kernel's console=ttyS0 asks for it too, this makes it explicit.
  in_root systemctl enable serial-getty@ttyS0.service

  # --- SSH: root by key only, no reverse lookups (slow without DNS).
  ssh-keygen -q -t ed25519 -N '' -C kvmnet-guest -f "$tmp/id_ed25519"
  install -d -m 700 "$R/root/.ssh"
  install -m 600 "$tmp/id_ed25519.pub" "$R/root/.ssh/authorized_keys"
  mkdir -p "$R/etc/ssh/sshd_config.d"
  printf 'UseDNS no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n' \
    >"$R/etc/ssh/sshd_config.d/kvmnet.conf"

  # --- Small initramfs: only what mounts /dev/vda (saves ~25 s of boot
  # under TCG). The NICs' drivers (virtio_net, igb) load later from the root.
  sed -i 's/^MODULES=.*/MODULES=list/' "$R/etc/initramfs-tools/initramfs.conf"
  printf '%s\n' virtio_pci virtio_blk ext4 >>"$R/etc/initramfs-tools/modules"
  in_root update-initramfs -u -k all
  kver=$(basename "$(find "$R/lib/modules" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -n 1)")
  cp "$R/boot/vmlinuz-$kver" "$tmp/vmlinuz"
  cp "$R/boot/initrd.img-$kver" "$tmp/initrd.img"

  # --- Clean up the chroot and make the disk.
  in_root apt-get clean
  rm -rf "$R"/var/lib/apt/lists/* "$R/usr/sbin/policy-rc.d"
  unmount_under "$R"
  # No loop device: mkfs fills the file system from the directory.
  run mkfs.ext4 -q -F -L root -d "$R" "$tmp/root.raw" "$DISK_SIZE"
  run "${QEMU_IMG_CMD[@]}" convert -c -O qcow2 -o compression_type=zstd "$tmp/root.raw" "$tmp/base.qcow2"
  rm -rf --one-file-system "$R" "$tmp/root.raw"
  chmod 600 "$tmp/id_ed25519"
  {
    echo "suite=$SUITE"
    echo "kernel=$kver"
    echo "built=$(date -u +%FT%TZ)"
    echo "seconds=$((SECONDS - t0))"
  } >"$tmp/info"
  chmod 755 "$tmp"
  mv -T "$tmp" "$IMG"
  trap - EXIT
  rm -f "$GUEST_CACHE/failed-build.log"
  say "image ready: $IMG ($(du -sh "$IMG/base.qcow2" | cut -f1), $((SECONDS - t0)) s)"
}

case ${1:-build} in
  build) [ -f "$IMG/base.qcow2" ] || build; echo "$IMG" ;;
  path) echo "$IMG" ;;
  *) echo "usage: $0 [build|path]" >&2; exit 2 ;;
esac
