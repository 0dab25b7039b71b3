"""Capacity scenarios: memory per idle socket, and how fast sockets connect."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ..chat import room_slug, rss_per_socket, settle_seconds
from ..report import ms
from ..run import Run

PATHS = {"notifications": "/ws/notifications/", "dashboards": "/ws/dashboards/business/"}


def _rooms(args: argparse.Namespace) -> list[str]:
    if args.endpoint != "chat":
        return []
    return [room_slug(index) for index in range(-(-args.sockets // args.room_size))]


def endpoint_specs(run: Run, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One socket per user on `--endpoint` (chat: rooms of `--room-size`)."""
    specs = []
    for key in range(args.sockets):
        if args.endpoint == "chat":
            room = room_slug(key // args.room_size)
            path = f"/ws/chat/{room}/"
        else:
            room, path = args.endpoint, PATHS[args.endpoint]
        specs.append({"key": key, "url": run.url(key, path), "room": room, "kind": args.endpoint})
    return specs


async def idle(args: argparse.Namespace) -> None:
    """`--sockets` authenticated sockets that only sit there: server KiB per socket (goal 5)."""
    async with Run(args, "idle", users=args.sockets, rooms=_rooms(args)) as run:
        specs = endpoint_specs(run, args)
        # The first sockets also pay for lazy imports, pools and caches: not per socket.
        warm = max(1, len(specs) // 100)
        await run.open(specs[:warm])
        await run.settle(1)
        before = run.server_rss()
        connect = await run.open(specs[warm:])
        await run.settle(settle_seconds(args, args.sockets))
        server = run.server_usage()
        await asyncio.sleep(args.hold)
        usage = server.stop()
        traffic = await run.traffic()
        report = run.report
        run.connect_rows(connect)
        rss_before = f"{before / 2**20:.1f} MiB"
        report.row("server RSS before", rss_before, f"{warm} warm-up socket(s) open")
        per = rss_per_socket(report, before, run.server_rss(), connect["connected"])
        report.row("still open", traffic["open"], f"after {args.hold:g} s idle")
        report.row("frames while idle", traffic["frames"], "all frames, greetings included")
        run.usage_rows(usage)
        report.result("connect", connect)
        report.result("rss_mib_before", round(before / 2**20, 1))
        report.result("rss_kib_per_socket", per)
        report.result("idle", {**usage, **traffic})
        if args.sockets >= 10_000 and args.processes == 1 and per is not None:
            report.goal(5, "10,000 idle sockets, ≤ 30 KiB each", f"{per} KiB", per <= 30)
        report.emit(args.json)


async def connect_rate(args: argparse.Namespace) -> None:
    """Open `--sockets` authenticated sockets as fast as `--connect-concurrency` allows (goal 6)."""
    async with Run(args, "connect-rate", users=args.sockets, rooms=_rooms(args)) as run:
        server = run.server_usage()
        connect = await run.open(endpoint_specs(run, args))
        usage = server.stop()
        report = run.report
        run.connect_rows(connect)
        report.row("connect latency", ms(connect["latency_ms"]), "p50 / p95 / p99 / max")
        run.usage_rows(usage)
        report.result("connect", connect)
        report.result("server", usage)
        if args.sockets >= 1000:
            rate = connect["per_second"] or 0
            met = rate >= 1000 and not connect["failed"]
            report.goal(6, "≥ 1,000 authenticated connects/s", f"{rate:,.0f}/s", met)
        report.emit(args.json)


def _endpoint(parser: argparse.ArgumentParser, sockets: int) -> None:
    parser.add_argument("--sockets", type=int, default=sockets)
    parser.add_argument(
        "--endpoint", choices=["chat", "notifications", "dashboards"], default="chat"
    )
    parser.add_argument("--room-size", type=int, default=10, help="chat: users per room")
    parser.add_argument("--settle", type=float, help="seconds after connecting (default: auto)")


def register(sub: Any, common: Any) -> None:
    p = common(sub, "idle", idle, "idle sockets: KiB per socket (goal 5)")
    _endpoint(p, 10_000)
    p.add_argument("--hold", type=float, default=10, help="seconds to stay idle while measured")
    p = common(sub, "connect-rate", connect_rate, "authenticated connects per second (goal 6)")
    _endpoint(p, 2000)
