"""One load-generator process: its sockets, its senders, and what arrived when.

The orchestrator (bench/pool.py) calls these methods in lock step on every
worker; each returns plain data (counts, and latencies as packed arrays of
microseconds) that the orchestrator merges.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from websockets.exceptions import ConnectionClosed

from .wire import CountingConnection, HttpClient, marker, parse_marker, ws_open

POLL_WAIT = 0.05


def first_time(seen: dict[tuple[int, int], bytearray], phase: int, sender: int, n: int) -> bool:
    """Record message `n` of `sender` in `phase` as seen; False if it already was (a duplicate)."""
    bits = seen.get((phase, sender))
    if bits is None:
        bits = seen[(phase, sender)] = bytearray(64)
    index, mask = n >> 3, 1 << (n & 7)
    if index >= len(bits):
        bits.extend(bytes(index - len(bits) + 64))
    if bits[index] & mask:
        return False
    bits[index] |= mask
    return True


@dataclass(eq=False)
class Sock:
    """One client socket and what it saw."""

    key: int
    room: str
    kind: str
    ws: CountingConnection
    record: bool = True
    frames: int = 0
    close_code: int | None = None
    closed_ns: int = 0
    gate: asyncio.Event | None = None
    last_seq: int = 0
    dash_seq: int | None = None
    seen: dict[tuple[int, int], bytearray] = field(default_factory=dict)
    sent_at: dict[str, int] = field(default_factory=dict)
    acked: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    reader: asyncio.Task[None] | None = None


@dataclass(eq=False)
class Tally:
    """Arrivals of one phase in this worker."""

    latency_us: array[int] = field(default_factory=lambda: array("q"))
    ack_us: array[int] = field(default_factory=lambda: array("q"))
    unique: Counter[int] = field(default_factory=Counter)
    dups: int = 0
    gaps: int = 0
    first_ns: int = 0
    last_ns: int = 0
    spans: dict[int, list[int]] = field(default_factory=dict)

    def arrived(self, now: int, sent: int) -> None:
        self.latency_us.append((now - sent) // 1000)
        if not self.first_ns:
            self.first_ns = now
        self.last_ns = now

    def export(self) -> dict[str, Any]:
        return {
            "latency_us": self.latency_us.tobytes(),
            "ack_us": self.ack_us.tobytes(),
            "unique": sum(self.unique.values()),
            "dups": self.dups,
            "gaps": self.gaps,
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
            "spans": self.spans,
        }


class Agent:
    """The sockets of one worker process; every public method is called by the pool."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.socks: dict[int, Sock] = {}
        self.tallies: dict[int, Tally] = {}
        self.dash_phase = 0
        self.poll_seen: dict[int, dict[tuple[int, int], bytearray]] = {}

    def tally(self, phase: int) -> Tally:
        found = self.tallies.get(phase)
        if found is None:
            found = self.tallies[phase] = Tally()
        return found

    # --- connecting ---------------------------------------------------------------

    async def open(self, *, specs: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
        """Open sockets (`key`, `url`, `room`, `kind`, `slow`); a connect ends at the greeting."""
        gate = asyncio.Semaphore(max(1, concurrency))
        times = array("q")
        failures: Counter[str] = Counter()

        async def one(spec: dict[str, Any]) -> None:
            async with gate:
                started = time.monotonic_ns()
                try:
                    ws = await ws_open(spec["url"], slow=spec.get("slow", False))
                    first = await asyncio.wait_for(ws.recv(), 60)
                except ConnectionClosed as exc:
                    failures[f"closed {exc.rcvd.code if exc.rcvd else 1006}"] += 1
                    return
                except Exception as exc:
                    failures[type(exc).__name__] += 1
                    return
                times.append((time.monotonic_ns() - started) // 1000)
                sock = Sock(key=spec["key"], room=spec.get("room", ""), kind=spec["kind"], ws=ws)
                sock.record = not spec.get("slow", False)
                self._greeted(sock, str(first))
                self.socks[sock.key] = sock
                sock.reader = asyncio.get_running_loop().create_task(self._read(sock))

        started = time.monotonic_ns()
        await asyncio.gather(*(one(spec) for spec in specs))
        return {
            "keys": [spec["key"] for spec in specs if spec["key"] in self.socks],
            "connected": len(times),
            "failed": dict(failures),
            "connect_us": times.tobytes(),
            "start_ns": started,
            "end_ns": time.monotonic_ns(),
        }

    def _greeted(self, sock: Sock, text: str) -> None:
        frame = json.loads(text)
        if sock.kind == "chat":
            sock.last_seq = int(frame.get("last_seq") or 0)
        elif sock.kind == "dashboards":
            sock.dash_seq = frame.get("seq")

    # --- reading --------------------------------------------------------------------

    async def _read(self, sock: Sock) -> None:
        ws = sock.ws
        handle = {"chat": self._on_chat, "dashboards": self._on_dashboard}.get(sock.kind)
        if handle is not None:
            # Read as frames are parsed; `recv()` then only sees what a stall queued.
            ws.on_text = partial(self._received, sock, handle)
        try:
            while True:
                if sock.gate is not None:
                    await sock.gate.wait()
                text = str(await ws.recv())
                sock.frames += 1
                if handle is not None:
                    handle(sock, text)
                elif sock.kind == "notifications":
                    await self._on_notification(sock, text)
        except ConnectionClosed as exc:
            sock.close_code = exc.rcvd.code if exc.rcvd else 1006
            sock.closed_ns = time.monotonic_ns()

    @staticmethod
    def _received(sock: Sock, handle: Callable[[Sock, str], None], text: str) -> None:
        sock.frames += 1
        handle(sock, text)

    def _arrival(self, sock: Sock, text: str) -> None:
        found = parse_marker(text)
        if found is None or found[0] != self.run:
            return
        _run, phase, sender, n, sent = found
        tally = self.tally(phase)
        if not first_time(sock.seen, phase, sender, n):
            tally.dups += 1
            return
        tally.unique[sock.key] += 1
        tally.arrived(time.monotonic_ns(), sent)

    def _on_chat(self, sock: Sock, text: str) -> None:
        if text.startswith('{"type":"message"'):
            if not sock.record:
                sock.last_seq = max(sock.last_seq, int(json.loads(text)["seq"]))
                return
            self._arrival(sock, text)
        elif text.startswith('{"type":"ack"'):
            self._acked(sock, json.loads(text).get("ref"))
        elif text.startswith('{"type":"error"'):
            frame = json.loads(text)
            sock.errors[str(frame.get("code"))] += 1
            sock.sent_at.pop(str(frame.get("ref")), None)

    def _acked(self, sock: Sock, ref: Any) -> None:
        sent = sock.sent_at.pop(str(ref), None)
        if sent is None:
            return
        phase = int(str(ref).split(".")[0])
        sock.acked[phase] += 1
        self.tally(phase).ack_us.append((time.monotonic_ns() - sent) // 1000)

    async def _on_notification(self, sock: Sock, text: str) -> None:
        if '"type":"notification"' not in text[:40]:
            return
        self._arrival(sock, text)
        frame = json.loads(text)
        # A client acks what it got, or the server pushes it again (at least once).
        await sock.ws.send(json.dumps({"action": "ack", "ids": [frame["id"]]}))

    def _on_dashboard(self, sock: Sock, text: str) -> None:
        if not text.startswith('{"type":"update"'):
            return
        frame = json.loads(text)
        seq, now = int(frame["seq"]), time.monotonic_ns()
        tally = self.tally(self.dash_phase)
        if sock.dash_seq is not None:
            if seq <= sock.dash_seq:
                tally.dups += 1
                return
            tally.gaps += seq - sock.dash_seq - 1
        sock.dash_seq = seq
        tally.unique[sock.key] += 1
        # `ts` is the server's wall clock in ms; both ends share this host's clock.
        tally.latency_us.append(time.time_ns() // 1000 - int(frame["ts"]) * 1000)
        span = tally.spans.setdefault(seq, [now, now])
        span[0], span[1] = min(span[0], now), max(span[1], now)

    # --- sending -------------------------------------------------------------------

    async def chat_send(
        self,
        *,
        phase: int,
        senders: list[dict[str, int]],
        start_ns: int,
        payload: int,
        ack_timeout: float = 10,
    ) -> dict[int, dict[str, Any]]:
        """Send on schedule (`key`, `offset_ns`, `interval_ns`, `count` per sender), await acks."""
        late = await asyncio.gather(
            *(self._send_loop(phase, spec, start_ns, payload) for spec in senders)
        )
        deadline = time.monotonic() + ack_timeout
        mine = [self.socks[spec["key"]] for spec in senders if spec["key"] in self.socks]
        while time.monotonic() < deadline and any(sock.sent_at for sock in mine):  # noqa: ASYNC110
            await asyncio.sleep(POLL_WAIT)
        out = {}
        for spec, (sent, behind) in zip(senders, late, strict=True):
            sock = self.socks.get(spec["key"])
            out[spec["key"]] = {
                "room": sock.room if sock else "",
                "sent": sent,
                "acked": sock.acked[phase] if sock else 0,
                "late": behind,
                "errors": dict(sock.errors) if sock else {},
            }
        return out

    async def _send_loop(
        self, phase: int, spec: dict[str, int], start_ns: int, payload: int
    ) -> tuple[int, int]:
        """Send `count` messages; returns (sent, how many went out over a period late)."""
        sock = self.socks.get(spec["key"])
        if sock is None:
            return 0, 0
        interval = spec["interval_ns"]
        sent = behind = 0
        for n in range(spec["count"]):
            wait = start_ns + spec["offset_ns"] + n * interval - time.monotonic_ns()
            if wait > 0:
                await asyncio.sleep(wait / 1e9)
            elif -wait > max(interval, 10_000_000):
                behind += 1
            ref = f"{phase}.{n}"
            text = marker(run=self.run, phase=phase, sender=sock.key, n=n, payload=payload)
            client_id = f"{self.run}.{phase}.{sock.key}.{n}"
            frame = {"action": "send", "message": text, "client_id": client_id, "ref": ref}
            sock.sent_at[ref] = time.monotonic_ns()
            try:
                await sock.ws.send(json.dumps(frame))
            except ConnectionClosed:
                sock.sent_at.pop(ref, None)
                break
            sent += 1
        return sent, behind

    # --- collecting ------------------------------------------------------------------

    async def collect(
        self,
        *,
        phase: int,
        expected: dict[str, int],
        timeout: float,
        exclude: list[int] | None = None,
    ) -> dict[str, Any]:
        """Wait until each socket has its room's `expected` arrivals of `phase` (or timeout)."""
        skip = set(exclude or ())
        targets = [
            (sock, expected.get(sock.room, 0))
            for sock in self.socks.values()
            if sock.record and sock.key not in skip and sock.room in expected
        ]
        tally = self.tally(phase)
        deadline = time.monotonic() + timeout
        while True:
            missing = [max(0, want - tally.unique[sock.key]) for sock, want in targets]
            if not any(missing) or time.monotonic() >= deadline:
                break
            await asyncio.sleep(POLL_WAIT)
        closed = Counter(str(sock.close_code) for sock, _ in targets if sock.close_code)
        return {
            **tally.export(),
            "expected": sum(want for _sock, want in targets),
            "lost": sum(missing),
            "lossy_sockets": sum(1 for gone in missing if gone),
            "closed": dict(closed),
        }

    async def dashboard_tally(self, *, phase: int, next_phase: int) -> dict[str, Any]:
        """What the dashboard watchers saw in `phase`; later updates count in `next_phase`."""
        self.dash_phase = next_phase
        closed = Counter(str(s.close_code) for s in self.socks.values() if s.close_code)
        return {**self.tally(phase).export(), "closed": dict(closed)}

    async def traffic(self) -> dict[str, int]:
        """Frames and bytes so far over all sockets of this worker."""
        socks = list(self.socks.values())
        return {
            "sockets": len(socks),
            "open": sum(1 for sock in socks if sock.close_code is None),
            "frames": sum(sock.frames for sock in socks),
            "bytes_in": sum(sock.ws.bytes_in for sock in socks),
            "bytes_out": sum(sock.ws.bytes_out for sock in socks),
        }

    # --- slow consumer ---------------------------------------------------------------

    async def stall(self, *, keys: list[int], stalled: bool) -> None:
        """Stop (or restart) reading on these sockets."""
        for key in keys:
            sock = self.socks[key]
            if stalled:
                sock.gate = asyncio.Event()
                # Frames now wait in the client's queue, then in the kernel.
                sock.ws.on_text = None
            elif sock.gate is not None:
                sock.gate.set()

    async def sock_state(self, *, key: int) -> dict[str, Any]:
        sock = self.socks[key]
        return {
            "close_code": sock.close_code,
            "closed_ns": sock.closed_ns,
            "last_seq": sock.last_seq,
            "frames": sock.frames,
        }

    async def resume_since(self, *, key: int, url: str) -> dict[str, Any]:
        """Reconnect as the client of socket `key` would: `?since=<last seq it saw>`."""
        sock = self.socks[key]
        since = sock.last_seq
        ws = await ws_open(f"{url}&since={since}")
        frames: dict[str, dict[str, Any]] = {}
        try:
            async with asyncio.timeout(30):
                while "history" not in frames:  # presence frames may come in between
                    frame = json.loads(await ws.recv())
                    frames.setdefault(frame.get("type", ""), frame)
        finally:
            await ws.close()
        hello, history = frames["hello"], frames["history"]
        seqs = [int(message["seq"]) for message in history.get("messages", [])]
        expected = list(range(since + 1, since + 1 + len(seqs)))
        has_more = bool(history.get("has_more"))
        # Gap-free: consecutive from `since`, and up to the room's last seq unless cut.
        reaches_end = has_more or since + len(seqs) == int(hello.get("last_seq") or 0)
        return {
            "since": since,
            "room_last_seq": hello.get("last_seq"),
            "recovered": len(seqs),
            "has_more": has_more,
            "gap_free": seqs == expected and reaches_end,
        }

    # --- HTTP polling ------------------------------------------------------------------

    async def poll(
        self,
        *,
        phase: int,
        clients: list[dict[str, Any]],
        start_ns: int,
        duration: float,
        interval: float,
    ) -> dict[str, Any]:
        """Each client GETs `/api/rooms/<slug>/messages/?after=<last>` every `interval` s."""
        statuses: Counter[str] = Counter()
        totals = Counter[str]()

        async def one(spec: dict[str, Any]) -> None:
            client = HttpClient(spec["base"], spec["token"])
            last, offset = int(spec.get("after", 0)), random.uniform(0, interval)
            try:
                for tick in range(int(duration / interval)):
                    wait = start_ns + int((offset + tick * interval) * 1e9) - time.monotonic_ns()
                    if wait > 0:
                        await asyncio.sleep(wait / 1e9)
                    path = f"/api/rooms/{spec['slug']}/messages/?after={last}"
                    try:
                        status, body = await client.request("GET", path)
                    except (OSError, asyncio.IncompleteReadError) as exc:
                        statuses[type(exc).__name__] += 1
                        continue
                    statuses[str(status)] += 1
                    if status == 200:
                        last = self._polled(spec["key"], body, last)
            finally:
                await client.close()
                totals.update(
                    requests=client.requests, bytes_out=client.bytes_out, bytes_in=client.bytes_in
                )

        await asyncio.gather(*(one(spec) for spec in clients))
        return {**self.tally(phase).export(), "statuses": dict(statuses), **totals}

    def _polled(self, key: int, body: dict[str, Any], last: int) -> int:
        for message in body.get("messages", []):
            last = max(last, int(message["seq"]))
            found = parse_marker(message.get("message", ""))
            if found is None or found[0] != self.run:
                continue
            _run, phase, sender, n, sent = found
            tally = self.tally(phase)
            if not first_time(self.poll_seen.setdefault(key, {}), phase, sender, n):
                tally.dups += 1
                continue
            tally.unique[key] += 1
            tally.arrived(time.monotonic_ns(), sent)
        return last

    # --- teardown ----------------------------------------------------------------------

    async def close_all(self) -> int:
        """Close every socket (in parallel, bounded); returns how many were open."""
        socks = list(self.socks.values())
        for sock in socks:
            if sock.gate is not None:
                sock.gate.set()

        async def one(sock: Sock) -> None:
            try:
                await asyncio.wait_for(sock.ws.close(), 5)
            except Exception:
                sock.ws.transport.abort()
            if sock.reader is not None:
                sock.reader.cancel()

        await asyncio.gather(*(one(sock) for sock in socks))
        self.socks.clear()
        return len(socks)
