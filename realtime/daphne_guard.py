"""daphne's send path: bounded send buffers, and frames written straight to the socket.

Bounded buffers. daphne hands each outgoing frame to Twisted at once, and
Twisted buffers what the peer does not read without limit, so one client that
stops reading would grow the server's memory without bound. Before each send
the connection's unsent bytes are checked; once they pass
MAX_SEND_BUFFER_BYTES, plus the largest frame still among them (a greeting
may be larger than the bound by itself), the connection is aborted. The
client sees the link drop (1006), reconnects and resumes from storage. Under
uvicorn the application's own outbox bound does the same job (close code 4013).

Whole frames. daphne gives autobahn one size limit for both directions
(`--websocket_max_message_size`, 1 MiB), and autobahn refuses to send a
message over it: the frame was dropped with a log line, and a client waited
for a greeting that never came. The limit is meant for what clients send
(the application's own is MAX_FRAME_BYTES); what the server sends goes out
whole, whatever its size.

Direct frames. A broadcast to a room is one text frame per socket, so the cost
of writing one frame is the server's fan-out ceiling. daphne's own path runs
each frame through autobahn's general framing (fragmentation, compression,
statistics, logging) and Twisted's buffered write, which registers the socket
with epoll and unregisters it again for every frame. For the common case (an
open connection with no compression, no fragmentation and nothing already
queued) the frame header is built here and the bytes go to the socket at once;
only what the kernel does not take is left to Twisted to buffer. Anything
else takes daphne's own path unchanged. docs/benchmarks.md has the figures.

Lazy debug text. autobahn formats a debug line per connection even when debug
logging is off; the text is now made only when the line is written.

Service restart. Told to stop (SIGTERM, as a deploy does), daphne cancelled
its applications and dropped every socket: clients saw 1006 (abnormal
closure). Now each open socket is first sent a close with 1012 (service
restart), which clients take as "reconnect now, elsewhere", and the process
waits up to SHUTDOWN_DRAIN_SECONDS for the close handshakes before it stops.
uvicorn does the same by itself.
"""

from __future__ import annotations

import logging
import sys
from pprint import pformat
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


def frame_header(opcode: int, length: int) -> bytes:
    """The header of one final, unmasked server frame (RFC 6455 section 5.2)."""
    first = 0x80 | opcode
    if length < 126:
        return bytes((first, length))
    if length < 0x10000:
        return bytes((first, 126)) + length.to_bytes(2, "big")
    return bytes((first, 127)) + length.to_bytes(8, "big")


def _plain(protocol: Any) -> bool:
    """True when autobahn would write this message as one plain frame and nothing else."""
    return (
        protocol.state == protocol.STATE_OPEN
        and protocol._perMessageCompress is None
        and not protocol.autoFragmentSize
        and not protocol.maskServerFrames
        and not protocol.send_queue
        and not protocol.trackedTimings
        and not protocol.logFrames
        and not protocol.logOctets
    )


def _send_whole(protocol: Any, send: Any, content: Any, binary: bool) -> None:
    """daphne's own send, without autobahn's cap on the size of a message sent."""
    cap = getattr(protocol, "maxMessagePayloadSize", 0)
    if cap:
        protocol.maxMessagePayloadSize = 0  # synchronous: no frame is read meanwhile
    try:
        send(protocol, content, binary)
    finally:
        if cap:
            protocol.maxMessagePayloadSize = cap


def write_now(transport: Any, data: bytes, *, waiting: int) -> None:
    """Write to a plain Twisted TCP transport, to the socket itself when nothing waits.

    `waiting` is what `unsent_bytes` says of the transport. Twisted's `write`
    always buffers and waits for epoll to say the socket is writable; when its
    buffer is empty the socket almost always takes the frame at once.
    Whatever the kernel does not take goes to `write` as usual.
    """
    if (
        waiting
        or getattr(transport, "TLS", True)
        or not transport.connected
        or transport.disconnecting
        or transport._writeDisconnected
    ):
        transport.write(data)
        return
    sent = transport.writeSomeData(data)
    if not isinstance(sent, int):  # the connection is lost: the reactor will see it
        return
    if sent < len(data):
        transport.write(data[sent:])


