"""A raw WebSocket client for tests against real server processes (the `websockets` library)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection


class WsClient:
    """Frames by type with a timeout; what it passes over stays available."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.pending: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> WsClient:
        return cls(await websockets.connect(url, open_timeout=10, **kwargs))

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.conn.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        if self.pending:
            return self.pending.pop(0)
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.conn.recv(), timeout))
        return frame

    async def receive_type(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        for index, frame in enumerate(self.pending):
            if frame.get("type") == kind:
                return self.pending.pop(index)
        async with asyncio.timeout(timeout):
            while True:
                frame = json.loads(await self.conn.recv())
                if frame.get("type") == kind:
                    return frame  # type: ignore[no-any-return]
                self.pending.append(frame)

    async def receive_until(self, kind: str, predicate: Any, timeout: float = 10) -> dict[str, Any]:
        """The first frame of type `kind` for which `predicate(frame)` holds."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.receive_type(kind, timeout)
                if predicate(frame):
                    return frame

    async def close_code(self, timeout: float = 10) -> int:
        """Wait for the server to close; the close code."""
        async with asyncio.timeout(timeout):
            try:
                while True:
                    self.pending.append(json.loads(await self.conn.recv()))
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else 1006

    async def close(self) -> None:
        await self.conn.close()
