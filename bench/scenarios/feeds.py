"""Notifications to everyone at once, and dashboards with many watchers."""

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


def _watchers(run: Run, count: int, path: str, kind: str) -> list[dict[str, Any]]:
    return [
        {"key": key, "url": run.url(key, path), "room": kind, "kind": kind} for key in range(count)
    ]


async def notifications_burst(args: argparse.Namespace) -> None:
    """`--users` sockets on /ws/notifications/; staff send `--alerts` system alerts to "all"."""
    async with Run(args, "notifications-burst", users=args.users) as run:
        connect = await run.open(_watchers(run, args.users, "/ws/notifications/", "notifications"))
        await run.settle(settle_seconds(args, args.users))
        staff = HttpClient(run.server.http(0), run.server.token(run.server.fixture.staff))
        alerts = []
        for number in range(1, args.alerts + 1):
            alerts.append(await _one_alert(run, staff, number, args))
            await asyncio.sleep(args.interval)
        await staff.close()
        report = run.report
        run.connect_rows(connect)
        for index, result in enumerate(alerts, 1):
            report.heading(f"alert {index}: POST /api/notifications/ users=all")
            report.row("POST answered", result["post_status"], f"in {result['post_ms']} ms")
            report.row("sockets reached", result["delivered"], f"of {result['expected']}")
            report.row("latency POST→arrival", ms(result["latency_ms"]), "p50 / p95 / p99 / max")
            rate = result["deliveries_per_second"]
            report.row("deliveries per second", rate, "POST → last arrival")
            report.row("lost / duplicated", f"{result['lost']} / {result['duplicated']}")
            run.usage_rows(result["server"])
        report.result("connect", connect)
        report.result("alerts", alerts)
        report.emit(args.json)


async def _one_alert(
    run: Run, staff: HttpClient, alert: int, args: argparse.Namespace
) -> dict[str, Any]:
    server = run.server_usage()
    title = marker(run=run.id, phase=alert, sender=0, n=0, payload=args.payload)
    started = time.monotonic_ns()
    body = {"users": "all", "kind": "system_alert", "title": title, "body": "bench", "data": {}}
    status, _answer = await staff.request("POST", "/api/notifications/", body)
    post_ms = round((time.monotonic_ns() - started) / 1e6, 1)
    parts = await run.workers.all(
        "collect", phase=alert, expected={"notifications": 1}, timeout=args.drain
    )
    usage = server.stop()
    delivered = sum(part["unique"] for part in parts)
    last = max((part["last_ns"] for part in parts), default=0)
    span = (last - started) / 1e9 if last else 0
    return {
        "post_status": status,
        "post_ms": post_ms,
        "expected": sum(part["expected"] for part in parts),
        "delivered": delivered,
        "lost": sum(part["lost"] for part in parts),
        "duplicated": sum(part["dups"] for part in parts),
        "deliveries_per_second": round(delivered / span, 1) if span else None,
        "latency_ms": stats.latency(stats.merge(part["latency_us"] for part in parts)),
        "server": usage,
    }


async def dashboards(args: argparse.Namespace) -> None:
    """`--watchers` sockets on /ws/dashboards/business/ while events change its metrics."""
    async with Run(args, "dashboards", users=args.watchers) as run:
        path = f"/ws/dashboards/{args.dashboard}/"
        connect = await run.open(_watchers(run, args.watchers, path, "dashboards"))
        await run.settle(settle_seconds(args, args.watchers))
        await run.workers.all("dashboard_tally", phase=0, next_phase=1)
        server, load = run.server_usage(), run.load_usage()
        events = await _post_events(run, args)
        await asyncio.sleep(args.drain)
        parts = await run.workers.all("dashboard_tally", phase=1, next_phase=2)
        result = _dashboard_result(parts, server.stop(), load.stop(), events, args)
        report = run.report
        run.connect_rows(connect)
        report.row(
            "events posted",
            events["posted"],
            f"POST /api/events/ at {args.event_rate:g}/s; statuses {events['statuses']}",
        )
        report.row("updates broadcast", result["updates"], "distinct seqs seen")
        report.row("updates received", result["received"], "unique, all watchers")
        latency = ms(result["latency_ms"])
        report.row("latency ts→arrival", latency, "update `ts` (server ms) → socket")
        report.row("fan-out spread", ms(result["spread_ms"]), "first → last watcher, per update")
        report.row("lost", result["lost"], "seq gaps + updates a watcher never got")
        report.row("duplicated", result["duplicated"])
        run.usage_rows(result["server"], result["generator"])
        report.result("connect", connect)
        report.result("updates", result)
        report.emit(args.json)


async def _post_events(run: Run, args: argparse.Namespace) -> dict[str, Any]:
    client = HttpClient(run.server.http(0), run.server.token(run.user(0)))
    statuses: Counter[str] = Counter()
    start = time.monotonic()
    total = int(args.duration * args.event_rate)
    for index in range(total):
        wait = start + index / args.event_rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        kind = "like" if index % 2 == 0 else "share"
        status, _body = await client.request("POST", "/api/events/", {"kind": kind})
        statuses[str(status)] += 1
    await client.close()
    return {"posted": total, "statuses": dict(statuses)}


def _dashboard_result(
    parts: list[dict[str, Any]],
    server: dict[str, Any],
    load: dict[str, Any],
    events: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    spans: dict[int, list[int]] = {}
    for part in parts:
        for seq, (first, last) in part["spans"].items():
            old = spans.setdefault(seq, [first, last])
            old[0], old[1] = min(old[0], first), max(old[1], last)
    received = sum(part["unique"] for part in parts)
    # Every watcher should have every update broadcast after it connected.
    missing = max(0, len(spans) * args.watchers - received - sum(p["gaps"] for p in parts))
    spread = [(last - first) // 1000 for first, last in spans.values()]
    return {
        "updates": len(spans),
        "received": received,
        "lost": sum(part["gaps"] for part in parts) + missing,
        "duplicated": sum(part["dups"] for part in parts),
        "latency_ms": stats.latency(stats.merge(part["latency_us"] for part in parts)),
        "spread_ms": stats.latency(spread),
        "closed_sockets": dict(sum((Counter(part["closed"]) for part in parts), Counter())),
        "events": events,
        "server": server,
        "generator": load,
    }


def register(sub: Any, common: Any) -> None:
    p = common(sub, "notifications-burst", notifications_burst, "system alert to everyone")
    p.add_argument("--users", type=int, default=10_000, help="connected users")
    p.add_argument("--alerts", type=int, default=3)
    p.add_argument("--interval", type=float, default=5, help="seconds between alerts")
    p.add_argument("--payload", type=int, default=60, help="title length")
    p.add_argument("--drain", type=float, default=30, help="seconds to wait for every socket")
    p.add_argument("--settle", type=float, help="seconds after connecting (default: auto)")

    p = common(sub, "dashboards", dashboards, "many watchers of one dashboard")
    p.add_argument("--watchers", type=int, default=1000)
    p.add_argument("--dashboard", default="business")
    p.add_argument("--event-rate", type=float, default=20, help="likes/shares posted per second")
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--drain", type=float, default=3, help="seconds after the last event")
    p.add_argument("--settle", type=float, help="seconds after connecting (default: auto)")
