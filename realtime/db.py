"""Running ORM code from async code on a pool of threads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import SyncToAsync
from django.db import close_old_connections

P = ParamSpec("P")
R = TypeVar("R")


class _OnPoolThread(SyncToAsync):
    """asgiref's SyncToAsync, closing the thread's stale connections around each call.

    The same as Channels' `database_sync_to_async`, but it calls Django's
    `close_old_connections` itself: Channels' test communicator replaces
    `channels.db.close_old_connections` with a no-op while a test talks to a
    socket (so that the test thread's own connection survives), and on these
    threads that kept one pooled connection checked out per call until the
    pool ran dry.
    """

    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            close_old_connections()


def db_parallel(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`func` (sync ORM code) as a coroutine function that runs on a pool of threads.

    Channels' `database_sync_to_async` runs every call of a process on ONE
    thread, so a process waits for one query at a time however many sockets
    are connecting. The hot calls of the socket path (authentication, the
    registry, greetings, posting) are independent transactions that take
    their own locks, so they may run side by side, each thread with its own
    connection (from the pool on PostgreSQL; SQLite still serializes writes).
    """
    return _OnPoolThread(func, thread_sensitive=False)
