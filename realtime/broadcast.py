"""Pushing frames to groups of sockets, on every server process.

Services call `publish()` inside their transaction: the frame is encoded once,
now, and sent after the commit, so nobody hears of a write that did not land.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .frames import Frame, encode
from .hub import FRAME_EVENT

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def group_name(*parts: object) -> str:
    """A channel-layer group name built from parts (e.g. `group_name("chat", room.pk)`)."""
    name = ".".join(_UNSAFE.sub("_", str(part)) for part in parts)
    return name[:99]


def channel_layer() -> Any:
    """The configured channel layer (one is always configured in settings)."""
    layer = get_channel_layer()
    assert layer is not None, "CHANNEL_LAYERS has no default layer"
    return layer


def _layer_message(
    group: str, text: str, exclude: str | None, position: int | None
) -> dict[str, Any]:
    return {
        "type": FRAME_EVENT,
        "group": group,
        "text": text,
        "exclude": exclude,
        "position": position,
    }


def publish(
    group: str, frame: Frame, *, exclude: str | None = None, position: int | None = None
) -> None:
    """Send `frame` to every socket in `group` once the current transaction commits.

    Sync callers only (services). `exclude` is a socket id that must not get it;
    `position` (a room seq, a document version) lets a socket that is still
    sending its greeting skip what the greeting already holds. Outside a
    transaction the frame is sent at once.
    """
    message = _layer_message(group, encode(frame), exclude, position)
    transaction.on_commit(lambda: _send_from_sync(group, message))


def publish_event(group: str, message: dict[str, Any]) -> None:
    """Send a control `message` (its `type` names the hub handler) to `group` after the commit.

    Sync callers only. It takes the same ordered queue as frames, so a
    process hears it after every broadcast published before it.
    """
    message = dict(message, group=group)
    transaction.on_commit(lambda: _send_from_sync(group, message))


def serve_on(loop: asyncio.AbstractEventLoop) -> None:
    """Record the event loop this process serves sockets on (called as it starts)."""
    global _serving_loop
    _serving_loop = loop


_serving_loop: asyncio.AbstractEventLoop | None = None


def serving_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop this process serves sockets on, if any."""
    loop = _serving_loop
    return loop if loop is not None and loop.is_running() else None


class _Outbound:
    """This process's broadcasts, handed to the channel layer one at a time, in order.

    Callers only enqueue: a service's worker thread never waits on the event
    loop (nor hangs if the loop has stopped), and two broadcasts of one room
    cannot overtake each other on two Redis connections.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.task = loop.create_task(self._send_forever())

    async def _send_forever(self) -> None:
        while True:
            group, message = await self.queue.get()
            try:
                await channel_layer().group_send(group, message)
            except Exception:
                log.exception("broadcast to %s was not sent", group)


_outbounds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Outbound] = (
    weakref.WeakKeyDictionary()
)


def _enqueue(group: str, message: dict[str, Any]) -> None:
    """Queue a layer message on the running loop's outbound queue. Loop thread only."""
    loop = asyncio.get_running_loop()
    outbound = _outbounds.get(loop)
    if outbound is None:
        outbound = _outbounds[loop] = _Outbound(loop)
    outbound.queue.put_nowait((group, message))


def _send_from_sync(group: str, message: dict[str, Any]) -> None:
    """Hand a layer message to the serving loop; without one (a management command), send it."""
    loop = serving_loop()
    if loop is not None:
        loop.call_soon_threadsafe(_enqueue, group, message)
    elif _serving_loop is None:
        async_to_sync(channel_layer().group_send)(group, message)
    else:
        _send_while_stopping(group, message)


# How long a stopping process waits for one last layer message to go.
STOPPING_SEND_SECONDS = 2.0


def _send_while_stopping(group: str, message: dict[str, Any]) -> None:
    """Send from a worker thread after the serving loop stopped (the process is exiting).

    Work that was still running on the ORM threads when the loop stopped (the
    sockets' own close, say) commits and publishes after it. Waiting on the
    stopped loop would hang the exit; this thread's own short-lived loop sends
    it, or gives up after STOPPING_SEND_SECONDS (what was stored is still
    there; the sweep ends the process's presence).
    """

    async def send() -> None:
        async with asyncio.timeout(STOPPING_SEND_SECONDS):
            await channel_layer().group_send(group, message)

    try:
        asyncio.run(send())
    except Exception:
        log.warning("layer message to %s not sent while stopping", group, exc_info=True)


async def publish_now(group: str, frame: Frame, *, exclude: str | None = None) -> None:
    """Send `frame` to every socket in `group` now (async callers, nothing stored).

    It is queued behind this process's earlier broadcasts, which keep their order.
    """
    _enqueue(group, _layer_message(group, encode(frame), exclude, None))
