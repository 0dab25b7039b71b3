"""A dashboard as a client tracks it: the snapshot, then each update applied in seq order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol


class FrameSource(Protocol):
    async def receive_type(self, kind: str, timeout: float = ...) -> dict[str, Any]: ...


Metrics = dict[str, Any]


class Board:
    """Applies `snapshot` and `update` frames and checks that seqs rise by exactly one."""

    def __init__(self, client: FrameSource) -> None:
        self.client = client
        self.metrics: Metrics = {}
        self.seq: int | None = None
        self.updates: list[dict[str, Any]] = []

    async def start(self, timeout: float = 10) -> dict[str, Any]:
        """Wait for the snapshot (the greeting) and take it as the current state."""
        snapshot = await self.client.receive_type("snapshot", timeout)
        self.metrics = dict(snapshot["metrics"])
        self.seq = snapshot["seq"]
        return snapshot

    async def next_update(self, timeout: float = 10) -> dict[str, Any]:
        update = await self.client.receive_type("update", timeout)
        assert self.seq is not None, "an update before the snapshot"
        assert update["seq"] == self.seq + 1, f"seq went {self.seq} -> {update['seq']}"
        assert update["metrics"] or update.get("sales"), "an update that changes nothing"
        self.seq = update["seq"]
        self.metrics.update(update["metrics"])
        self.updates.append(update)
        return update

    async def until(self, predicate: Callable[[Metrics], bool], timeout: float = 15) -> Metrics:
        """Apply updates until `predicate(metrics)` holds; the metrics then."""
        async with asyncio.timeout(timeout):
            while not predicate(self.metrics):
                await self.next_update(timeout)
        return dict(self.metrics)