def install() -> bool:
    """Put the bound and the direct path on daphne's WebSocket send; False without daphne."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
        from twisted.internet.tcp import Connection
    except ImportError:
        return False
    if getattr(WebSocketProtocol, "realtime_guarded", False):
        return True
    send = WebSocketProtocol.serverSend
    _read_limit()

    def guarded_send(self: Any, content: Any, binary: bool = False) -> None:
        transport = self.transport
        waiting = unsent_bytes(transport)
        largest = getattr(self, "realtime_largest", 0) if waiting else 0
        if waiting > _limit["bytes"] + largest:
            log.warning("dropping %s: it stopped reading", getattr(self, "client_addr", "?"))
            self.dropConnection(abort=True)
            return
        payload = content if binary else content.encode()
        self.realtime_largest = max(largest, len(payload))
        if isinstance(transport, Connection) and _plain(self):
            frame = frame_header(2 if binary else 1, len(payload)) + payload
            write_now(transport, frame, waiting=waiting)
            return
        _send_whole(self, send, content, binary)

    WebSocketProtocol.serverSend = guarded_send
    WebSocketProtocol.realtime_guarded = True
    _format_debug_lazily()
    _close_sockets_on_shutdown()
    return True


# The close code of a server that is restarting (RFC 6455, IANA registry).
SERVICE_RESTART = 1012


def _close_sockets_on_shutdown() -> None:
    """Under daphne, close open sockets with 1012 before its own shutdown step runs.

    daphne's command imports its server before the application, and adds its
    shutdown step (cancel every application) when the server runs; the step
    added here first is run first.
    """
    server_module = sys.modules.get("daphne.server")
    if server_module is None or getattr(server_module.Server, "realtime_drains", False):
        return
    run = server_module.Server.run

    def run_draining(server: Any) -> Any:
        reactor = _reactor()
        reactor.addSystemEventTrigger("before", "shutdown", _drain, server)
        return run(server)

    server_module.Server.run = run_draining
    server_module.Server.realtime_drains = True


def _reactor() -> Any:
    """Twisted's reactor (daphne installed it); typed loosely, as Twisted's stubs are."""
    from twisted.internet import reactor

    return reactor


def _drain(server: Any) -> Any:
    """Send 1012 to every open socket; a Deferred that fires once all have closed,
    or after SHUTDOWN_DRAIN_SECONDS."""
    from daphne.ws_protocol import WebSocketProtocol
    from twisted.internet import defer

    reactor = _reactor()
    sockets = [
        protocol
        for protocol in list(server.connections)
        if isinstance(protocol, WebSocketProtocol) and protocol.state == protocol.STATE_OPEN
    ]
    if not sockets:
        return None
    log.info("closing %d sockets with %d before stopping", len(sockets), SERVICE_RESTART)
    for protocol in sockets:
        protocol.sendCloseFrame(code=SERVICE_RESTART, reasonUtf8=b"service restart")
    drained: Any = defer.Deferred()
    deadline = reactor.seconds() + settings.SHUTDOWN_DRAIN_SECONDS

    def check() -> None:
        closed = all(protocol.state == protocol.STATE_CLOSED for protocol in sockets)
        if closed or reactor.seconds() >= deadline:
            drained.callback(None)
        else:
            reactor.callLater(0.05, check)

    check()
    return drained


class _Pretty:
    """pprint's text of an object, made only if a log line is actually written."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __format__(self, spec: str) -> str:
        return format(pformat(self.obj), spec)

    def __str__(self) -> str:
        return pformat(self.obj)


def _format_debug_lazily() -> None:
    """autobahn pretty-prints its settings for a debug line on every connection,
    whether debug logging is on or not (a tenth of daphne's time on a burst of
    connects): let it hand the log a lazy object instead.
    """
    try:
        from autobahn.websocket import protocol
    except ImportError:
        return
    if getattr(protocol, "pformat", None) is pformat:
        protocol.pformat = _Pretty  # type: ignore[assignment]
