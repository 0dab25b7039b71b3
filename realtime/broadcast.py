"""Pushing frames to groups of sockets, on every server process.

Services call `publish()` inside their transaction: the frame is encoded once,
now, and sent after the commit, so nobody hears of a write that did not land.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
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


def serve_on(loop: asyncio.AbstractEventLoop) -> None:
    """Record the event loop this process serves sockets on (called as it starts)."""
    global _serving_loop
    _serving_loop = loop


_serving_loop: asyncio.AbstractEventLoop | None = None


def serving_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop this process serves sockets on, if any."""
    loop = _serving_loop
    return loop if loop is not None and loop.is_running() else None


def _send_from_sync(group: str, message: dict[str, Any]) -> None:
    """Hand a layer message to the serving loop, waiting a bounded time for it.

    From a worker thread of a serving process the send runs on that loop; if the
    loop has stopped (the process is shutting down) the wait gives up instead of
    hanging the thread. Elsewhere (a management command) a loop is made for it.
    """
    loop = serving_loop()
    if loop is not None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            future = asyncio.run_coroutine_threadsafe(
                channel_layer().group_send(group, message), loop
            )
            try:
                future.result(timeout=settings.PUBLISH_TIMEOUT_SECONDS)
            except concurrent.futures.TimeoutError:
                future.cancel()
                log.warning("publish to %s timed out", group)
            return
    async_to_sync(channel_layer().group_send)(group, message)


async def publish_now(group: str, frame: Frame, *, exclude: str | None = None) -> None:
    """Send `frame` to every socket in `group` now (async callers, nothing stored)."""
    await channel_layer().group_send(group, _layer_message(group, encode(frame), exclude, None))
