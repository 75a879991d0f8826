# -*- coding: utf-8 -*-
# Copyright: kvmnet developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a kvmnet module: the binary built for the target's architecture.

Each module ships as plugins/modules/<name>_<arch> (a Rust binary: static
musl, or glibc >= 2.17 plus libvirt) beside a documentation-only
plugins/modules/<name>.py. Users write kvmnet.network.<name>; the action
plugin of that name (routed in meta/runtime.yml) subclasses this one, finds
the target's system and CPU from its facts or one `uname`, and runs the
matching binary through Ansible's normal module path, so check mode, diff,
no_log, become and async behave as for any module.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

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

        platform = self._target_platform(task_vars)
        if 'msg' in platform:
            result.update(failed=True, msg=platform['msg'])
            return result
        system, machine = platform['system'], platform['machine']
        arch = ARCH_NAMES.get(machine.lower())
        if system.lower() != 'linux' or arch is None or not self._ships(module, arch):
            shipped = [a for a in sorted(set(ARCH_NAMES.values())) if self._ships(module, a)]
            result.update(
                failed=True,
                msg=(
                    f'{module} has no binary for this host, which is {system} {machine}: '
                    f'this installation of the collection ships it for Linux '
                    f'{", ".join(shipped) or "(no architecture: the collection was built without binaries)"}'
                ),
            )
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

    def _ships(self, module, arch):
        context = self._shared_loader_obj.module_loader.find_plugin_with_context(
            f'{module}_{arch}', collection_list=self._task.collections
        )
        return context.resolved

    def _target_platform(self, task_vars):
        """The target's system and machine: from gathered facts when there
        are some, else from `uname` (no Python needed on the target)."""
        # A delegated task runs on another host than the one whose facts
        # task_vars holds: ask that host itself.
        if not self._task.delegate_to:
            facts = task_vars.get('ansible_facts') or {}
            if facts.get('system') and facts.get('architecture'):
                return {'system': facts['system'], 'machine': facts['architecture']}
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
