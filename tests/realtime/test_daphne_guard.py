"""The daphne send guard: a socket whose unsent bytes pass the bound is dropped."""

from __future__ import annotations

from typing import Any

from daphne.ws_protocol import WebSocketProtocol

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
