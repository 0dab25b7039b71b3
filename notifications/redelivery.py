"""This process's redelivery loop: one task per event loop, for all its sockets.

Each tick it collects, from every local notifications socket, the ids pushed
but not acked within NOTIFY_REDELIVER_SECONDS, and settles all of them in ONE
database call (attempts counted, the exhausted ones dead-lettered), then pushes
the rest again. The same call records the live pushes since the last tick as
attempts, so a broadcast costs each process an UPDATE per 500 of its
recipients, not a query per socket.
Every minute it also dead-letters pending rows past their age for users who
are not connected.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings

from realtime.db import db_parallel

from .delivery import delivery_retry
from .services import notifications_expire

log = logging.getLogger(__name__)

EXPIRE_EVERY_SECONDS = 60.0
# Redeliveries per socket per tick, so that a backlog never floods one outbox.
REDELIVER_PER_TICK = 200


class Recipient(Protocol):
    """What the loop needs of a socket."""

    # notification id -> time.monotonic() of its last push to this socket, until acked
    inflight: dict[int, float]

    def push(self, text: str, position: int | None = None) -> None: ...


@dataclass(eq=False)
class _Loop:
    sockets: weakref.WeakSet[Recipient] = field(default_factory=weakref.WeakSet)
    pushed: set[int] = field(default_factory=set)
    next_expiry: float = 0.0
    task: asyncio.Task[None] | None = None


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Loop] = weakref.WeakKeyDictionary()


def _state() -> _Loop:
    loop = asyncio.get_running_loop()
    state = _loops.get(loop)
    if state is None:
        state = _loops[loop] = _Loop(next_expiry=time.monotonic() + EXPIRE_EVERY_SECONDS)
        state.task = loop.create_task(_run(state))
    return state


def redelivery_watch(sock: Recipient) -> None:
    """Watch a socket's unacked notifications (starts the loop on first use). Async callers."""
    _state().sockets.add(sock)


def redelivery_forget(sock: Recipient) -> None:
    _state().sockets.discard(sock)


def redelivery_pushed(notification_id: int) -> None:
    """Record a live push, counted as an attempt on the next tick (once per process)."""
    _state().pushed.add(notification_id)


def _overdue(state: _Loop, now: float) -> dict[Recipient, list[int]]:
    timeout = settings.NOTIFY_REDELIVER_SECONDS
    due: dict[Recipient, list[int]] = {}
    for sock in list(state.sockets):
        late = sorted(key for key, pushed in sock.inflight.items() if now - pushed >= timeout)
        if late:
            due[sock] = late[:REDELIVER_PER_TICK]
    return due


async def redelivery_tick(state: _Loop | None = None) -> None:
    """Settle overdue acks and live-push attempts of this process's sockets, once."""
    state = state or _state()
    due = _overdue(state, time.monotonic())
    pushed, state.pushed = state.pushed, set()
    if due or pushed:
        every_due = {key for keys in due.values() for key in keys}
        frames = await db_parallel(delivery_retry)(due=every_due, pushed=pushed)
        now = time.monotonic()
        for sock, keys in due.items():
            for key in keys:
                if key not in sock.inflight:
                    continue  # acked while we asked the database
                text = frames.get(key)
                if text is None:
                    del sock.inflight[key]
                else:
                    sock.inflight[key] = now
                    sock.push(text)
    if time.monotonic() >= state.next_expiry:
        state.next_expiry = time.monotonic() + EXPIRE_EVERY_SECONDS
        moved = await db_parallel(notifications_expire)()
        if moved:
            log.info("moved %d notifications to the dead-letter queue", moved)


async def _run(state: _Loop) -> None:
    while True:
        await asyncio.sleep(settings.NOTIFY_TICK_SECONDS)
        try:
            await redelivery_tick(state)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("notification redelivery tick failed")
