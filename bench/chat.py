"""Chat load: rooms of sockets, senders on a schedule, and what one send phase measured."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from typing import Any

from . import stats
from .report import Report, ms
from .run import Run

START_DELAY_NS = 300_000_000


def room_slug(index: int) -> str:
    return f"room-{index:04d}"


def chat_specs(run: Run, *, rooms: int, size: int, first_key: int = 0) -> list[dict[str, Any]]:
    """One socket per user, `size` users in each of `rooms` rooms; user i is socket key i."""
    specs = []
    for room in range(rooms):
        slug = room_slug(room)
        for member in range(size):
            key = first_key + room * size + member
            url = run.url(key, f"/ws/chat/{slug}/")
            specs.append({"key": key, "url": url, "room": slug, "kind": "chat"})
    return specs


def schedule(
    senders: dict[str, list[int]], *, rate: float, duration: float
) -> list[dict[str, int]]:
    """Send times for each sender: `rate` messages/s into each room, shared by its senders.

    Each sender sends every `len(senders) / rate` s, staggered with a random
    phase, so a room's messages are spread evenly over the run.
    """
    plan = []
    for keys in senders.values():
        interval = len(keys) / rate
        for index, key in enumerate(keys):
            offset = (index + random.random()) * interval / len(keys)
            count = math.ceil((duration - offset) / interval) if offset < duration else 0
            plan.append(
                {
                    "key": key,
                    "offset_ns": int(offset * 1e9),
                    "interval_ns": int(interval * 1e9),
                    "count": count,
                }
            )
    return plan


async def send_phase(
    run: Run,
    *,
    phase: int,
    plan: list[dict[str, int]],
    payload: int,
    drain: float,
    exclude: list[int] | None = None,
) -> dict[str, Any]:
    """Run one send schedule, wait for every arrival (or `drain` s), and sum it all up."""
    start_ns = time.monotonic_ns() + START_DELAY_NS
    server, load = run.server_usage(), run.load_usage()
    calls = [
        {
            "phase": phase,
            "senders": part,
            "start_ns": start_ns,
            "payload": payload,
            "ack_timeout": drain,
        }
        for part in run.by_worker(plan)
    ]
    sent_parts = await run.workers.each("chat_send", calls)
    server_use, load_use = server.stop(), load.stop()
    senders = {key: value for part in sent_parts for key, value in part.items()}
    expected: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for value in senders.values():
        expected[value["room"]] += value["acked"]
        errors.update(value["errors"])
    parts = await run.workers.all(
        "collect", phase=phase, expected=dict(expected), timeout=drain, exclude=exclude or []
    )
    return summarize(start_ns, senders, errors, parts, server_use, load_use)


def summarize(
    start_ns: int,
    senders: dict[int, dict[str, Any]],
    errors: Counter[str],
    parts: list[dict[str, Any]],
    server_use: dict[str, Any],
    load_use: dict[str, Any],
) -> dict[str, Any]:
    delivered = sum(part["unique"] for part in parts)
    last = max((part["last_ns"] for part in parts), default=0)
    span = (last - start_ns) / 1e9 if last else 0
    closed: Counter[str] = Counter()
    for part in parts:
        closed.update(part["closed"])
    return {
        "sent": sum(value["sent"] for value in senders.values()),
        "acked": sum(value["acked"] for value in senders.values()),
        "late_sends": sum(value["late"] for value in senders.values()),
        "send_errors": dict(errors),
        "expected": sum(part["expected"] for part in parts),
        "delivered": delivered,
        "lost": sum(part["lost"] for part in parts),
        "lossy_sockets": sum(part["lossy_sockets"] for part in parts),
        "duplicated": sum(part["dups"] for part in parts),
        "deliveries_per_second": round(delivered / span, 1) if span > 0 else None,
        "latency_ms": stats.latency(stats.merge(part["latency_us"] for part in parts)),
        "ack_latency_ms": stats.latency(stats.merge(part["ack_us"] for part in parts)),
        "closed_sockets": dict(closed),
        "server": server_use,
        "generator": load_use,
    }


def phase_rows(run: Run, result: dict[str, Any]) -> None:
    report = run.report
    report.row(
        "messages sent", result["sent"], f"acked {result['acked']}; errors {result['send_errors']}"
    )
    if result["late_sends"]:
        report.row("late sends", result["late_sends"], "sent over one period behind schedule")
    report.row("deliveries expected", result["expected"], "acked messages x sockets in the room")
    report.row("deliveries", result["delivered"], "unique arrivals")
    report.row("delivered per second", result["deliveries_per_second"], "first send → last arrival")
    report.row("latency send→arrival", ms(result["latency_ms"]), "p50 / p95 / p99 / max")
    report.row("latency send→ack", ms(result["ack_latency_ms"]), "p50 / p95 / p99 / max (sender)")
    report.row("lost", result["lost"], f"on {result['lossy_sockets']} socket(s) (drain timeout)")
    report.row("duplicated", result["duplicated"], "same message twice on one socket")
    if result["closed_sockets"]:
        report.row("closed by server", str(result["closed_sockets"]), "close code: sockets")
    run.usage_rows(result["server"], result["generator"])


def rss_per_socket(report: Report, before: int, after: int, sockets: int) -> float | None:
    """RSS the server added per connected socket, in KiB (and a row saying so)."""
    if not sockets:
        return None
    per = (after - before) / sockets / 1024
    report.row("RSS per socket", f"{per:.1f} KiB", "(RSS after connecting - before) / sockets")
    return round(per, 1)


def settle_seconds(args: Any, sockets: int) -> float:
    """How long to let connect side effects (presence, registry) finish before measuring."""
    if getattr(args, "settle", None) is not None:
        return float(args.settle)
    return 1.0 + sockets / 1000
