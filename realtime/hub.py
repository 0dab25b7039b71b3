"""Process-local fan-out.

Each server process subscribes ONE layer channel to a group, however many of
its sockets are in that group. A broadcast therefore crosses the channel layer
once per process, is encoded once by the sender, and is handed to each local
socket as ready text: no per-recipient layer message, consumer dispatch or
JSON encode.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

FRAME_EVENT = "hub.frame"


class Subscriber(Protocol):
    """What the hub needs of a socket."""

    socket_id: str

    def push(self, text: str, position: int | None = None) -> None:
        """Queue one encoded frame for the client; must not block."""


class Hub:
    """Groups of local sockets, fed by one channel-layer subscription per group."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.members: dict[str, set[Subscriber]] = {}
        self._subscribed: set[str] = set()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        # Layer messages of other types than frames: event type -> handler.
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {}

    async def _start(self) -> str:
        if self.channel is None:
            self.channel = await self.layer.new_channel(prefix="hub.")
            self._task = asyncio.get_running_loop().create_task(self._receive_forever())
        return self.channel

    async def join(self, group: str, sock: Subscriber) -> None:
        """Add a socket to a group; subscribes this process on the first local member."""
        self.members.setdefault(group, set()).add(sock)
        if group in self._subscribed:
            return
        async with self._lock:
            channel = await self._start()
            if group not in self._subscribed and self.members.get(group):
                await self.layer.group_add(group, channel)
                self._subscribed.add(group)

    async def listen(
        self, group: str, event: str, handler: Callable[[dict[str, Any]], None]
    ) -> None:
        """Call `handler` with every layer message of type `event` sent to `group`.

        One subscription for the whole process, kept for its life (control
        messages, such as access changes, rather than frames for sockets).
        The handler runs on the hub's receiving task and must not block.
        """
        self._handlers[event] = handler
        async with self._lock:
            channel = await self._start()
            if group not in self._subscribed:
                await self.layer.group_add(group, channel)
                self._subscribed.add(group)

    async def leave(self, group: str, sock: Subscriber) -> None:
        """Remove a socket; unsubscribes this process when its last local member leaves."""
        members = self.members.get(group)
        if members is None:
            return
        members.discard(sock)
        if members:
            return
        async with self._lock:
            if not self.members.get(group) and group in self._subscribed:
                self.members.pop(group, None)
                self._subscribed.discard(group)
                assert self.channel is not None
                await self.layer.group_discard(group, self.channel)

    def deliver(self, message: dict[str, Any]) -> int:
        """Hand one layer message to every local member of its group; returns how many."""
        text = message["text"]
        exclude = message.get("exclude")
        position = message.get("position")
        delivered = 0
        for sock in tuple(self.members.get(message["group"], ())):
            if sock.socket_id != exclude:
                sock.push(text, position)
                delivered += 1
        return delivered

    async def _receive_forever(self) -> None:
        assert self.channel is not None
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub receive failed; retrying")
                await asyncio.sleep(1)
                continue
            kind = message.get("type")
            if kind == FRAME_EVENT:
                self.deliver(message)
            elif kind in self._handlers:
                try:
                    self._handlers[kind](message)
                except Exception:
                    log.exception("handling %s failed", kind)

    async def close(self) -> None:
        """Stop receiving (tests and shutdown)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """The hub of the running event loop (one per process in production)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(get_channel_layer())
    return hub
