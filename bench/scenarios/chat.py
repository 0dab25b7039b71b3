"""Chat scenarios: fan-out into big rooms, many small rooms, saturation, a slow consumer."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from ..chat import (
    chat_specs,
    phase_rows,
    room_slug,
    rss_per_socket,
    schedule,
    send_phase,
    settle_seconds,
)
from ..report import Report, ms
from ..run import Run


def _latency_goal(
    report: Report, goal: int, result: dict[str, Any], server: str, limits: dict[str, float]
) -> None:
    p99 = result["latency_ms"]["p99"]
    limit = limits.get(server)
    target = ", ".join(f"p99 ≤ {v:g} ms on {k}" for k, v in limits.items()) + ", 0 lost"
    met = None
    if limit is not None:
        met = p99 is not None and p99 <= limit and result["lost"] == 0
    report.goal(goal, target, f"p99 {p99} ms, lost {result['lost']}", met)


async def chat_fanout(args: argparse.Namespace) -> None:
    """`--rooms` rooms of `--room-size` sockets; `--senders` per room share `--rate` msg/s."""
    size, rooms = args.room_size, args.rooms
    slugs = [room_slug(index) for index in range(rooms)]
    async with Run(args, "chat-fanout", users=size * rooms, rooms=slugs) as run:
        before = run.server_rss()
        connect = await run.open(chat_specs(run, rooms=rooms, size=size))
        await run.settle(settle_seconds(args, size * rooms))
        per_socket = rss_per_socket(run.report, before, run.server_rss(), connect["connected"])
        senders = {
            room_slug(r): run.pick(list(range(r * size, (r + 1) * size)), args.senders)
            for r in range(rooms)
        }
        plan = schedule(senders, rate=args.rate, duration=args.duration)
        result = await send_phase(run, phase=1, plan=plan, payload=args.payload, drain=args.drain)
        run.connect_rows(connect)
        phase_rows(run, result)
        run.report.result("connect", connect)
        run.report.result("rss_kib_per_socket", per_socket)
        run.report.result("send", result)
        if rooms == 1 and args.processes == 1 and (size, args.rate) == (1000, 10):
            _latency_goal(run.report, 2, result, args.server, {"uvicorn": 50, "daphne": 400})
        if rooms == 1 and args.processes == 1 and (size, args.rate) == (100, 100):
            _latency_goal(run.report, 4, result, args.server, {"uvicorn": 10, "daphne": 50})
        run.report.emit(args.json)


async def chat_rooms(args: argparse.Namespace) -> None:
    """`--users` users in rooms of `--room-size`, each sending one message every `--period` s."""
    size = args.room_size
    rooms = max(1, args.users // size)
    slugs = [room_slug(index) for index in range(rooms)]
    async with Run(args, "chat-rooms", users=rooms * size, rooms=slugs) as run:
        connect = await run.open(chat_specs(run, rooms=rooms, size=size))
        await run.settle(settle_seconds(args, rooms * size))
        senders = {room_slug(r): [r * size + i for i in range(size)] for r in range(rooms)}
        plan = schedule(senders, rate=size / args.period, duration=args.duration)
        result = await send_phase(run, phase=1, plan=plan, payload=args.payload, drain=args.drain)
        run.connect_rows(connect)
        phase_rows(run, result)
        run.report.result("connect", connect)
        run.report.result("send", result)
        if (rooms * size, size, args.period, args.processes) == (1000, 10, 60, 1):
            _latency_goal(run.report, 3, result, args.server, {"daphne": 50, "uvicorn": 50})
        run.report.emit(args.json)


async def max_deliveries(args: argparse.Namespace) -> None:
    """Raise the send rate step by step until deliveries/s stop rising or latency explodes."""
    size = args.room_size
    async with Run(args, "max-deliveries", users=size, rooms=[room_slug(0)]) as run:
        connect = await run.open(chat_specs(run, rooms=1, size=size))
        await run.settle(settle_seconds(args, size))
        senders = {room_slug(0): run.pick(list(range(size)), args.senders)}
        steps = await saturate(run, senders, size=size, args=args)
        _max_rows(run, connect, steps, args)


async def saturate(
    run: Run, senders: dict[str, list[int]], *, size: int, args: argparse.Namespace, phase: int = 1
) -> list[dict[str, Any]]:
    """Send phases at rising rates (x`--factor`) until the server stops keeping up."""
    steps: list[dict[str, Any]] = []
    rate = args.start_rate
    for step in range(args.max_steps):
        plan = schedule(senders, rate=rate, duration=args.step_duration)
        result = await send_phase(
            run, phase=phase + step, plan=plan, payload=args.payload, drain=args.drain
        )
        result.update(rate=round(rate, 2), offered_per_second=round(rate * size, 1))
        steps.append(result)
        print(
            f"  step {step + 1}: {rate:.1f} msg/s → offered {rate * size:,.0f}/s, delivered "
            f"{result['deliveries_per_second'] or 0:,.0f}/s, {ms(result['latency_ms'])}, "
            f"lost {result['lost']}",
            flush=True,
        )
        if _saturated(steps, args.max_p99):
            break
        rate *= args.factor
        await asyncio.sleep(1)
    return steps


def best_step(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The step with the most deliveries/s among those that lost nothing."""
    clean = [step for step in steps if not step["lost"]] or steps
    return max(clean, key=lambda step: step["deliveries_per_second"] or 0)


