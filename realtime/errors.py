"""Close codes and the exceptions consumers raise to refuse or to answer with an error."""

from __future__ import annotations

from typing import Any

# Close codes of PROTOCOL.md, plus 4013 (slow consumer) documented in docs/protocol.md.
BAD_HANDSHAKE = 4400
NOT_AUTHENTICATED = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404
TOO_MANY = 4429
FRAME_TOO_LARGE = 4009
SLOW_CONSUMER = 4013
SERVER_ERROR = 4500


class Refuse(Exception):
    """Raised during the handshake: the socket is accepted and closed with `code`."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(reason or str(code))
        self.code = code


class FrameError(Exception):
    """Raised by an action handler: the client gets an error frame, the socket stays open."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


def invalid(message: str) -> FrameError:
    """An `invalid` error naming the offending field in `message`."""
    return FrameError("invalid", message)
