"""Running ORM code from async code on a pool of threads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from channels.db import database_sync_to_async

P = ParamSpec("P")
R = TypeVar("R")


def db_parallel(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`func` (sync ORM code) as a coroutine function that runs on a pool of threads.

    Channels' `database_sync_to_async` runs every call of a process on ONE
    thread, so a process waits for one query at a time however many sockets
    are connecting. The hot calls of the socket path (authentication, the
    registry, greetings, posting) are independent transactions that take
    their own locks, so they may run side by side, each thread with its own
    connection (from the pool on PostgreSQL; SQLite still serializes writes).
    """
    return database_sync_to_async(func, thread_sensitive=False)
