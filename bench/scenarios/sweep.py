"""`chat-sweep`: fan-out latency and maximum throughput against room size (for the plots)."""

from __future__ import annotations

import argparse
from typing import Any

from ..chat import chat_specs, room_slug, schedule, send_phase, settle_seconds
from ..report import Report, ms
from ..run import Run
from .chat import best_step, saturate, saturation_arguments


async def _one_size(args: argparse.Namespace, size: int) -> dict[str, Any]:
    """A fresh server for one room size: a fixed-rate phase, then a saturation search."""
    async with Run(args, "chat-sweep", users=size, rooms=[room_slug(0)]) as run:
        connect = await run.open(chat_specs(run, rooms=1, size=size))
        await run.settle(settle_seconds(args, size))
        senders = {room_slug(0): run.pick(list(range(size)), 1)}
        print(f"room of {size}: {args.rate:g} msg/s for {args.duration:g} s", flush=True)
        fixed = await send_phase(
            run,
            phase=1,
            plan=schedule(senders, rate=args.rate, duration=args.duration),
            payload=args.payload,
            drain=args.drain,
        )
        steps = [] if args.no_max else await saturate(run, senders, size=size, args=args, phase=2)
        best = best_step(steps) if steps else None
        return {
            "room_size": size,
            "connect": connect,
            "fixed_rate": fixed,
            "steps": steps,
            "best_deliveries_per_second": best["deliveries_per_second"] if best else None,
            "best_step": best,
            "machine": run.report.data["machine"],
            "pinning": run.report.data["pinning"],
        }


async def chat_sweep(args: argparse.Namespace) -> None:
    """For each `--sizes` room size: p50/p99 at `--rate` msg/s, then the most deliveries/s."""
    sizes = [int(size) for size in args.sizes.split(",")]
    points = [await _one_size(args, size) for size in sizes]
    params = {k: v for k, v in vars(args).items() if k not in ("func", "json")}
    report = Report("chat-sweep", params)
    report.set("machine", points[0]["machine"])
    report.set("pinning", points[0]["pinning"])
    report.set("server", {"kind": args.server, "processes": args.processes})
    report.heading(f"room size → latency at {args.rate:g} msg/s; most deliveries/s")
    for point in points:
        fixed = point["fixed_rate"]
        report.row(
            f"{point['room_size']:,} sockets",
            point["best_deliveries_per_second"],
            f"{ms(fixed['latency_ms'])} at {args.rate:g} msg/s; lost {fixed['lost']}",
        )
    report.result("points", points)
    report.note("plot: python -m bench.plot <this json> ...  (PNG under docs/img/)")
    report.emit(args.json)


def register(sub: Any, common: Any) -> None:
    p = common(sub, "chat-sweep", chat_sweep, "latency and throughput against room size")
    p.add_argument("--sizes", default="10,100,1000,10000", help="comma-separated room sizes")
    p.add_argument("--rate", type=float, default=10, help="messages/s of the fixed-rate phase")
    p.add_argument("--duration", type=float, default=20, help="seconds of the fixed-rate phase")
    p.add_argument("--no-max", action="store_true", help="skip the saturation search")
    p.add_argument("--payload", type=int, default=100)
    p.add_argument("--drain", type=float, default=10)
    p.add_argument("--settle", type=float, help="seconds after connecting (default: auto)")
    saturation_arguments(p)
