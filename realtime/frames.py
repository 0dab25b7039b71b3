"""The one place frames are encoded, and the shapes shared by every app."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser

Frame = dict[str, Any]

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode(frame: Frame | list[Frame]) -> str:
    """Serialize a frame to the text of one WebSocket message (or a list of them, to splice)."""
    return _encoder.encode(frame)


def encode_with(frame: Frame, **encoded: str) -> str:
    """`encode(frame)` with more members whose values are already encoded JSON texts.

    For a part that many frames share (a room's online list in every greeting
    of a batch): it is encoded once, not once per frame.
    """
    members = "".join(f",{_encoder.encode(key)}:{value}" for key, value in encoded.items())
    text = encode(frame)
    if text == "{}":
        return "{" + members[1:] + "}"
    return text[:-1] + members + "}"


def now_ms() -> int:
    """Milliseconds since the Unix epoch, UTC, as every timestamp on the wire."""
    return int(time.time() * 1000)


def to_ms(moment: datetime) -> int:
    """A stored aware datetime as wire milliseconds."""
    return int(moment.timestamp() * 1000)


def user_json(user: AbstractBaseUser) -> Frame:
    """A user object as the protocol shows it: `{"id", "username"}`."""
    return {"id": user.pk, "username": user.get_username()}


def error_frame(code: str, message: str, ref: Any = None, **extra: Any) -> Frame:
    """The error envelope of PROTOCOL.md; `ref` is echoed when the client gave one."""
    frame: Frame = {"type": "error", "code": code, "message": message}
    if ref is not None:
        frame["ref"] = ref
    frame.update(extra)
    return frame
