# -*- coding: utf-8 -*-
# Copyright: kvmnet developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a kvmnet module: the binary built for the target's architecture.

Each module ships as plugins/modules/<name>_<arch> (a Rust binary: static
musl, or glibc >= 2.17 plus libvirt) beside a documentation-only
plugins/modules/<name>.py. Users write kvmnet.network.<name>; the action
plugin of that name (routed in meta/runtime.yml) subclasses this one.

Where it can, it runs the binary from a cache on the target in one SSH
operation (binary_cache.py): args on stdin, as Ansible pipelines a Python
module. Elsewhere (async, keep_remote_files, a connection without
pipelining, become with pipelining off, `kvmnet_binary_cache: false`,
ansible-core before 2.19) it finds the target's system and CPU from its
facts or one `uname` and runs the matching binary through Ansible's
normal module path. Either way the args and the result are Ansible's own,
so check mode, diff, no_log and become behave as for any module.
"""

from __future__ import annotations

import hashlib
import json

from ansible import constants as C
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.release import __version__ as ansible_version
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash

from ansible_collections.kvmnet.network.plugins.plugin_utils import binary_cache

display = Display()

# What `uname -m` (and the architecture fact) may call the CPUs we build for.
ARCH_NAMES = {
    'x86_64': 'x86_64',
    'amd64': 'x86_64',
    'aarch64': 'aarch64',
    'arm64': 'aarch64',
}


class BinaryModuleAction(ActionBase):
    """Action plugin base: pick <module>_<arch> and execute it."""

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # has had no effect since ansible-core 2.10
        task_vars = task_vars or {}
        module = self._task.resolved_action or self._task.action

        # With facts the CPU is known here; without, the cached path's
        # command finds it itself (no uname round trip), and only the normal
        # path asks uname.
        facts = self._platform_from_facts(task_vars)
        arch, msg = self._arch_for(module, facts) if facts else (None, None)
        if msg is None and self._cache_usable(task_vars):
            cached = self._run_cached(module, arch, task_vars)
            if cached is not None:
                return merge_hash(result, cached)
        if msg is None and arch is None:
            arch, msg = self._arch_for(module, self._platform_from_uname())
        if msg is not None:
            result.update(failed=True, msg=msg)
            return result

        wrap_async = self._task.async_val
        result = merge_hash(
            result,
            self._execute_module(
                module_name=f'{module}_{arch}',
                module_args=self._task.args,
                task_vars=task_vars,
                wrap_async=wrap_async,
            ),
        )
        if not wrap_async:
            # As ansible-core's normal action: the module's temp dir goes.
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _cache_usable(self, task_vars):
        """Whether this task may run the binary from the target's cache:
        where Ansible would pipeline a Python module (its args go on
        stdin too), and on the ansible-core versions this is tested on."""
        if tuple(int(x) for x in ansible_version.split('.')[:2]) < (2, 19):
            return False
        if self._task.async_val or C.DEFAULT_KEEP_REMOTE_FILES:
            return False
        connection = self._connection
        if not connection.has_pipelining or getattr(connection._shell, 'SHELL_FAMILY', 'sh') == 'powershell':
            return False
        # With become, stdin is as safe as Ansible's pipelining setting
        # says (sudo's requiretty); without, nothing stands in the way.
        if connection.become and not connection.is_pipelining_enabled(False):
            return False
        return boolean(self._templar.template(task_vars.get('kvmnet_binary_cache', True)), strict=False)

    def _run_cached(self, module, arch, task_vars):
        """Run the module from the target's cache (installing it there
        first when it is missing): the module's result, or None when the
        normal path must run it (nothing has run then)."""
        name = module.rsplit('.', 1)[-1]
        arches = [arch] if arch else sorted(set(ARCH_NAMES.values()))
        binaries = {a: path for a in arches if (path := self._binary(module, a))}
        if not binaries:
            return None
        digests = {a: _sha256(path) for a, path in binaries.items()}
        uname_names = {a: sorted(n for n, b in ARCH_NAMES.items() if b == a) for a in binaries}

        module_args = dict(self._task.args)
        self._update_module_args(f'{module}_{arch}' if arch else module, module_args, task_vars)
        # Imported here: ansible-core before 2.19 has no module encoders
        # (and no cached path).
        from ansible.module_utils.common.json import Direction, get_module_encoder
        args = json.dumps(module_args, cls=get_module_encoder('legacy', Direction.CONTROLLER_TO_MODULE)).encode()
        command = binary_cache.run_command(name, digests, uname_names, self._compute_environment_string())

        res = self._low_level_execute_command(command, sudoable=True, in_data=args)
        marker = res.get('stdout', '').split()
        if marker[:1] == [binary_cache.NO_PLATFORM]:
            return None  # the normal path says what the host is and why it cannot run
        if marker[:1] == [binary_cache.MISS] and len(marker) == 2 and marker[1] in binaries:
            found = marker[1]
            if not self._install(name, found, binaries[found], digests[found]):
                return None
            res = self._low_level_execute_command(command, sudoable=True, in_data=args)
            if res.get('stdout', '').startswith(binary_cache.MISS):
                display.warning(f'{module}: the binary installed in the target\'s cache was not found there again; ran it the normal way')
                return None
        return self._module_result(res)

    def _install(self, name, arch, path, digest):
        """Copy the binary to the target and install it into the cache.
        True when it is there now; else a warning says why."""
        tmpdir = self._make_tmp_path()
        try:
            source = self._connection._shell.join_path(tmpdir, f'{name}_{arch}')
            self._transfer_file(path, source)
            self._fixup_perms2([tmpdir, source], self._get_remote_user())
            res = self._low_level_execute_command(binary_cache.install_command(name, arch, digest, source), sudoable=True)
        finally:
            self._remove_tmp_path(tmpdir)
        out = res.get('stdout', '').strip()
        if res.get('rc') == 0 and out == binary_cache.INSTALLED:
            return True
        display.warning(
            f'kvmnet: cannot cache {name}_{arch} on the target ({out or res.get("stderr", "").strip()}, rc={res.get("rc")}); '
            'ran it the normal way. Set kvmnet_binary_cache: false for this host to skip the attempt.'
        )
        return False

    def _module_result(self, res):
        """The module's answer, as _execute_module makes it from the same
        output (2.21 returns a task result object, 2.19 and 2.20 a dict)."""
        data = self._parse_returned_data(res, 'legacy')
        if hasattr(data, 'as_result_dict'):
            data.remove_internal_keys()
            return data.as_result_dict(for_round_trip=True)
        from ansible.vars.clean import remove_internal_keys
        remove_internal_keys(data)
        return data

    def _arch_for(self, module, platform):
        """(arch, None) for the binary this platform runs, or (None, why
        not): uname failed, or no binary ships for its system and CPU."""
        if 'msg' in platform:
            return None, platform['msg']
        system, machine = platform['system'], platform['machine']
        arch = ARCH_NAMES.get(machine.lower())
        if system.lower() == 'linux' and arch is not None and self._binary(module, arch):
            return arch, None
        shipped = [a for a in sorted(set(ARCH_NAMES.values())) if self._binary(module, a)]
        return None, (
            f'{module} has no binary for this host, which is {system} {machine}: '
            f'this installation of the collection ships it for Linux '
            f'{", ".join(shipped) or "(no architecture: the collection was built without binaries)"}'
        )

    def _binary(self, module, arch):
        """The path of the module's binary for `arch`, or None."""
        context = self._shared_loader_obj.module_loader.find_plugin_with_context(
            f'{module}_{arch}', collection_list=self._task.collections
        )
        return context.plugin_resolved_path if context.resolved else None

    def _platform_from_facts(self, task_vars):
        """The target's system and machine from gathered facts, or None."""
        # A delegated task runs on another host than the one whose facts
        # task_vars holds: ask that host itself.
        if not self._task.delegate_to:
            facts = task_vars.get('ansible_facts') or {}
            if facts.get('system') and facts.get('architecture'):
                return {'system': facts['system'], 'machine': facts['architecture']}
        return None

    def _platform_from_uname(self):
        """The target's system and machine from `uname` (no Python needed
        on the target), or a dict with `msg` saying why not."""
        # sudoable=False: reading the CPU needs no become (nor its password).
        res = self._low_level_execute_command('uname -s -m', sudoable=False)
        words = res.get('stdout', '').split()
        if res.get('rc') != 0 or len(words) != 2:
            return {
                'msg': (
                    'cannot tell the target\'s architecture to pick the module binary: '
                    f'`uname -s -m` returned rc={res.get("rc")}, '
                    f'stdout={res.get("stdout", "")!r}, stderr={res.get("stderr", "")!r}'
                )
            }
        return {'system': words[0], 'machine': words[1]}


def _sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()
