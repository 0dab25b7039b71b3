"""Bounded send buffers under daphne: a socket that stops reading is dropped.

daphne hands each outgoing frame to Twisted at once, and Twisted buffers what
the peer does not read without limit, so one client that stops reading would
grow the server's memory without bound. This guard, installed when the ASGI
application is loaded, checks the connection's unsent bytes before each send
and aborts the connection once they pass MAX_SEND_BUFFER_BYTES. The client
sees the link drop (1006), reconnects and resumes from storage. Under uvicorn
the application's own outbox bound does the same job (close code 4013).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

log = logging.getLogger(__name__)

# Read once (this is on every send), again whenever the setting changes.
_limit = {"bytes": 0}


def _read_limit(**kwargs: Any) -> None:
    _limit["bytes"] = settings.MAX_SEND_BUFFER_BYTES


setting_changed.connect(_read_limit)


def unsent_bytes(transport: Any) -> int:
    """Bytes a Twisted transport holds that the peer has not taken yet (0 if unknown)."""
    buffered = getattr(transport, "dataBuffer", b"")
    offset = getattr(transport, "offset", 0)
    pending = getattr(transport, "_tempDataLen", 0)
    try:
        return max(0, len(buffered) - int(offset)) + int(pending)
    except TypeError:
        return 0


def install() -> bool:
    """Wrap daphne's WebSocket send with the bound; False when daphne is not there."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:
        return False
    if getattr(WebSocketProtocol, "realtime_guarded", False):
        return True
    send = WebSocketProtocol.serverSend
    _read_limit()

    def guarded_send(self: Any, content: Any, binary: bool = False) -> None:
        if unsent_bytes(self.transport) > _limit["bytes"]:
            log.warning("dropping %s: it stopped reading", getattr(self, "client_addr", "?"))
            self.dropConnection(abort=True)
            return
        send(self, content, binary)

    WebSocketProtocol.serverSend = guarded_send
    WebSocketProtocol.realtime_guarded = True
    return True