def _saturated(steps: list[dict[str, Any]], max_p99: float) -> bool:
    """Stop on a loss, on p99 over `max_p99`, or after two steps in a row that fell behind.

    Falling behind: under 90 % of the offered deliveries, or no more than the
    step before. Two in a row, so that one noisy step does not end the search.
    """

    def behind(index: int) -> bool:
        step = steps[index]
        delivered = step["deliveries_per_second"] or 0
        before = steps[index - 1]["deliveries_per_second"] or 0 if index > 0 else 0
        return delivered < 0.9 * step["offered_per_second"] or delivered <= before

    last = steps[-1]
    p99 = last["latency_ms"]["p99"] or 0
    lagging = len(steps) >= 2 and behind(len(steps) - 1) and behind(len(steps) - 2)
    return bool(last["lost"]) or p99 > max_p99 or lagging


def _max_rows(
    run: Run, connect: dict[str, Any], steps: list[dict[str, Any]], args: argparse.Namespace
) -> None:
    report = run.report
    run.connect_rows(connect)
    report.heading("steps (rate → deliveries/s, p99, lost, server CPU)")
    for index, step in enumerate(steps, 1):
        report.row(
            f"step {index}: {step['rate']} msg/s",
            step["deliveries_per_second"],
            f"offered {step['offered_per_second']:,.0f}/s; p99 {step['latency_ms']['p99']} ms; "
            f"lost {step['lost']}; CPU {step['server']['cpu_percent']} %",
        )
    best = best_step(steps)
    report.heading(f"best step ({best['rate']} msg/s into {args.room_size} sockets)")
    phase_rows(run, best)
    report.result("connect", connect)
    report.result("steps", steps)
    report.result("best_deliveries_per_second", best["deliveries_per_second"])
    value = best["deliveries_per_second"] or 0
    if args.processes == 1 and args.room_size == 1000 and not args.server_cpus:
        limit = {"daphne": 20_000, "uvicorn": 45_000}[args.server]
        target = f"≥ {limit:,} deliveries/s on {args.server}"
        report.goal(1, target, f"{value:,.0f}/s", value >= limit)
    if args.compare:
        one = json.loads(Path(args.compare).read_text())["results"]["best_deliveries_per_second"]
        ratio = value / one if one else 0
        report.result("ratio_to_compare", round(ratio, 2))
        report.goal(
            7,
            f"{args.processes} processes ≥ 1.6 x the deliveries of one ({one:,.0f}/s)",
            f"{value:,.0f}/s = {ratio:.2f} x",
            ratio >= 1.6 if args.processes == 2 else None,
        )
    report.emit(args.json)


# How the server drops a socket that stopped reading: uvicorn closes it with
# 4013 once MAX_OUTBOX_FRAMES wait, or with 1011 when its keepalive ping goes
# unanswered first; daphne aborts the TCP connection once MAX_SEND_BUFFER_BYTES
# wait (the client sees 1006).
DROPPED = (4013, 1011, 1006)


async def slow_consumer(args: argparse.Namespace) -> None:
    """One socket in the room stops reading; the room, the server's RSS and the socket's fate."""
    size = args.room_size
    async with Run(args, "slow-consumer", users=size + 1, rooms=[room_slug(0)]) as run:
        specs = chat_specs(run, rooms=1, size=size + 1)
        specs[-1]["slow"] = True
        slow = specs[-1]
        connect = await run.open(specs)
        await run.settle(settle_seconds(args, size))
        senders = {room_slug(0): run.pick(list(range(size)), args.senders)}
        base = await send_phase(
            run,
            phase=1,
            plan=schedule(senders, rate=args.rate, duration=args.baseline),
            payload=args.payload,
            drain=args.drain,
        )
        owner = run.workers.workers[run.owner[slow["key"]]]
        await owner.call("stall", keys=[slow["key"]], stalled=True)
        server = run.server_usage()
        stalled = await send_phase(
            run,
            phase=2,
            plan=schedule(senders, rate=args.rate, duration=args.stall),
            payload=args.payload,
            drain=args.drain,
        )
        await owner.call("stall", keys=[slow["key"]], stalled=False)
        fate = await _await_close(owner, slow["key"], timeout=10)
        server.stop()
        resumed = await owner.call("resume_since", key=slow["key"], url=slow["url"])
        _slow_rows(run, connect, base, stalled, fate, resumed, server, args)


