"""`stale-flood`: one user floods a document with stale ops; everyone else on the process is timed.

Set-up: the flooding user creates a public document and commits `--big-ops`
ops of `--components` components each to it (at collab's own rate limit,
100/s, burst 200, which this scenario keeps instead of lifting it).

Probe: single ops, one at a time on an otherwise idle server, made far
behind, one big op behind, and N typing ops behind: the reply time of one op
at and around the transform-work bound (COLLAB_MAX_TRANSFORM_WORK).

Then two phases of `--duration` s each, without and with the flood
(`--flood-sockets` sockets of the one user, as fast as answers and the rate
limit allow; bench/collab_flood.py). In both, other users open sockets at
`--connect-rate`/s round robin over chat, notifications, dashboards and a
collab document (time from the TCP connect to the greeting), and
`--chatters` users post `--message-rate` messages/s in one room (time to the
ack, and to the broadcast reaching another member). The goals: during the
flood, connects p99 under 500 ms and messages p99 under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from collections import Counter
from typing import Any

import websockets

from .. import stats
from ..collab_flood import Flood, OpSocket, probe, spread
from ..report import ms
from ..run import Run
from ..wire import HttpClient

ROOM = "flood-room"
# The limits a flooding user meets (the bench otherwise lifts rate limits).
LIMITS = {"COLLAB_RATE_PER_SECOND": "100", "COLLAB_RATE_BURST": "200"}
CONNECT_TIMEOUT = 10.0
# Users who open the measured sockets (MAX_SOCKETS_PER_USER is 50 each).
CONNECTORS = 100


class Users:
    """Which bench user plays which part."""

    def __init__(self, chatters: int) -> None:
        self.flooder = 0
        self.chatters = list(range(1, chatters + 1))
        self.listener = chatters + 1
        self.connectors = list(range(chatters + 2, chatters + 2 + CONNECTORS))
        self.count = chatters + 2 + CONNECTORS


async def _create_doc(run: Run, who: int, content: str, title: str) -> int:
    client = HttpClient(run.server.http(0), run.server.token(run.user(who)))
    status, body = await client.request("POST", "/api/docs/", {"title": title, "content": content})
    await client.close()
    if status != 201:
        raise RuntimeError(f"could not create a document: {status} {body}")
    return int(body["id"])


async def _set_up(run: Run, users: Users, args: argparse.Namespace) -> dict[str, Any]:
    """The flooded document with its big ops, and a quiet one for the measured collab sockets."""
    doc = await _create_doc(run, users.flooder, "a" * (2 * args.components), "flooded")
    quiet = await _create_doc(run, users.listener, "notes", "quiet")
    sock = await OpSocket.open(run.url(users.flooder, f"/ws/collab/{doc}/"))
    began = time.perf_counter()
    version = await sock.commit(args.big_ops, spread(args.components, "b"))
    await sock.close()
    return {
        "doc": doc,
        "quiet_doc": quiet,
        "version": version,
        "seconds": time.perf_counter() - began,
    }


async def _probe(
    run: Run, users: Users, doc: int, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Reply times of single ops around the bound, one at a time."""
    big = spread(args.components)
    sock = await OpSocket.open(run.url(users.flooder, f"/ws/collab/{doc}/"))
    results = [
        {
            "shape": "far behind, big",
            **await probe(sock, behind=sock.version, components=big, repeat=args.repeat),
        },
        {
            "shape": "1 big op behind, big",
            **await probe(sock, behind=1, components=big, repeat=args.repeat),
        },
    ]
    await sock.close()
    typing = await _create_doc(run, users.flooder, "a" * 10, "typing")
    sock = await OpSocket.open(run.url(users.flooder, f"/ws/collab/{typing}/"))
    key = [{"type": "insert", "position": 0, "text": "k"}]
    await sock.commit(max(args.typing_behind), key)
    for behind in args.typing_behind:
        outcome = await probe(sock, behind=behind, components=key, repeat=args.repeat)
        results.append({"shape": f"{behind} typing ops behind, 1 component", **outcome})
    await sock.close()
    return results


