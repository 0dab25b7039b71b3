"""Pushing frames to groups of sockets, on every server process.

Services call `publish()` inside their transaction: the frame is encoded once,
now, and sent after the commit, so nobody hears of a write that did not land.
"""

from __future__ import annotations

import re
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .frames import Frame, encode
from .hub import FRAME_EVENT

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

    def send() -> None:
        async_to_sync(channel_layer().group_send)(group, message)

    transaction.on_commit(send)


async def publish_now(group: str, frame: Frame, *, exclude: str | None = None) -> None:
    """Send `frame` to every socket in `group` now (async callers, nothing stored)."""
    await channel_layer().group_send(group, _layer_message(group, encode(frame), exclude, None))
