#!/usr/bin/env bash
# Prepare the release tools (Ship it): sanity on two ansible-core lines, the
# changelog and the documentation site, so that tests/ansible/sanity.sh,
# scripts/changelog.sh and scripts/docs-site.sh then run offline.
#   <repo>/.build/venv-2.19  Python 3.11 + ansible-core 2.19.x: the oldest
#                            line we test (Debian 12's python3 tops out there)
#   <repo>/.build/venv       (scripts/setup-host.sh's, ansible-core 2.21):
#                            gets antsibull-changelog, antsibull-docs, Sphinx
#                            and the theme antsibull-docs' site uses
#   ansible-test's own sanity venvs, created here once ("primed").
# Why priming: `ansible-test sanity` never uses the venv it runs from for its
# tests. It makes one venv per test and Python under
# ~/.ansible/test/venv/ (here: $KVMNET_SANITY_HOME) and pip-installs the
# pinned sanity.*.txt requirements there, with --local, --requirements or
# not. Each of those venvs first gets pip from a get-pip.py it downloads
# from a host this machine cannot reach (ANSIBLE.md); it uses a cached copy
# if one is at ~/.ansible/test/cache/get_pip_<version>.py. So we put a
# stand-in there that installs pip from a wheel on disk, and create every
# sanity venv now, while a package index is reachable. A version bump of
# ansible-core changes the requirements (and the venvs' names): the stamp
# below notices and primes again.
# Idempotent; silent when everything is already in place.
# Env: KVMNET_VENV (default <repo>/.build/venv), KVMNET_VENV_219 (default
#      <repo>/.build/venv-2.19), KVMNET_SANITY_HOME (HOME for ansible-test,
#      default <repo>/.build/sanity-home; keep the path short: ansible-test
#      warns that venv shebangs over 127 characters break).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${KVMNET_VENV:-$repo/.build/venv}
venv219=${KVMNET_VENV_219:-$repo/.build/venv-2.19}
sanity_home=${KVMNET_SANITY_HOME:-$repo/.build/sanity-home}
wheels=$sanity_home/wheels

say() { printf 'setup-release-tools: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
pip_q() { "$1/bin/python" -m pip install -q --disable-pip-version-check "${@:2}"; }

[ -x "$venv/bin/ansible-test" ] || die "no ansible-test in $venv; run scripts/setup-host.sh first"

# --- venv-2.19: ansible-core 2.19 needs Python 3.11-3.13; 3.11 is what a
# Debian 12 user has. pyenv's 3.11 first (it has ensurepip, like the 3.13
# setup-host.sh uses), then Debian's python3.11 (needs python3.11-venv).
core_in() {  # core_in <venv> <min> <max>: ansible-core in [min, max)
  "$1/bin/python" - "$2" "$3" 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
v = tuple(int(x) for x in version("ansible-core").split(".")[:2])
lo, hi = (tuple(int(x) for x in a.split(".")) for a in sys.argv[1:3])
sys.exit(not lo <= v < hi)
EOF
}
py311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }
pick_python311() {
  local root c
  root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  for c in "$root/versions/3.11.7/bin/python3" "$root"/versions/3.11.*/bin/python3 /usr/bin/python3.11; do
    [ -x "$c" ] && py311 "$c" && "$c" -c 'import ensurepip, venv' 2>/dev/null && { echo "$c"; return; }
  done
  if [ -x /usr/bin/python3.11 ] && [ "$(id -u)" -eq 0 ]; then
    say "installing python3.11-venv (Debian's python3.11 has no ensurepip without it)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3.11-venv >/dev/null
    /usr/bin/python3.11 -c 'import ensurepip' 2>/dev/null && { echo /usr/bin/python3.11; return; }
  fi
  die "no Python 3.11 with venv support (want \$(pyenv root)/versions/3.11.7 or Debian's python3.11 + python3.11-venv)"
}
if ! core_in "$venv219" 2.19 2.20; then
  if ! py311 "$venv219/bin/python"; then
    py=$(pick_python311)
    [ ! -e "$venv219" ] || [ -f "$venv219/pyvenv.cfg" ] || die "$venv219 exists and is not a venv"
    say "creating venv $venv219 with $py"
    "$py" -m venv --clear "$venv219"
  fi
  say "installing ansible-core 2.19 into $venv219"
  pip_q "$venv219" 'ansible-core>=2.19,<2.20'
  core_in "$venv219" 2.19 2.20 || die "ansible-core 2.19 not importable from $venv219 after install"
