"""daphne's send path: the bound on unsent bytes, and frames written straight to the socket."""

from __future__ import annotations

from typing import Any

import pytest
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import main
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from realtime import daphne_guard


class FakeTransport:
    def __init__(self, unsent: int) -> None:
        self.dataBuffer = b"x" * unsent
        self.offset = 0
        self._tempDataLen = 0


class FakeProtocol:
    client_addr = ("127.0.0.1", 1)
    STATE_CONNECTING = WebSocketProtocol.STATE_CONNECTING
    state = WebSocketProtocol.STATE_OPEN

    def __init__(self, unsent: int) -> None:
        self.transport = FakeTransport(unsent)
        self.sent: list[Any] = []
        self.dropped = False

    def sendMessage(self, payload: bytes, binary: bool) -> None:
        self.sent.append(payload)

    def dropConnection(self, abort: bool = False) -> None:
        self.dropped = abort


def test_guard_is_installed_with_the_application() -> None:
    import realtime.asgi  # noqa: F401

    assert getattr(WebSocketProtocol, "realtime_guarded", False)


def test_reading_socket_gets_its_frame(settings: Any) -> None:
    settings.MAX_SEND_BUFFER_BYTES = 1000
    daphne_guard.install()
    proto = FakeProtocol(unsent=10)
    WebSocketProtocol.serverSend(proto, "hello")  # type: ignore[arg-type]
    assert proto.sent == [b"hello"] and not proto.dropped


def test_socket_that_stopped_reading_is_dropped(settings: Any) -> None:
    settings.MAX_SEND_BUFFER_BYTES = 1000
    daphne_guard.install()
    proto = FakeProtocol(unsent=5000)
    WebSocketProtocol.serverSend(proto, "hello")  # type: ignore[arg-type]
    assert proto.sent == [] and proto.dropped


def test_unsent_counts_offset_and_pending_writes() -> None:
    transport = FakeTransport(100)
    transport.offset = 40
    transport._tempDataLen = 7
    assert daphne_guard.unsent_bytes(transport) == 67
    assert daphne_guard.unsent_bytes(object()) == 0


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_frame_header_is_read_back_by_an_independent_parser(length: int) -> None:
    payload = b"a" * length
    reader = StreamReader()
    reader.feed_data(daphne_guard.frame_header(0x1, length) + payload)
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame = done.value
    assert frame.opcode == Opcode.TEXT and frame.fin and frame.data == payload


class FakeTcp(FakeTransport):
    """The parts of twisted.internet.tcp.Connection that write_now uses."""

    TLS = False
    connected = True
    disconnecting = False
    _writeDisconnected = False

    def __init__(self, takes: int | Exception, unsent: int = 0) -> None:
        super().__init__(unsent)
        self.takes = takes
        self.to_socket: list[bytes] = []
        self.buffered: list[bytes] = []

    def writeSomeData(self, data: bytes) -> int | Exception:
        if isinstance(self.takes, Exception):
            return self.takes
        taken = data[: self.takes]
        self.to_socket.append(taken)
        return len(taken)

    def write(self, data: bytes) -> None:
        self.buffered.append(data)


def write_now(transport: FakeTcp, data: bytes) -> None:
    daphne_guard.write_now(transport, data, waiting=daphne_guard.unsent_bytes(transport))


def test_a_frame_goes_to_the_socket_when_nothing_waits() -> None:
    transport = FakeTcp(takes=1000)
    write_now(transport, b"frame")
    assert transport.to_socket == [b"frame"] and transport.buffered == []


def test_what_the_kernel_does_not_take_is_buffered_in_order() -> None:
    transport = FakeTcp(takes=3)
    write_now(transport, b"abcdef")
    assert transport.to_socket == [b"abc"] and transport.buffered == [b"def"]


def test_a_frame_waits_behind_bytes_already_buffered() -> None:
    transport = FakeTcp(takes=1000, unsent=5)
    write_now(transport, b"newer")
    assert transport.to_socket == [] and transport.buffered == [b"newer"]


def test_a_lost_connection_takes_no_frame() -> None:
    transport = FakeTcp(takes=main.CONNECTION_LOST)
    write_now(transport, b"frame")
    assert transport.to_socket == [] and transport.buffered == []


class CappedProtocol(FakeProtocol):
    """autobahn's send refuses a message over `maxMessagePayloadSize` (daphne sets 1 MiB)."""

    maxMessagePayloadSize = 10

    def sendMessage(self, payload: bytes, binary: bool) -> None:
        if 0 < self.maxMessagePayloadSize < len(payload):
            raise ValueError("tried to send WebSocket message exceeding payload limit")
        super().sendMessage(payload, binary)


def test_a_frame_over_the_incoming_limit_is_still_sent_whole(settings: Any) -> None:
    settings.MAX_SEND_BUFFER_BYTES = 1000
    daphne_guard.install()
    proto = CappedProtocol(unsent=0)
    WebSocketProtocol.serverSend(proto, "a greeting of some size")  # type: ignore[arg-type]
    assert proto.sent == [b"a greeting of some size"]
    assert proto.maxMessagePayloadSize == 10  # incoming frames keep their limit


def test_a_large_frame_still_waiting_does_not_count_against_the_bound(settings: Any) -> None:
    settings.MAX_SEND_BUFFER_BYTES = 1000
    daphne_guard.install()
    proto = FakeProtocol(unsent=0)
    WebSocketProtocol.serverSend(proto, "g" * 5000)  # type: ignore[arg-type]
    proto.transport = FakeTransport(unsent=5500)  # the greeting, and a little more, wait
    WebSocketProtocol.serverSend(proto, "peer joined")  # type: ignore[arg-type]
    assert len(proto.sent) == 2 and not proto.dropped
    proto.transport = FakeTransport(unsent=6500)  # past the bound beyond it: not reading
    WebSocketProtocol.serverSend(proto, "more")  # type: ignore[arg-type]
    assert len(proto.sent) == 2 and proto.dropped
