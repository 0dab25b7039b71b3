"""The seed's comparison, measured: HTTP polling every second against one WebSocket each.

Both phases watch a room that gets one update every `--update-every` seconds
(posted through `POST /api/rooms/<slug>/messages/`). Phase 1: every client
GETs `/api/rooms/<slug>/messages/?after=<last seq>` each `--poll-interval`
seconds on a keep-alive connection. Phase 2: every client holds a socket on
`/ws/chat/<slug>/`. Bytes are application-layer bytes both ways, HTTP headers,
WebSocket handshakes and frame headers included (TCP/IP headers not).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from typing import Any

from .. import stats
from ..chat import settle_seconds
from ..report import ms
from ..run import Run
from ..wire import HttpClient, marker

POLL_ROOM, WS_ROOM = "updates-poll", "updates-ws"


async def _publish(
    run: Run, slug: str, *, phase: int, start_ns: int, args: argparse.Namespace
) -> int:
    """Post one update every `--update-every` s, in the middle of each period; returns how many."""
    publisher_key = args.clients
    client = HttpClient(run.server.http(0), run.server.token(run.user(publisher_key)))
    count = max(1, int(args.duration / args.update_every))
    posted = 0
    for n in range(count):
        due = start_ns + int((n + 0.5) * args.update_every * 1e9)
        await asyncio.sleep(max(0, (due - time.monotonic_ns()) / 1e9))
        text = marker(run=run.id, phase=phase, sender=publisher_key, n=n, payload=args.payload)
        status, _body = await client.request(
            "POST", f"/api/rooms/{slug}/messages/", {"message": text}
        )
        posted += status == 201
    await client.close()
    return posted


async def _polling_phase(run: Run, args: argparse.Namespace) -> dict[str, Any]:
    clients = [
        {
            "key": key,
            "base": run.server.http(key),
            "token": run.server.token(run.user(key)),
            "slug": POLL_ROOM,
        }
        for key in range(args.clients)
    ]
    start_ns = time.monotonic_ns() + 500_000_000
    server = run.server_usage()
    calls = [
        {
            "phase": 1,
            "clients": part,
            "start_ns": start_ns,
            "duration": args.duration,
            "interval": args.poll_interval,
        }
        for part in run.workers.split(clients)
    ]
    parts, posted = await asyncio.gather(
        run.workers.each("poll", calls),
        _publish(run, POLL_ROOM, phase=1, start_ns=start_ns, args=args),
    )
    statuses: Counter[str] = Counter()
    for part in parts:
        statuses.update(part["statuses"])
    requests = sum(part.get("requests", 0) for part in parts)
    sent = sum(part.get("bytes_out", 0) for part in parts)
    received = sum(part.get("bytes_in", 0) for part in parts)
    return {
        "updates_posted": posted,
        "expected": posted * args.clients,
        "delivered": sum(part["unique"] for part in parts),
        "duplicated": sum(part["dups"] for part in parts),
        "requests": requests,
        "statuses": dict(statuses),
        "bytes_up": sent,
        "bytes_down": received,
        "bytes": sent + received,
        "latency_ms": stats.latency(stats.merge(part["latency_us"] for part in parts)),
        "server": server.stop(),
    }


async def _websocket_phase(run: Run, args: argparse.Namespace) -> dict[str, Any]:
    specs = [
        {"key": key, "url": run.url(key, f"/ws/chat/{WS_ROOM}/"), "room": WS_ROOM, "kind": "chat"}
        for key in range(args.clients)
    ]
    connect = await run.open(specs)
    await run.settle(settle_seconds(args, args.clients))
    setup = await run.traffic()
    start_ns = time.monotonic_ns() + 500_000_000
    server = run.server_usage()
    posted = await _publish(run, WS_ROOM, phase=2, start_ns=start_ns, args=args)
    rest = start_ns + int(args.duration * 1e9) - time.monotonic_ns()
    await asyncio.sleep(max(0, rest / 1e9))
    parts = await run.workers.all("collect", phase=2, expected={WS_ROOM: posted}, timeout=10)
    usage = server.stop()
    end = await run.traffic()
    window = {key: end[key] - setup[key] for key in ("frames", "bytes_in", "bytes_out")}
    return {
        "connect": connect,
        "updates_posted": posted,
        "expected": sum(part["expected"] for part in parts),
        "delivered": sum(part["unique"] for part in parts),
        "lost": sum(part["lost"] for part in parts),
        "duplicated": sum(part["dups"] for part in parts),
        "requests": connect["connected"],
        "setup_bytes": setup["bytes_in"] + setup["bytes_out"],
        "window_frames": window["frames"],
        "window_bytes": window["bytes_in"] + window["bytes_out"],
        "bytes": end["bytes_in"] + end["bytes_out"],
        "latency_ms": stats.latency(stats.merge(part["latency_us"] for part in parts)),
        "server": usage,
    }


def _less(ws: float, poll: float) -> str:
    if not poll:
        return "-"
    change = 100 * (1 - ws / poll)
    return f"{change:.1f} % fewer" if change >= 0 else f"{-change:.1f} % more"


async def polling_vs_ws(args: argparse.Namespace) -> None:
    """`--clients` clients, one update every `--update-every` s: polling vs WebSocket."""
    users = args.clients + 1
    async with Run(args, "polling-vs-ws", users=users, rooms=[POLL_ROOM, WS_ROOM]) as run:
        poll = await _polling_phase(run, args)
        poll["lost"] = max(0, poll["expected"] - poll["delivered"])
        ws = await _websocket_phase(run, args)
        report = run.report
        per_minute = 60 / args.duration
        report.heading(f"HTTP polling every {args.poll_interval:g} s ({args.duration:g} s)")
        report.row("requests", poll["requests"], f"{poll['requests'] * per_minute:,.0f}/min")
        report.row("bytes", poll["bytes"], f"{poll['bytes'] * per_minute:,.0f}/min, up + down")
        report.row("statuses", str(poll["statuses"]))
        report.row("latency post→seen", ms(poll["latency_ms"]), "p50 / p95 / p99 / max")
        report.row("lost / duplicated", f"{poll['lost']} / {poll['duplicated']}")
        report.row("server CPU", f"{poll['server']['cpu_percent']} %")
        report.heading(f"WebSocket ({args.duration:g} s after connecting)")
        run.connect_rows(ws["connect"])
        report.row("requests", ws["requests"], "one handshake per client, once")
        report.row("bytes at connect", ws["setup_bytes"], "handshakes + greetings, once")
        report.row("bytes in the window", ws["window_bytes"], f"{ws['window_frames']} frames")
        report.row("latency post→arrival", ms(ws["latency_ms"]), "p50 / p95 / p99 / max")
        report.row("lost / duplicated", f"{ws['lost']} / {ws['duplicated']}")
        report.row("server CPU", f"{ws['server']['cpu_percent']} %")
        report.heading("comparison over the same window")
        report.row("requests", _less(ws["requests"], poll["requests"]), "handshakes counted")
        report.row("requests, steady state", _less(0, poll["requests"]), "no handshakes")
        report.row("bytes", _less(ws["bytes"], poll["bytes"]), "WebSocket incl. connect")
        report.row("bytes, steady state", _less(ws["window_bytes"], poll["bytes"]))
        report.result("polling", poll)
        report.result("websocket", ws)
        report.note("the write-up claims 99.6 % fewer requests and under 50 ms")
        report.emit(args.json)


def register(sub: Any, common: Any) -> None:
    p = common(sub, "polling-vs-ws", polling_vs_ws, "HTTP polling against WebSockets")
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--duration", type=float, default=60, help="seconds of each phase")
    p.add_argument("--update-every", type=float, default=60, help="seconds between updates")
    p.add_argument("--poll-interval", type=float, default=1)
    p.add_argument("--payload", type=int, default=100, help="update length (chars)")
    p.add_argument("--settle", type=float, help="seconds after connecting (default: auto)")
