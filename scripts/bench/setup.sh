#!/usr/bin/env bash
# What the benchmark suite needs besides `make setup` and `make collection`,
# installed when missing (idempotent, quiet):
#  - Debian packages: openssh-server (the test host's sshd; its service is
#    kept from starting), python3-libvirt and python3-lxml (what
#    community.libvirt needs on the target), hyperfine, GNU time;
#  - community.libvirt, taken from the `ansible` package on PyPI (which
#    bundles it; only that collection is unpacked), into
#    .build/bench/pycollections (the kvmnet collection from dist/ goes into
#    .build/bench/collections);
#  - the trivial static binary module, .build/bench/library/bench_trivial.
set -euo pipefail
# shellcheck source=scripts/bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The `ansible` release that matches ansible-core 2.21 (it bundles
# community.libvirt 2.x).
ANSIBLE_PKG=${BENCH_ANSIBLE_PKG:-ansible>=14,<15}

apt_missing=()
for p in openssh-server python3-libvirt python3-lxml hyperfine time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || apt_missing+=("$p")
done
if [ ${#apt_missing[@]} -gt 0 ]; then
  bench_say "installing ${apt_missing[*]}"
  # openssh-server's postinst would start an sshd on this machine's own
  # network: a policy-rc.d that refuses every service start prevents it.
  created_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
  [ -z "$created_policy" ] || rm -f /usr/sbin/policy-rc.d
fi

# community.libvirt from the ansible package's wheel.
coll=$BENCH_BUILD/pycollections
if [ ! -f "$coll/ansible_collections/community/libvirt/MANIFEST.json" ]; then
  bench_say "unpacking community.libvirt from the PyPI package $ANSIBLE_PKG"
  wheels=$BENCH_BUILD/wheels
  mkdir -p "$wheels"
  "$BENCH_VENV/bin/pip" download -q --no-deps "$ANSIBLE_PKG" -d "$wheels"
  "$BENCH_VENV/bin/python" - "$wheels" "$coll" <<'PY'
import glob, sys, zipfile
wheels, dest = sys.argv[1:3]
whl = sorted(glob.glob(f'{wheels}/ansible-*.whl'))[-1]
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if n.startswith('ansible_collections/community/libvirt/')]
    if not names:
        sys.exit(f'{whl} holds no community.libvirt')
    z.extractall(dest, members=names)
PY
fi

# The kvmnet collection as built into dist/.
ANSIBLE_HOME=$BENCH_BUILD/ansible-home ANSIBLE_COLLECTIONS_PATH=$BENCH_BUILD/collections "$BENCH_REPO/scripts/install-collection.sh" "$BENCH_BUILD/collections"

# The trivial static binary module.
lib=$BENCH_BUILD/library
src=$BENCH_DIR/trivial/bench_trivial.rs
if [ ! -x "$lib/bench_trivial" ] || [ "$src" -nt "$lib/bench_trivial" ]; then
  mkdir -p "$lib"
  rustc --edition 2021 -C opt-level=3 -C strip=symbols -C panic=abort \
    --target "$ARCH-unknown-linux-musl" -o "$lib/bench_trivial" "$src"
fi
