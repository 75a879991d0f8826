#!/usr/bin/env bash
# Prepare this machine (Debian 12, root) for kvmnet's build and tests:
# distro packages, the users libvirtd wants, and a venv with ansible-core.
# Idempotent; silent when everything is already in place.
# Env: KVMNET_VENV (default <repo>/.build/venv).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${KVMNET_VENV:-$repo/.build/venv}

say() { printf 'setup-host: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root to $1"; }

# --- Distro packages. Never libvirt-daemon-system: its postinst starts a
# libvirtd and the 192.168.122.0/24 default network in the root namespace.
pkgs=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-dev
      dnsmasq-base qemu-system-x86 nftables iptables netplan.io pkg-config iproute2
      gcc libc6-dev   # the static init of tests/rig/os-guest
      python3 busybox  # nat_forward tests: a tiny web server, its client, a DHCP client
      sudo)            # the module-binary cache under become (tests/ansible/test-binary-cache.sh)
missing=()
# This machine's own architecture: setup-cross.sh adds arm64 packages beside
# some of these (libvirt-dev:arm64), which dpkg-query lists too.
native=$(dpkg --print-architecture)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Architecture} ${db:Status-Abbrev}\n' "$p" 2>/dev/null |
    grep -Eq "^($native|all) ii " || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  need_root "install packages"
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# --- Users and groups libvirtd looks up at start (normally made by
# libvirt-daemon-system, which we do not install).
for g in kvm libvirt libvirt-qemu libvirt-dnsmasq; do
  getent group "$g" >/dev/null || { need_root "add groups"; groupadd -r "$g"; }
done
if ! getent passwd libvirt-qemu >/dev/null; then
  need_root "add users"
  useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
fi
if ! getent passwd libvirt-dnsmasq >/dev/null; then
  need_root "add users"
  useradd -r -g libvirt-dnsmasq -d /var/lib/libvirt/dnsmasq -s /usr/sbin/nologin libvirt-dnsmasq
fi

# --- Python venv with ansible-core. ansible-core 2.20+ needs Python >= 3.12,
# Debian 12 ships 3.11: prefer pyenv's 3.13.0, else any python3 >= 3.12.
py_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; }
ansible_ok() {
  "$venv/bin/python" - 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
v = tuple(int(x) for x in version("ansible-core").split(".")[:2])
sys.exit(not (2, 20) <= v < (2, 22))
EOF
}
pick_python() {
  local root c
  root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  for c in "$root/versions/3.13.0/bin/python3" python3.13 python3.12 python3; do
    c=$(command -v "$c" 2>/dev/null) || continue
    py_ok "$c" && { echo "$c"; return; }
  done
  die "no Python >= 3.12 found (want \$(pyenv root)/versions/3.13.0/bin/python3 or python3.12+ on PATH)"
}

if ! ansible_ok; then
  if ! py_ok "$venv/bin/python"; then   # missing, or its interpreter is gone
    py=$(pick_python)
    say "creating venv $venv with $py"
    [ ! -e "$venv" ] || [ -f "$venv/pyvenv.cfg" ] || die "$venv exists and is not a venv"
    "$py" -m venv --clear "$venv" || die "'$py -m venv' failed"
  fi
  say "installing ansible-core into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check 'ansible-core>=2.20,<2.22'
  ansible_ok || die "ansible-core not importable from $venv after install"
fi

# --- Molecule (26: the delegated "default" driver), for molecule/.
# (Not `python -c 'import molecule'`: run from the repo root, that imports
# the molecule/ folder as a namespace package.)
if [ ! -x "$venv/bin/molecule" ]; then
  say "installing molecule into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check 'molecule>=26,<27'
fi

# --- ansible-lint (production profile over playbooks/ and molecule/).
if [ ! -x "$venv/bin/ansible-lint" ]; then
  say "installing ansible-lint into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check 'ansible-lint>=26,<27'
fi

# --- Cross builds (every module for x86_64 and aarch64: rustup targets,
# zig + cargo-zigbuild, arm64 libvirt-dev, qemu-user) and the release tools
# (ansible-core 2.19 beside 2.21 for sanity, antsibull changelog and docs).
# Both need the venv above; both are silent when all is in place.
KVMNET_VENV=$venv "$repo/scripts/setup-cross.sh"
KVMNET_VENV=$venv "$repo/scripts/setup-release-tools.sh"
