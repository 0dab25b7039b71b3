"""Presence frames, coalesced.

When many users open sockets on one target at once (a room filling up), one
frame per arrival would cost every socket in the room one frame per arrival:
quadratic. Changes are therefore gathered per group for
PRESENCE_BATCH_SECONDS and sent as one `joined` frame and one `left` frame
with lists of users, which is what the protocol's lists are for. A user who
joins and leaves within one batch cancels out.

The window grows with the room: one batch reaches every socket of the room, so
a room of N local sockets is batched over N / 100 windows (at most 5 s). That
bounds presence at about 1,000 deliveries per second per room and process,
however fast people arrive.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Literal

from django.conf import settings

from .broadcast import publish, publish_now, serving_loop
from .frames import Frame
from .hub import get_hub

log = logging.getLogger(__name__)

Change = Literal["joined", "left"]


SOCKETS_PER_WINDOW = 100
LONGEST_WINDOW_SECONDS = 5.0


def batch_window(group: str) -> float:
    """Seconds to gather the changes of `group`: longer for rooms with more local sockets."""
    members = len(get_hub().members.get(group, ()))
    windows = max(1.0, members / SOCKETS_PER_WINDOW)
    return float(min(LONGEST_WINDOW_SECONDS, settings.PRESENCE_BATCH_SECONDS * windows))


class PresenceBatcher:
    """Pending presence changes of this process, per group. Runs on the serving loop."""

    def __init__(self) -> None:
        self.pending: dict[str, dict[int, tuple[Change, Frame]]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def add(self, group: str, change: Change, user: Frame) -> None:
        batch = self.pending.get(group)
        if batch is None:
            batch = self.pending[group] = {}
            loop = asyncio.get_running_loop()
            loop.call_later(batch_window(group), self.flush, group)
        previous = batch.get(user["id"])
        if previous is not None and previous[0] != change:
            del batch[user["id"]]
        else:
            batch[user["id"]] = (change, user)

    def flush(self, group: str) -> None:
        batch = self.pending.pop(group, {})
        task = asyncio.get_running_loop().create_task(self._send(group, list(batch.values())))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send(self, group: str, changes: list[tuple[Change, Frame]]) -> None:
        for kind in ("joined", "left"):
            users = [user for change, user in changes if change == kind]
            if users:
                try:
                    await publish_now(group, {"type": "presence", kind: users})
                except Exception:
                    log.exception("presence for %s was not sent", group)


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PresenceBatcher] = (
    weakref.WeakKeyDictionary()
)


def _batcher() -> PresenceBatcher:
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = PresenceBatcher()
    return batcher


def presence_announce(group: str, change: Change, user: Frame) -> None:
    """Queue a presence change for `group`. Any thread; call it after the commit."""
    loop = serving_loop()
    if loop is not None:
        loop.call_soon_threadsafe(lambda: _batcher().add(group, change, user))
        return
    # No loop serves sockets here (a management command, or the process is stopping).
    publish(group, {"type": "presence", change: [user]})
