"""The one bridge from async code to the ORM: a pool used everywhere, and turns."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from realtime.db import db_executor, db_parallel, db_turn

ROOT = Path(__file__).resolve().parent.parent.parent
APPS = ("chat", "collab", "dashboards", "notifications", "realtime")


def test_no_product_code_uses_the_single_orm_thread() -> None:
    """Channels' `database_sync_to_async` runs every call of a process on one thread."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if path.name != "db.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\b(database_)?sync_to_async\b", line) and "import" in line
    ]
    assert offenders == []


@pytest.mark.django_db(transaction=True)  # each call checks its thread's connection
async def test_a_call_that_waits_does_not_hold_up_the_next() -> None:
    """Two calls run side by side: the second releases the first (one thread would hang)."""
    released = threading.Event()

    def first() -> bool:
        return released.wait(10)

    def second() -> None:
        released.set()

    waiting = asyncio.ensure_future(db_parallel(first)())
    await asyncio.wait_for(db_parallel(second)(), 5)
    assert await asyncio.wait_for(waiting, 5) is True


def test_the_pool_has_a_thread_per_pooled_connection(settings: Any) -> None:
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    expected = pool["max_size"] if isinstance(pool, dict) else 20
    assert db_executor()._max_workers == expected


async def test_a_turn_holds_one_caller_per_key_and_no_thread() -> None:
    order: list[str] = []
    inside = asyncio.Event()
    leave = asyncio.Event()

    async def holder() -> None:
        async with db_turn("user:1", "doc:1"):
            order.append("first in")
            inside.set()
            await leave.wait()
            order.append("first out")

    async def waiter() -> None:
        async with db_turn("user:1", "doc:2"):
            order.append("second in")

    async def other_user() -> None:
        async with db_turn("user:2", "doc:2"):
            order.append("other in")

    first = asyncio.ensure_future(holder())
    await asyncio.wait_for(inside.wait(), 5)
    second = asyncio.ensure_future(waiter())
    await asyncio.wait_for(other_user(), 5)
    leave.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert order == ["first in", "other in", "first out", "second in"]
