"""What the load generator puts on the wire and how it reads it back cheaply.

Every measured message carries a marker in its text:
`~b1~<run>~<phase>~<sender>~<n>~<sent monotonic ns>~xxxx...` padded to the
payload size. The send time is `time.monotonic_ns()`, one clock for every
process on a Linux host, so the worker that receives a message can subtract
the time another worker sent it at. Receivers find the marker with one
`str.find` instead of decoding the JSON of every frame.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode
from websockets.protocol import Event

MARK = "~b1~"
_MARK_LEN = len(MARK)


def marker(*, run: str, phase: int, sender: int, n: int, payload: int) -> str:
    """A message text that identifies itself and its send time, `payload` characters long."""
    head = f"{MARK}{run}~{phase}~{sender}~{n}~{time.monotonic_ns()}~"
    return head + "x" * max(0, payload - len(head))


def parse_marker(text: str) -> tuple[str, int, int, int, int] | None:
    """(run, phase, sender, n, sent_ns) of the first marker in `text`, or None."""
    start = text.find(MARK)
    if start < 0:
        return None
    parts = text[start + _MARK_LEN :].split("~", 5)
    if len(parts) < 6:
        return None
    try:
        return parts[0], int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4])
    except ValueError:
        return None


class _CountingTransport:
    """A transport that counts what the connection writes (handshake included)."""

    def __init__(self, inner: Any, owner: CountingConnection) -> None:
        self._inner = inner
        self._owner = owner

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._owner.bytes_out += len(data)
        self._inner.write(data)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CountingConnection(ClientConnection):
    """A websockets client connection that counts the bytes it reads and writes.

    The counts are application-layer bytes: the HTTP upgrade, WebSocket frame
    headers and payloads, control frames; not TCP/IP headers.
    """

    bytes_in = 0
    bytes_out = 0
    # When set, each whole text message goes to it as it is parsed, instead of
    # to the queue `recv()` reads: no future and no task switch per message,
    # so one generator process reads several times more frames a second.
    on_text: Callable[[str], None] | None = None

    def process_event(self, event: Event) -> None:
        on_text = self.on_text
        whole_text = isinstance(event, Frame) and event.opcode is Opcode.TEXT and event.fin
        if on_text is not None and whole_text:
            on_text(str(event.data, "utf-8"))  # type: ignore[union-attr]
            return
        super().process_event(event)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(_CountingTransport(transport, self))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        super().data_received(data)


async def ws_open(url: str, *, slow: bool = False, timeout: float = 60) -> CountingConnection:
    """Open a client socket the light way: no compression, no client pings, no proxy.

    A `slow` socket buffers little (4 frames, a small kernel receive buffer), so
    that when it stops reading the server sees it at once.
    """
    kwargs: dict[str, Any] = {}
    if slow:
        parts = urlsplit(url)
        kwargs["sock"] = await _small_buffer_socket(parts.hostname or "127.0.0.1", parts.port or 80)
    conn = await connect(
        url,
        compression=None,
        proxy=None,
        ping_interval=None,
        open_timeout=timeout,
        close_timeout=2,
        max_size=2**23,
        max_queue=(4, 2) if slow else 64,
        create_connection=CountingConnection,
        **kwargs,
    )
    assert isinstance(conn, CountingConnection)
    return conn


async def _small_buffer_socket(host: str, port: int) -> Any:
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    return sock


class HttpClient:
    """A keep-alive HTTP/1.1 client on one connection that counts every byte.

    Only what the benchmark needs: GET/POST with JSON, Content-Length or
    chunked responses.
    """

    def __init__(self, base: str, token: str) -> None:
        parts = urlsplit(base)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.requests = 0
        self.bytes_out = 0
        self.bytes_in = 0

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, decoded JSON body); reconnects once if the server closed the connection."""
        for attempt in (1, 2):
            try:
                return await self._request(method, path, body)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _request(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nAccept: application/json\r\n"
            "User-Agent: bench-poller/1\r\n"
        )
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        data = head.encode() + b"\r\n" + payload
        self.writer.write(data)
        self.requests += 1
        self.bytes_out += len(data)
        status, headers = await self._read_head()
        content = await self._read_body(headers)
        if headers.get("connection", "").lower() == "close":
            await self.close()
        try:
            return status, json.loads(content) if content else None
        except ValueError:
            return status, content.decode("utf-8", "replace")

    async def _read_head(self) -> tuple[int, dict[str, str]]:
        assert self.reader is not None
        raw = await self.reader.readuntil(b"\r\n\r\n")
        self.bytes_in += len(raw)
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        return status, headers

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        assert self.reader is not None
        if "content-length" in headers:
            content = await self.reader.readexactly(int(headers["content-length"]))
            self.bytes_in += len(content)
            return content
        if headers.get("transfer-encoding", "").lower() != "chunked":
            return b""
        chunks: list[bytes] = []
        while True:
            size_line = await self.reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            self.bytes_in += len(size_line) + len(chunk)
            if size == 0:
                return b"".join(chunks)
            chunks.append(chunk[:-2])

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            self.reader = None
