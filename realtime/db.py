"""The one bridge from async code to the ORM: a pool of threads per process.

Every ORM call of a consumer, a background loop or an async service goes
through `db_parallel`. Channels' `database_sync_to_async` would run every
call of a process on ONE thread, so one slow call (a large document, a lock
held elsewhere) would hold up every socket of the process behind it. Here
calls run side by side on a pool of threads, each with its own connection:
on PostgreSQL as many threads as Django's connection pool holds
(`DB_POOL_SIZE`, default 20), on SQLite 20, each keeping its connection
open. What still serializes is the
database's own locking: on SQLite every write transaction takes the one
write lock (IMMEDIATE, waiting up to 20 s), on PostgreSQL only writers of the
same rows wait for each other. Callers that would only queue on one lock,
or that one user could multiply (a flood of ops on one document from many
sockets), take a `db_turn` first: they wait on the event loop, holding no
thread, so the pool stays free for everyone else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from channels.db import DatabaseSyncToAsync
from django.conf import settings

P = ParamSpec("P")
R = TypeVar("R")


def _threads() -> int:
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    if isinstance(pool, dict) and pool.get("max_size"):
        # One thread per pooled connection: no thread ever waits for a connection.
        return int(pool["max_size"])
    return DEFAULT_THREADS


# Threads when the database has no connection pool (SQLite).
DEFAULT_THREADS = 20
_executor: ThreadPoolExecutor | None = None


def db_executor() -> ThreadPoolExecutor:
    """The process's pool of ORM threads (made on first use)."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="db")
    return _executor


def db_parallel(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """`func` (sync ORM code) as a coroutine function that runs on the process's ORM pool.

    Each call closes stale connections of its thread before and after, as
    Channels' bridge does, so callers need not.
    """
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=db_executor())


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


_turns: dict[str, _Turn] = {}


@asynccontextmanager
async def _one_turn(key: str) -> AsyncIterator[None]:
    turn = _turns.setdefault(key, _Turn())
    turn.users += 1
    try:
        async with turn.lock:
            yield
    finally:
        turn.users -= 1
        if not turn.users:
            del _turns[key]


@asynccontextmanager
async def db_turn(*keys: str) -> AsyncIterator[None]:
    """Within this process, one holder per key at a time; keys are taken in the order given.

    Async only. Waiting costs no thread. Callers must name keys in one
    order everywhere (the wider first: a user, then a document).
    """
    async with AsyncExitStack() as stack:
        for key in keys:
            await stack.enter_async_context(_one_turn(key))
        yield
