# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callback of the benchmark suite (scripts/bench/): the controller's clock
at each task start and each host's result, written as JSON to the file
named by BENCH_TIMES when the playbook ends.

scripts/bench/per-task.sh takes a task's cost from these: the time between
the result of a marker task and the result of the 30th task after it,
divided by 30, is the whole cost of a task as the playbook sees it
(templating, connection, transfer, the module, the result), without the
playbook's start-up.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timer'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._events = []

    def _add(self, kind, task, host=None, result=None):
        event = {'t': time.monotonic(), 'kind': kind, 'task': task.get_name(), 'play': self._play}
        if host is not None:
            event['host'] = host
        if result is not None:
            event['changed'] = bool(result.get('changed', False))
            # a loop's task result, after one `item` event per item
            event['loop'] = 'results' in result
            if kind == 'failed':
                event['msg'] = str(result.get('msg', ''))[:500]
        self._events.append(event)

    _play = ''

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._add('start', task)

    def v2_playbook_on_handler_task_start(self, task):
        self._add('start', task)

    def _result(self, kind, res):
        # ansible-core 2.19+ names them task, host and result.
        task = getattr(res, 'task', None) or res._task
        host = getattr(res, 'host', None) or res._host
        data = getattr(res, 'result', None)
        if data is None:
            data = res._result
        self._add(kind, task, host.get_name(), data)

    def v2_runner_on_ok(self, result):
        self._result('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result('failed', result)

    def v2_runner_on_unreachable(self, result):
        self._result('failed', result)

    def v2_runner_on_skipped(self, result):
        self._result('skipped', result)

    def v2_runner_item_on_ok(self, result):
        self._result('item', result)

    def v2_runner_item_on_failed(self, result):
        self._result('failed', result)

    def v2_runner_item_on_skipped(self, result):
        self._result('item-skipped', result)

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('BENCH_TIMES')
        if path:
            with open(path, 'w', encoding='utf-8') as f:
                json.dump(self._events, f)
