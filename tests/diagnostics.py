"""Where a hung test waits: the stack of every task on its event loop.

pytest-timeout prints the threads' stacks when a test runs too long, but an
async test waits in the event loop's `select()`, so those stacks say nothing
about what it waits for. With this plugin a test that timed out prints the
stack of each task still on its loop (on the real stderr), and a test whose
tasks have not finished 10 s after they were cancelled at its end fails its
teardown with their stacks (a task that ignores cancellation would otherwise
hang the run).
"""

from __future__ import annotations

import asyncio
import asyncio.runners
import io
import sys
from collections.abc import Generator
from typing import Any

import pytest

# Seconds that cancelled tasks get to finish before their stacks are printed.
CANCEL_GRACE = 10.0

_state = {"timed_out": False}
_cancel_all_tasks = asyncio.runners._cancel_all_tasks  # type: ignore[attr-defined]


def _stacks(tasks: set[asyncio.Task[Any]]) -> str:
    out = io.StringIO()
    for task in tasks:
        out.write(f"--- {task!r}\n")
        task.print_stack(file=out)
    return out.getvalue()


def _cancel_all_tasks_telling(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    if tasks and _state["timed_out"]:
        # Past pytest's capture: the report of a timed-out test is already made.
        sys.__stderr__.write(f"\n=== tasks of the timed-out test ===\n{_stacks(tasks)}")
    _state["timed_out"] = False
    for task in tasks:
        task.cancel()
    if tasks:
        done = asyncio.wait(tasks, timeout=CANCEL_GRACE)
        _finished, pending = loop.run_until_complete(done)
        if pending:
            # Fail the test's teardown rather than hang the run.
            raise RuntimeError(f"tasks still running after cancel:\n{_stacks(pending)}")
    _cancel_all_tasks(loop)


asyncio.runners._cancel_all_tasks = _cancel_all_tasks_telling  # type: ignore[attr-defined]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when == "call" and report.failed and "Timeout (>" in str(report.longrepr):
        _state["timed_out"] = True
    return report
