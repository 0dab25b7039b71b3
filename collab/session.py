"""A Python collab client on a live socket: CollabClient plus the I/O around it.

The tests and the benchmark use it against real server processes. Any
connection with `async send(str)`, `async recv()` and `async close()` will
do (the `websockets` library's, for one). It answers `rate_limited` by
resending after the delay, asks for `sync` when a version gap does not fill,
and, given a new connection after a drop, catches up and resends.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .client import CollabClient, Frame

# A version gap that lasts this long is filled with `sync`.
GAP_SECONDS = 0.5


class Connection(Protocol):
    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self) -> None: ...


class CollabSession:
    """Drives one CollabClient over one connection at a time (see the module docstring)."""

    def __init__(
        self,
        client: CollabClient | None = None,
        *,
        on_frame: Callable[[Frame], None] | None = None,
    ) -> None:
        self.client = client or CollabClient()
        self.on_frame = on_frame
        self.conn: Connection | None = None
        self.hello: Frame | None = None
        self.error: BaseException | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._retry: asyncio.TimerHandle | None = None

    async def attach(self, conn: Connection) -> Frame:
        """Use `conn` from now on: read its greeting, catch up, resend; returns the hello."""
        self.conn = conn
        hello = json.loads(await conn.recv())
        if hello.get("type") != "hello":
            raise RuntimeError(f"expected hello, got {hello}")
        self.hello = hello
        self.client.receive(hello)
        await self.flush()
        self._reader = asyncio.get_running_loop().create_task(self._read(conn))
        return hello

    async def flush(self) -> None:
        """Send what the client has queued (no-op while disconnected)."""
        frames = self.client.take_frames()
        if self.conn is None or not self.client.online:
            return
        for frame in frames:
            await self.conn.send(json.dumps(frame))

    async def splice(self, position: int, deleted: int, inserted: str) -> None:
        """A local edit, sent or buffered by the client."""
        self.client.splice(position, deleted, inserted)
        await self.flush()

    async def _read(self, conn: Connection) -> None:
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(conn.recv(), GAP_SECONDS)
                except TimeoutError:
                    if self.client.arrived:
                        self.client.outbox.append(self.client.sync_frame())
                        await self.flush()
                    continue
                frame = json.loads(raw)
                if self.on_frame is not None:
                    self.on_frame(frame)
                self.client.receive(frame)
                if self.client.retry_after_ms is not None and self._retry is None:
                    self._schedule_resend(self.client.retry_after_ms)
                await self.flush()
                self._changed.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the connection closed (or broke): keep state for a resend
            if not _is_closed(exc):
                self.error = exc
        finally:
            self.client.on_close()
            self._changed.set()

    def _schedule_resend(self, delay_ms: int) -> None:
        def resend() -> None:
            self._retry = None
            self.client.resend()
            asyncio.get_running_loop().create_task(self.flush())

        self._retry = asyncio.get_running_loop().call_later(delay_ms / 1000, resend)

    async def wait(self, predicate: Callable[[CollabClient], bool], timeout: float = 30) -> None:
        """Until `predicate(client)` holds; raises on a broken client or after `timeout`."""
        async with asyncio.timeout(timeout):
            while True:
                if self.error is not None:
                    raise self.error
                if self.client.broken:
                    raise RuntimeError(self.client.broken)
                if predicate(self.client):
                    return
                self._changed.clear()
                await self._changed.wait()

    async def wait_idle(self, timeout: float = 30) -> None:
        """Until everything typed is acknowledged and no server op is outstanding."""
        await self.wait(lambda client: client.idle, timeout)

    async def wait_version(self, version: int, timeout: float = 30) -> None:
        """Until the client has applied every server op up to `version`."""
        await self.wait(lambda client: client.version >= version and not client.arrived, timeout)

    async def drop(self) -> None:
        """Lose the connection (as a closed laptop lid would); state is kept for a resend."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.close()
        self.conn = None
        self.client.on_close()

    close = drop


def _is_closed(exc: BaseException) -> bool:
    return type(exc).__name__.startswith("ConnectionClosed")


# One transaction of an editing trace: (position, deleted, inserted) patches.
Txn = list[tuple[int, int, str]]


def trace_txns(data: dict[str, Any]) -> list[Txn]:
    """The patches of an editing trace (josephg/editing-traces format), one list per txn."""
    return [[(int(p[0]), int(p[1]), str(p[2])) for p in txn["patches"]] for txn in data["txns"]]


def trace_load(path: Path) -> tuple[list[Txn], str]:
    """The txns of a gzipped trace file and the text they end with."""
    data = json.loads(gzip.decompress(path.read_bytes()))
    return trace_txns(data), str(data["endContent"])


async def session_replay(
    session: CollabSession, txns: list[Txn], *, batch: int, clamp: bool = False
) -> None:
    """Type `txns` into the session, composing up to `batch` txns while an op is in flight.

    With `clamp`, positions are fitted to this client's text (for a trace
    split between concurrent clients, whose texts differ from the original).
    """
    typed = 0
    for txn in txns:
        for position, deleted, inserted in txn:
            if clamp:
                length = len(session.client.text)
                position = min(position, length)
                deleted = min(deleted, length - position)
            if deleted or inserted:
                session.client.splice(position, deleted, inserted)
        await session.flush()
        typed += 1
        inflight = session.client.inflight
        if typed >= batch and inflight is not None:
            # Until that op is acknowledged (the buffer then goes out as the next one).
            await session.wait(_acked(inflight.op_id))
            typed = 0


def _acked(op_id: str) -> Callable[[CollabClient], bool]:
    """A predicate: the op `op_id` is no longer the one in flight."""

    def acked(client: CollabClient) -> bool:
        return client.inflight is None or client.inflight.op_id != op_id

    return acked