class Phase:
    """Other users' sockets and chat during one phase, timed."""

    def __init__(
        self, run: Run, users: Users, world: dict[str, Any], args: argparse.Namespace
    ) -> None:
        self.run, self.users, self.world, self.args = run, users, world, args
        self.connect_us: list[int] = []
        self.ack_us: list[int] = []
        self.delivery_us: list[int] = []
        self.failed: Counter[str] = Counter()
        self.sent: dict[str, int] = {}
        self.opened: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []

    def _targets(self) -> list[tuple[str, str]]:
        return [
            (f"/ws/chat/{ROOM}/", "hello"),
            ("/ws/notifications/", "hello"),
            ("/ws/dashboards/business/", "snapshot"),
            (f"/ws/collab/{self.world['quiet_doc']}/", "hello"),
        ]

    async def _connect(self, who: int, path: str, greeting: str) -> None:
        started = time.perf_counter_ns()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                conn = await websockets.connect(self.run.url(who, path), max_size=None)
                self.opened.append(conn)
                while json.loads(await conn.recv()).get("type") != greeting:
                    pass
            self.connect_us.append((time.perf_counter_ns() - started) // 1000)
        except Exception as exc:  # every failure is counted and reported
            self.failed[type(exc).__name__] += 1

    async def _connects(self, until: float) -> None:
        tasks = []
        every = 1 / self.args.connect_rate
        targets = itertools.cycle(self._targets())
        connectors = itertools.cycle(self.users.connectors)
        due = time.perf_counter()
        while due < until:
            await asyncio.sleep(max(0, due - time.perf_counter()))
            path, greeting = next(targets)
            tasks.append(asyncio.create_task(self._connect(next(connectors), path, greeting)))
            due += every
        await asyncio.gather(*tasks)

    async def _read_chatter(self, conn: Any) -> None:
        async for raw in conn:
            frame = json.loads(raw)
            if frame.get("type") == "ack" and frame.get("ref") in self.sent:
                self.ack_us.append((time.perf_counter_ns() - self.sent[frame["ref"]]) // 1000)

    async def _read_listener(self, conn: Any) -> None:
        async for raw in conn:
            frame = json.loads(raw)
            if frame.get("type") == "message" and frame.get("message") in self.sent:
                self.delivery_us.append(
                    (time.perf_counter_ns() - self.sent[frame["message"]]) // 1000
                )

    async def _greeted(self, who: int) -> Any:
        """A chat socket in the room once its greeting (hello, history) came: it hears all after."""
        conn = await websockets.connect(self.run.url(who, f"/ws/chat/{ROOM}/"), max_size=None)
        while json.loads(await conn.recv()).get("type") != "history":
            pass
        return conn

    async def _join_chat(self) -> list[Any]:
        """The chatters' sockets and the listener's (not timed); the chatters'."""
        chatters = []
        for who in self.users.chatters:
            conn = await self._greeted(who)
            chatters.append(conn)
            self.readers.append(asyncio.create_task(self._read_chatter(conn)))
        listener = await self._greeted(self.users.listener)
        self.readers.append(asyncio.create_task(self._read_listener(listener)))
        self.opened += [*chatters, listener]
        return chatters

    async def _chat(self, chatters: list[Any], until: float, phase: str) -> None:
        every = 1 / self.args.message_rate
        due = time.perf_counter()
        for n in itertools.count():
            if due >= until:
                break
            await asyncio.sleep(max(0, due - time.perf_counter()))
            text = f"{phase}-{n}"
            self.sent[text] = time.perf_counter_ns()
            frame = {"action": "send", "message": text, "ref": text}
            await chatters[n % len(chatters)].send(json.dumps(frame))
            due += every

    async def measure(self, phase: str) -> dict[str, Any]:
        chatters = await self._join_chat()
        until = time.perf_counter() + self.args.duration
        usage = self.run.server_usage()
        await asyncio.gather(self._connects(until), self._chat(chatters, until, phase))
        await asyncio.sleep(1)  # the last replies
        server = usage.stop()
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        return {
            "connects": len(self.connect_us) + sum(self.failed.values()),
            "connect_failed": dict(self.failed),
            "connect_ms": stats.latency(self.connect_us),
            "messages": len(self.sent),
            "ack_ms": stats.latency(self.ack_us),
            "delivery_ms": stats.latency(self.delivery_us),
            "server": server,
        }

    async def close(self) -> None:
        await asyncio.gather(*(conn.close() for conn in self.opened), return_exceptions=True)


def _rows(run: Run, title: str, result: dict[str, Any]) -> None:
    report = run.report
    report.heading(title)
    failed = result["connect_failed"] or "none"
    report.row("sockets opened", result["connects"], f"failed: {failed}")
    report.row("connect → greeting", ms(result["connect_ms"]), "p50 / p95 / p99 / max")
    report.row("messages", result["messages"])
    report.row("send → ack", ms(result["ack_ms"]), "p50 / p95 / p99 / max")
    report.row("send → broadcast", ms(result["delivery_ms"]), "p50 / p95 / p99 / max")
    report.row("server CPU", f"{result['server']['cpu_percent']} %", "of one core")


def _verdict(summary: dict[str, Any], limit: float) -> bool | None:
    return None if summary["p99"] is None else summary["p99"] < limit


async def stale_flood(args: argparse.Namespace) -> None:
    """One user floods a document with stale ops; other users' connects and messages are timed."""
    given = {item.split("=", 1)[0] for item in args.server_env}
    args.server_env = [*args.server_env, *(f"{k}={v}" for k, v in LIMITS.items() if k not in given)]
    users = Users(args.chatters)
    async with Run(args, "stale-flood", users=users.count, rooms=[ROOM]) as run:
        report = run.report
        world = await _set_up(run, users, args)
        report.heading("set-up")
        report.row(
            "big ops committed",
            world["version"],
            f"{args.components} components each, in {world['seconds']:.1f} s",
        )
        probes = await _probe(run, users, world["doc"], args)
        report.heading(f"single ops on an idle server ({args.repeat} each)")
        for item in probes:
            report.row(
                item["shape"],
                f"{item['median_ms']} / {item['max_ms']} ms",
                f"median / max; {item['replies']}",
            )
        worst = max(item["max_ms"] for item in probes)
        report.row("worst single op", f"{worst} ms", "reply time, any shape above")
        phase = Phase(run, users, world, args)
        quiet = await phase.measure("quiet")
        await phase.close()
        _rows(run, f"without the flood ({args.duration:g} s)", quiet)
        urls = [run.url(users.flooder, f"/ws/collab/{world['doc']}/")] * args.flood_sockets
        flood = Flood(urls, components=args.components)
        await flood.start()
        phase = Phase(run, users, world, args)
        flooded = await phase.measure("flood")
        flood_result = await flood.stop()
        await phase.close()
        _rows(run, f"during the flood ({args.duration:g} s)", flooded)
        report.row(
            "flood ops answered",
            flood_result["per_second"],
            f"per second; {flood_result['replies']}",
        )
        if flood_result["closed"]:
            report.row("flood sockets closed", ", ".join(flood_result["closed"]))
        connect_met = _verdict(flooded["connect_ms"], 500)
        message_met = all(_verdict(flooded[key], 100) for key in ("ack_ms", "delivery_ms"))
        report.row(
            "goal: connects p99 < 500 ms", {True: "MET", False: "NOT MET", None: "n/a"}[connect_met]
        )
        report.row(
            "goal: messages p99 < 100 ms", "MET" if message_met else "NOT MET", "ack and broadcast"
        )
        report.result("setup", world)
        report.result("probes", probes)
        report.result("worst_op_ms", worst)
        report.result("quiet", quiet)
        report.result("flood", flooded)
        report.result("flooder", flood_result)
        report.emit(args.json)


def register(sub: Any, common: Any) -> None:
    p = common(sub, "stale-flood", stale_flood, "one user floods stale ops; others are timed")
    p.add_argument("--big-ops", type=int, default=300, help="big ops committed before the flood")
    p.add_argument("--components", type=int, default=1000, help="components of each big op")
    p.add_argument("--flood-sockets", type=int, default=8, help="sockets the flooding user holds")
    p.add_argument("--duration", type=float, default=20, help="seconds of each phase")
    p.add_argument("--connect-rate", type=float, default=10, help="other users' connects/s")
    p.add_argument("--message-rate", type=float, default=20, help="chat messages/s")
    p.add_argument("--chatters", type=int, default=10, help="users who chat")
    p.add_argument("--repeat", type=int, default=5, help="times each single op is probed")
    p.add_argument(
        "--typing-behind",
        type=int,
        nargs="+",
        default=[50, 100, 150, 200, 400],
        help="probe one-component ops this many typing ops behind",
    )