fi

# --- Changelog and docs tools, in the 2.21 venv (they read the collection
# through that ansible-core). Ranges, not pins: antsibull-docs' site layout
# is checked by scripts/docs-site.sh on every run.
if ! "$venv/bin/python" - 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
need = ["antsibull-changelog", "antsibull-docs", "sphinx", "sphinx-ansible-theme", "ansible-pygments"]
for n in need:
    version(n)
major = int(version("antsibull-docs").split(".")[0])
sys.exit(major != 2)
EOF
then
  say "installing antsibull-changelog, antsibull-docs and Sphinx into $venv"
  pip_q "$venv" 'antsibull-changelog>=0.36,<1' 'antsibull-docs>=2.28,<3' \
    'sphinx>=8' 'sphinx-ansible-theme>=0.10,<1' 'ansible-pygments>=0.1,<1'
fi

# --- ansible-test's sanity venvs, one set per ansible-core line.
# prime <venv>: stand-in get-pip for the pip version this ansible-test wants,
# then `ansible-test sanity --prime-venvs` in a stub collection (the venvs
# depend only on ansible-test's requirement files, not on the collection).
prime() {
  local v=$1 core pyver pipver stamp tmp stub
  core=$("$v/bin/python" -c 'from importlib.metadata import version; print(version("ansible-core"))')
  pyver=$("$v/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  stamp=$sanity_home/primed-$core-py$pyver
  [ -f "$stamp" ] && return
  # The pip ansible-test bootstraps into each venv (get_venv_packages()).
  pipver=$("$v/bin/python" - <<'EOF'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
import sys
print(get_venv_packages(NativePythonConfig(version="%d.%d" % sys.version_info[:2], path=sys.executable))["pip"])
EOF
)
  say "priming ansible-test $core's sanity venvs (Python $pyver, pip $pipver) in $sanity_home"
  mkdir -p "$wheels" "$sanity_home/.ansible/test/cache"
  [ -f "$wheels/pip-$pipver-py3-none-any.whl" ] ||
    "$v/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
      --only-binary=:all: -d "$wheels" "pip==$pipver"
  # Run by ansible-test's quiet_pip.py as __main__ in a venv without pip,
  # argv: [<script>, pip options..., pip==X, --no-setuptools, --no-wheel].
  cat >"$sanity_home/.ansible/test/cache/get_pip_${pipver//./_}.py" <<PY
"""Stand-in for get-pip.py $pipver (scripts/setup-release-tools.sh): pip from a local wheel."""
import runpy
import sys

wheel = "$wheels/pip-$pipver-py3-none-any.whl"
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.path.insert(0, wheel)  # pip runs from its own wheel
sys.argv = ["pip", "install", "--no-index", "--find-links", "$wheels", *args]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
PY
  tmp=$(mktemp -d)
  stub=$tmp/ansible_collections/kvmnet/prime
  mkdir -p "$stub"
  printf 'namespace: kvmnet\nname: prime\nversion: 0.0.1\nreadme: README.md\nauthors: [x]\n' >"$stub/galaxy.yml"
  if ! (cd "$stub" && HOME=$sanity_home ANSIBLE_HOME=$sanity_home/.ansible \
        "$v/bin/ansible-test" sanity --prime-venvs --local --python "$pyver" \
          --python-interpreter "$v/bin/python" >"$tmp/prime.log" 2>&1); then
    cat "$tmp/prime.log" >&2; rm -rf "$tmp"
    die "priming ansible-test $core's sanity venvs failed"
  fi
  rm -rf "$tmp"
  touch "$stamp"
}
prime "$venv219"
prime "$venv"
