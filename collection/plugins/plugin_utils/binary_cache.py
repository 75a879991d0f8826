# -*- coding: utf-8 -*-
# Copyright: kvmnet developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shell side of the module-binary cache (see binary_module.py).

Ansible's path for a binary module costs about eight SSH operations per
task: make a temp dir, copy the binary, copy the args, chmod, run, remove.
With the cache a task is one: a shell command that finds the binary in
$HOME/.ansible/kvmnet of the user the module runs as (named by its
content hash, so a stale one is never run), and runs it with its args
on stdin. When it is not there, the command says so and changes nothing;
the binary is then copied once, checked against its hash and installed.

These functions only build the command text (pure, tested by
tests/ansible/test-binary-cache.sh); binary_module.py runs them.
"""

from __future__ import annotations

import shlex

# Relative to the home of the user the module runs as: with become, the
# become user's (sudo -H); a binary run as root stays owned by root.
CACHE_DIR = '"$HOME/.ansible/kvmnet"'
MISS = 'KVMNET-CACHE-MISS'
NO_PLATFORM = 'KVMNET-NO-PLATFORM'
INSTALLED = 'KVMNET-CACHE-INSTALLED'
NOT_INSTALLED = 'KVMNET-CACHE-NOT-INSTALLED'


def cached_name(module, arch, digest):
    """The cached binary's file name: the module's, its CPU and the start
    of its SHA-256 (a new build gets a new name)."""
    return f'{module}_{arch}-{digest[:20]}'


def run_command(module, digests, uname_names, environment=''):
    """The one command of a task: pick the binary for this host (by
    `uname` unless `digests` holds one architecture, known from facts),
    run it with the args from stdin when it is cached and owned by this
    user, else print MISS and the architecture (or NO_PLATFORM).

    digests: {arch: sha256 hex}; uname_names: {arch: [`uname -m` names]};
    environment: the task's environment as `NAME=value` words."""
    lines = [f'd={CACHE_DIR}']
    if len(digests) == 1:
        (arch, digest), = digests.items()
        lines.append(f'a={arch}; f="$d/{cached_name(module, arch, digest)}"')
    else:
        lines.append('case "$(uname -s -m 2>/dev/null)" in')
        for arch, digest in sorted(digests.items()):
            patterns = '|'.join(shlex.quote(f'Linux {name}') for name in uname_names[arch])
            lines.append(f'{patterns}) a={arch}; f="$d/{cached_name(module, arch, digest)}" ;;')
        lines.append(f'*) echo {NO_PLATFORM}; exit 0 ;;')
        lines.append('esac')
    run = f'{environment} "$f" /dev/stdin'.strip()
    lines.append(f'if [ -O "$d" ] && [ -O "$f" ] && [ -x "$f" ]; then {run}; exit $?; fi')
    lines.append(f'echo "{MISS} $a"')
    return '\n'.join(lines)


def install_command(module, arch, digest, source):
    """Install the copied binary `source` into the cache, if its SHA-256
    is `digest`: through a temp name, made executable, renamed into
    place; older builds of the module for this CPU are removed. Prints
    INSTALLED, or NOT_INSTALLED and why."""
    name = cached_name(module, arch, digest)
    fail = f'echo "{NOT_INSTALLED}'
    return '\n'.join([
        'umask 077',
        f'd={CACHE_DIR}; f="$d/{name}"; src={shlex.quote(source)}',
        f'mkdir -p "$d" && [ -O "$d" ] || {{ {fail}: cannot make $d, or another user owns it"; exit 0; }}',
        f'h=$(sha256sum < "$src") || {{ {fail}: sha256sum failed"; exit 0; }}',
        f'case "$h" in {digest}*) ;; *) {fail}: the copy does not have the SHA-256 of the binary"; exit 0 ;; esac',
        't="$f.tmp.$$"',
        f'cp "$src" "$t" && chmod 0700 "$t" && mv -f "$t" "$f" || {{ rm -f "$t"; {fail}: cannot write $f"; exit 0; }}',
        f'for o in "$d/{module}_{arch}-"*; do [ "$o" = "$f" ] || rm -f "$o"; done',
        f'echo {INSTALLED}',
    ])
