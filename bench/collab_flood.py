"""One user flooding a document with stale ops, and what a single op costs the server.

The `stale-flood` scenario and tests/collab/test_flood.py drive a server with
these. The attack, as first reported: commit a few hundred ops of 1,000
components each to a public document, then keep sending ops made on an old
version, so that the server would replay and transform every op since.
Here each flood socket alternates two kinds of stale op, 1,000 components each:

- `far`: made on version 0, hundreds of big ops behind;
- `edge`: made one version behind, so the server reads back and rebuilds one
  big op before it can tell the op is too far behind.

Sockets send as fast as the server answers and the rate limit lets them
(`rate_limited` is waited out for `retry_after_ms`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from typing import Any

import websockets

Frame = dict[str, Any]
# Kinds of reply an op gets: "ack", or the error code.
REPLIES = ("ack", "stale_version", "rate_limited", "invalid", "forbidden")


def spread(count: int, text: str = "z", step: int = 2) -> list[Frame]:
    """`count` inserts of `text`, one every `step` code points (nothing merges them).

    Valid on any text of at least `count * (step - 1)` code points.
    """
    return [{"type": "insert", "position": step * j, "text": text} for j in range(count)]


class OpSocket:
    """One collab socket that sends ops and `sync`s and waits for their replies."""

    def __init__(self, conn: Any, hello: Frame) -> None:
        self.conn = conn
        self.hello = hello
        self.version = int(hello["version"])
        self._refs = itertools.count(1)

    @classmethod
    async def open(cls, url: str) -> OpSocket:
        conn = await websockets.connect(url, max_size=None, max_queue=None, open_timeout=30)
        hello = json.loads(await conn.recv())
        if hello.get("type") != "hello":
            await conn.close()
            raise RuntimeError(f"expected hello, got {hello}")
        return cls(conn, hello)

    async def request(self, frame: Frame, *, text: str | None = None) -> tuple[Frame, float]:
        """Send `frame` (or the pre-encoded `text` of it) with a fresh ref; its reply and seconds.

        Frames for others on the document (broadcasts, cursors) are skipped.
        """
        ref = next(self._refs)
        message = json.dumps({**frame, "ref": ref}) if text is None else _with_ref(text, ref)
        started = time.perf_counter()
        await self.conn.send(message)
        while True:
            reply = json.loads(await self.conn.recv())
            if reply.get("ref") == ref:
                seconds = time.perf_counter() - started
                if isinstance(reply.get("version"), int):
                    self.version = max(self.version, reply["version"])
                return reply, seconds

    async def op(self, base: int, components: list[Frame]) -> tuple[Frame, float]:
        """One op made on `base`, resent after `rate_limited`; the final reply and its seconds."""
        frame = {"action": "op", "version": base, "ops": components}
        while True:
            reply, seconds = await self.request(frame)
            if reply.get("code") != "rate_limited":
                return reply, seconds
            await asyncio.sleep(reply.get("retry_after_ms", 10) / 1000)

    async def commit(self, ops: int, components: list[Frame]) -> int:
        """Commit `ops` ops, each on the version the last one reached; the document's version."""
        for _ in range(ops):
            reply, _seconds = await self.op(self.version, components)
            if reply.get("type") != "ack":
                raise RuntimeError(f"an op meant to commit was refused: {reply}")
        return self.version

    async def close(self) -> None:
        await self.conn.close()


def _with_ref(text: str, ref: int) -> str:
    return text[:-1] + f',"ref":{ref}}}'


def reply_kind(reply: Frame) -> str:
    return "ack" if reply.get("type") == "ack" else str(reply.get("code"))


class Flood:
    """`sockets` sockets of one user on one document, sending stale ops until stopped."""

    def __init__(self, urls: list[str], *, components: int = 1000) -> None:
        self.urls = urls
        self.components = spread(components)
        self.replies: Counter[str] = Counter()
        self.closed: list[str] = []
        self.changed = asyncio.Event()
        self.started = 0.0
        self.stopped = 0.0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._texts: dict[int, str] = {}

    async def start(self) -> None:
        """Open every socket, then flood on all of them (in the background)."""
        sockets = [await OpSocket.open(url) for url in self.urls]
        self.started = time.perf_counter()
        self._tasks = [asyncio.create_task(self._flood(sock)) for sock in sockets]

    async def stop(self) -> dict[str, Any]:
        """Stop flooding; what the flood got, per kind of reply."""
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.stopped = time.perf_counter()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        seconds = (self.stopped or time.perf_counter()) - self.started
        sent = sum(self.replies.values())
        return {
            "sockets": len(self.urls),
            "seconds": round(seconds, 2),
            "ops_answered": sent,
            "per_second": round(sent / seconds, 1) if seconds else None,
            "replies": dict(self.replies),
            "closed": self.closed,
        }

    async def wait_answered(self, count: int, timeout: float, kind: str | None = None) -> None:
        """Until `count` ops have had a reply (of `kind`, if given); TimeoutError at `timeout`."""
        async with asyncio.timeout(timeout):
            while (self.replies[kind] if kind else sum(self.replies.values())) < count:
                if self.closed:
                    raise RuntimeError(f"a flood socket closed: {self.closed}")
                self.changed.clear()
                await self.changed.wait()

    def _text(self, base: int) -> str:
        text = self._texts.get(base)
        if text is None:
            text = json.dumps({"action": "op", "version": base, "ops": self.components})
            self._texts = {base: text}  # one base at a time is worth keeping
        return text

    async def _flood(self, sock: OpSocket) -> None:
        try:
            for far in itertools.cycle((True, False)):
                if self._stop.is_set():
                    return
                base = 0 if far else max(0, sock.version - 1)
                reply, _seconds = await sock.request({}, text=self._text(base))
                kind = reply_kind(reply)
                self.replies[kind] += 1
                self.changed.set()
                if kind == "rate_limited":
                    await _sleep_unless(self._stop, reply.get("retry_after_ms", 10) / 1000)
        except websockets.ConnectionClosed as closed:
            self.closed.append(f"{closed.rcvd.code if closed.rcvd else 1006}")
            self.changed.set()
        finally:
            await sock.close()


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def probe(sock: OpSocket, *, behind: int, components: list[Frame], repeat: int) -> Frame:
    """Ops made `behind` versions back, one at a time: outcome and reply times (ms)."""
    times: list[float] = []
    kinds: Counter[str] = Counter()
    for _ in range(repeat):
        reply, seconds = await sock.op(max(0, sock.version - behind), components)
        kinds[reply_kind(reply)] += 1
        times.append(seconds * 1000)
    return {
        "behind": behind,
        "components": len(components),
        "replies": dict(kinds),
        "median_ms": round(sorted(times)[len(times) // 2], 2),
        "max_ms": round(max(times), 2),
    }