async def _await_close(owner: Any, key: int, timeout: float) -> dict[str, Any]:
    """The slow socket's state once it is closed (or after `timeout` s of reading)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        state: dict[str, Any] = await owner.call("sock_state", key=key)
        if state["close_code"] is not None or loop.time() > deadline:
            return state
        await asyncio.sleep(0.1)


def _slow_rows(
    run: Run,
    connect: dict[str, Any],
    base: dict[str, Any],
    stalled: dict[str, Any],
    fate: dict[str, Any],
    resumed: dict[str, Any],
    server: Any,
    args: argparse.Namespace,
) -> None:
    report = run.report
    run.connect_rows(connect)
    report.heading(f"baseline: everyone reads ({args.baseline:g} s)")
    phase_rows(run, base)
    report.heading(f"one socket stops reading ({args.stall:g} s)")
    phase_rows(run, stalled)
    timeline = server.timeline()
    usage = server.summary()
    report.heading("the slow socket")
    report.row(
        "its close code",
        fate["close_code"],
        "4013 outbox full, 1011 keepalive unanswered (uvicorn); 1006 send bound (daphne)",
    )
    report.row("frames it had read", fate["frames"], f"last seq {fate['last_seq']}")
    report.row(
        "resumed with ?since=",
        resumed["recovered"],
        f"messages; gap-free {resumed['gap_free']}, has_more {resumed['has_more']}",
    )
    report.row(
        "server RSS during stall",
        f"{usage['rss_mib_start']} → {usage['rss_mib_peak']} → {usage['rss_mib_end']} MiB",
        "start → peak → end (timeline in the JSON)",
    )
    report.result("connect", connect)
    report.result("baseline", base)
    report.result("stalled", stalled)
    report.result("slow_socket", {**fate, "resume": resumed})
    report.result("rss_timeline_mib", timeline)
    base_p99 = base["latency_ms"]["p99"] or 0
    p99 = stalled["latency_ms"]["p99"]
    flat = p99 is not None and p99 <= 2 * base_p99 + 5
    dropped = fate["close_code"] in DROPPED
    met = dropped and flat and stalled["lost"] == 0 and resumed["gap_free"]
    report.goal(
        8,
        "slow socket dropped (4013 or 1011; 1006 under daphne), room p99 flat "
        "(≤ 2 x baseline + 5 ms), 0 lost, resume with since gap-free",
        f"close {fate['close_code']}, p99 {base_p99} → {p99} ms, lost {stalled['lost']}, "
        f"gap-free {resumed['gap_free']}",
        met,
    )
    report.note("RSS bounded? compare rss_mib_peak with the timeline: it must level off")
    report.emit(args.json)


def saturation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start-rate", type=float, default=5, help="messages/s, first step")
    parser.add_argument("--factor", type=float, default=1.5, help="rate multiplier per step")
    parser.add_argument("--step-duration", type=float, default=10, help="seconds per step")
    parser.add_argument("--max-steps", type=int, default=15)
    parser.add_argument("--max-p99", type=float, default=1000, help="ms; stop above it")


def _common(parser: argparse.ArgumentParser, *, duration: float, payload: int = 100) -> None:
    parser.add_argument("--duration", type=float, default=duration, help="seconds of sending")
    parser.add_argument("--payload", type=int, default=payload, help="message length (chars)")
    parser.add_argument("--drain", type=float, default=10, help="seconds to wait for stragglers")
    parser.add_argument("--settle", type=float, help="seconds after connecting (default: auto)")


def register(sub: Any, common: Any) -> None:
    p = common(sub, "chat-fanout", chat_fanout, "fan-out into rooms (goals 2 and 4)")
    p.add_argument("--rooms", type=int, default=1)
    p.add_argument("--room-size", type=int, default=1000)
    p.add_argument("--senders", type=int, default=1, help="sending sockets per room")
    p.add_argument("--rate", type=float, default=10, help="messages/s into each room, in all")
    _common(p, duration=20)

    p = common(sub, "chat-rooms", chat_rooms, "many small rooms, everyone talks (goal 3)")
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--room-size", type=int, default=10)
    p.add_argument("--period", type=float, default=60, help="seconds between one user's messages")
    _common(p, duration=60)

    p = common(sub, "max-deliveries", max_deliveries, "saturation search (goals 1 and 7)")
    p.add_argument("--room-size", type=int, default=1000)
    p.add_argument("--senders", type=int, default=1)
    saturation_arguments(p)
    p.add_argument("--compare", help="JSON of a 1-process run: report the ratio (goal 7)")
    _common(p, duration=10)

    p = common(sub, "slow-consumer", slow_consumer, "one socket stops reading (goal 8)")
    p.add_argument("--room-size", type=int, default=1000, help="sockets that keep reading")
    p.add_argument("--senders", type=int, default=1)
    p.add_argument("--rate", type=float, default=100)
    p.add_argument("--baseline", type=float, default=10, help="seconds before the stall")
    p.add_argument("--stall", type=float, default=30, help="seconds the socket does not read")
    _common(p, duration=0, payload=2000)
