"""One scenario run: the server under test, the generator workers, and their report.

async with Run(args, "chat-fanout", users=1000, rooms=["room-0000"]) as run:
    connected = await run.open(specs)
    ...
    run.report.emit(args.json)
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import time
from collections import Counter
from typing import Any

from . import stats
from .pool import Pool, raise_fd_limit
from .report import Report
from .server import BenchServer, options_from


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every scenario shares for the load generator and the output."""
    group = parser.add_argument_group("load generator and output")
    group.add_argument(
        "--workers", type=int, default=0, help="generator processes (default: one per load core)"
    )
    group.add_argument(
        "--pin",
        choices=["auto", "off"],
        default="auto",
        help="auto: server processes on their own cores, the generator on the rest, "
        "when the host has a core more than server processes",
    )
    group.add_argument("--connect-concurrency", type=int, default=100, help="handshakes in flight")
    group.add_argument("--json", help="where to write the JSON result")
    group.add_argument("--keep", action="store_true", help="keep var/bench/<run>/ (logs, database)")


def plan_cores(
    pin: str, processes: int, share: float | None = None
) -> tuple[list[int] | None, list[int] | None, str]:
    """(server cores, load cores, how it was decided).

    With `share` (`--server-cpus`), the server processes need only enough cores
    for their shares together, and share them.
    """
    usable = sorted(os.sched_getaffinity(0))
    if pin == "off":
        return None, None, "not pinned (--pin off)"
    needed = math.ceil(processes * share - 1e-9) if share else processes
    if len(usable) < needed + 1:
        return None, None, f"not pinned: {len(usable)} usable core(s) for {processes} server(s)"
    server, load = usable[:needed], usable[needed:]
    capped = f", each held to {share:.0%} of a core" if share else ""
    return server, load, f"server pinned to core(s) {server}{capped}, generator to {load}"


class Run:
    """Server + workers for one scenario; an async context manager that cleans up."""

    def __init__(
        self,
        args: argparse.Namespace,
        scenario: str,
        *,
        users: int,
        rooms: list[str] | None = None,
    ) -> None:
        self.args = args
        self.users = users
        self.rooms = list(rooms or [])
        self.id = secrets.token_hex(3)
        server_cores, self.load_cores, pinning = plan_cores(
            args.pin, args.processes, args.server_cpus
        )
        self.server = BenchServer(options_from(args, server_cores), run=self.id)
        params = {k: v for k, v in vars(args).items() if k not in ("func", "json")}
        self.report = Report(scenario, params)
        self.report.set("machine", stats.machine())
        self.report.set("pinning", pinning)
        self.report.set(
            "server",
            {"kind": args.server, "processes": args.processes, "redis": bool(args.redis_url)},
        )
        self.pool: Pool | None = None
        self.owner: dict[int, int] = {}
        self.connected: set[int] = set()

    async def __aenter__(self) -> Run:
        raise_fd_limit()
        began = time.monotonic()
        await asyncio.to_thread(self.server.prepare, users=self.users, rooms=self.rooms)
        await asyncio.to_thread(self.server.start)
        count = self.args.workers or (len(self.load_cores) if self.load_cores else 1)
        self.pool = Pool(count, self.load_cores, self.id)
        self.report.set("setup_seconds", round(time.monotonic() - began, 1))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.pool is not None:
            await self.pool.stop()
        await asyncio.to_thread(self.server.stop)
        if not self.args.keep and not exc[0]:
            self.server.cleanup()
        elif exc[0]:
            print(f"server logs kept in {self.server.dir}")

    @property
    def workers(self) -> Pool:
        assert self.pool is not None
        return self.pool

    # --- sockets ------------------------------------------------------------------

    def user(self, index: int) -> int:
        return self.server.fixture.users[index]

    def url(self, index: int, path: str, user_id: int | None = None) -> str:
        """`path` on server process `index % processes`, with a token for user `index`."""
        uid = self.user(index) if user_id is None else user_id
        return f"{self.server.ws(index)}{path}?token={self.server.token(uid)}"

    async def open(self, specs: list[dict[str, Any]]) -> dict[str, Any]:
        """Open the sockets on the workers; a summary of how connecting went."""
        dealt = self.workers.split(specs)
        for worker, part in enumerate(dealt):
            self.owner.update({spec["key"]: worker for spec in part})
        per = max(1, self.args.connect_concurrency // len(self.workers))
        results = await self.workers.each(
            "open", [{"specs": part, "concurrency": per} for part in dealt]
        )
        failed: Counter[str] = Counter()
        for result in results:
            failed.update(result["failed"])
            self.connected.update(result["keys"])
        connected = sum(result["connected"] for result in results)
        wall = (max(r["end_ns"] for r in results) - min(r["start_ns"] for r in results)) / 1e9
        return {
            "sockets": len(specs),
            "connected": connected,
            "failed": dict(failed),
            "seconds": round(wall, 2),
            "per_second": round(connected / wall, 1) if wall else None,
            "latency_ms": stats.latency(stats.merge(r["connect_us"] for r in results)),
        }

    def pick(self, keys: list[int], count: int) -> list[int]:
        """The first `count` of `keys` whose sockets are connected."""
        return [key for key in keys if key in self.connected][:count]

    def by_worker(self, items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Items that carry a socket `key`, grouped by the worker that owns that socket."""
        out: list[list[dict[str, Any]]] = [[] for _ in self.workers.workers]
        for item in items:
            out[self.owner[item["key"]]].append(item)
        return out

    async def traffic(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for part in await self.workers.all("traffic"):
            total.update(part)
        return dict(total)

    # --- measuring ----------------------------------------------------------------

    def server_usage(self) -> stats.Usage:
        return stats.Usage(self.server.pids).start()

    def load_usage(self) -> stats.Usage:
        return stats.Usage(self.workers.pids).start()

    def server_rss(self) -> int:
        return stats.rss_bytes(self.server.pids)

    async def settle(self, seconds: float) -> None:
        """Let the server finish what connecting started (presence, registry writes)."""
        await asyncio.sleep(seconds)

    def connect_rows(self, connect: dict[str, Any]) -> None:
        report = self.report
        report.row(
            "sockets connected",
            f"{connect['connected']}/{connect['sockets']}",
            f"in {connect['seconds']} s; failed: {connect['failed'] or 'none'}",
        )
        report.row("connect rate", connect["per_second"], "authenticated connects/s (to greeting)")
        if "InvalidMessage" in connect["failed"]:
            report.note(
                "InvalidMessage: the server closed the connection before answering the "
                "upgrade (daphne drops a handshake its application has not accepted in 5 s)"
            )

    def usage_rows(self, server: dict[str, Any], load: dict[str, Any] | None = None) -> None:
        report = self.report
        report.row("server CPU", f"{server['cpu_percent']} %", "of one core, all server processes")
        if self.args.server_cpus:
            report.row(
                "server CPU cap",
                f"{self.args.server_cpus:.0%}",
                "of one core per process (--server-cpus), shared cores",
            )
        report.row(
            "server RSS",
            f"{server['rss_mib_end']} MiB",
            f"peak {server['rss_mib_peak']} MiB, all server processes",
        )
        if load is not None:
            report.row("generator CPU", f"{load['cpu_percent']} %", "of one core, all workers")
            cores = min(len(self.workers), len(self.load_cores or self.workers.workers))
            if load["cpu_percent"] > 85 * cores:
                report.note(
                    "the generator was near saturation; add --workers or cores, "
                    "or the figures measure the generator"
                )
