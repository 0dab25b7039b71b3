"""Collab benchmark: ops committed per second replaying a real editing trace, and op latency.

    .venv/bin/python bench/collab_bench.py                      # 1 and 4 clients, SQLite
    .venv/bin/python bench/collab_bench.py --clients 1 2 4 8 --txns 5000
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/collab_bench.py \\
        --processes 2 --database-url postgres://postgres@127.0.0.1:5432/bench_collab

For each client count N, a fresh document is typed by N concurrent clients
(each its own user and socket, each with one op in flight as PROTOCOL.md's
client does), which share the first --txns transactions of a trace from
tests/collab/traces/ in chunks of --chunk, round robin. One more socket only
watches. Measured:

- committed ops per second: versions the document gained, over the time from
  the first op sent to the last ack;
- latency: from an op leaving a writer to its broadcast reaching the watcher
  (one clock: every client runs in this process), p50 / p95 / p99 / max;
- convergence: every client ends with the server's text (and, with one
  client, with the trace's own end text).

The server is started as bench/server.py does (a fresh database, rate limits
lifted); processes > 1 share Redis and are used round robin.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a file: `bench/collab_bench.py`

from bench.server import BenchServer, add_server_arguments, options_from  # noqa: E402
from collab.session import CollabSession, Txn, session_replay, trace_load  # noqa: E402

TRACES = ROOT / "tests" / "collab" / "traces"


@dataclass
class Result:
    clients: int
    txns: int
    ops: int
    seconds: float
    ops_per_second: float
    latency_ms: dict[str, float]
    converged: bool
    matches_trace: bool | None


class TimedConnection:
    """A websockets connection that notes when each op frame leaves (by op_id)."""

    def __init__(self, conn: Any, sent: dict[str, float]) -> None:
        self.conn = conn
        self.sent = sent

    async def send(self, message: str) -> None:
        frame = json.loads(message)
        if frame.get("action") == "op" and frame["op_id"] not in self.sent:
            self.sent[frame["op_id"]] = time.perf_counter()
        await self.conn.send(message)

    async def recv(self) -> str | bytes:
        return await self.conn.recv()  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.conn.close()


def load_trace(name: str) -> tuple[list[Txn], str]:
    return trace_load(TRACES / f"{name}.json.gz")


def http_json(url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        return json.loads(response.read())


async def open_session(
    url: str, *, on_frame: Any = None, sent: dict[str, float] | None = None
) -> CollabSession:
    """A greeted session; with `sent`, the time each op frame leaves is noted there."""
    import websockets

    session = CollabSession(on_frame=on_frame)
    conn = await websockets.connect(url, max_size=None, max_queue=None, open_timeout=30)
    await session.attach(conn if sent is None else TimedConnection(conn, sent))
    return session


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1], 2),
        "mean": round(statistics.fmean(ordered), 2),
        "samples": len(ordered),
    }


async def run_once(
    server: BenchServer, users: list[int], clients: int, txns: list[Txn], end: str, args: Any
) -> Result:
    owner = server.token(users[0])
    doc = http_json(f"{server.http()}/api/docs/", owner, {"title": f"bench {clients}"})
    path = f"/ws/collab/{doc['id']}/"
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}

    def watch(frame: dict[str, Any]) -> None:
        if frame.get("type") == "op" and frame.get("op_id"):
            arrived.setdefault(frame["op_id"], time.perf_counter())

    watcher = await open_session(
        f"{server.ws(clients)}{path}?token={server.token(users[-1])}", on_frame=watch
    )
    writers = [
        await open_session(f"{server.ws(i)}{path}?token={server.token(users[i])}", sent=sent)
        for i in range(clients)
    ]
    shares: list[list[Txn]] = [[] for _ in writers]
    for start in range(0, len(txns), args.chunk):
        shares[(start // args.chunk) % clients].extend(txns[start : start + args.chunk])
    started = time.perf_counter()
    await asyncio.gather(
        *(
            session_replay(w, share, batch=args.batch, clamp=clients > 1)
            for w, share in zip(writers, shares, strict=True)
        )
    )
    for writer in writers:
        await writer.wait_idle(timeout=300)
    seconds = time.perf_counter() - started
    final = http_json(f"{server.http()}/api/docs/{doc['id']}/", owner)
    for session in [*writers, watcher]:
        await session.wait_version(final["version"], timeout=120)
    converged = all(s.client.text == final["content"] for s in [*writers, watcher])
    latencies = [(arrived[k] - sent[k]) * 1000 for k in sent if k in arrived]
    for session in [*writers, watcher]:
        await session.drop()
    return Result(
        clients=clients,
        txns=len(txns),
        ops=final["version"],
        seconds=round(seconds, 3),
        ops_per_second=round(final["version"] / seconds, 1),
        latency_ms=percentiles(latencies),
        converged=converged,
        matches_trace=(final["content"] == end) if clients == 1 else None,
    )


def print_table(results: list[Result], trace: str) -> None:
    print(f"\ncollab: trace {trace}")
    head = f"{'clients':>7} {'txns':>6} {'ops':>6} {'secs':>7} {'ops/s':>8}"
    head += f" {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}  converged"
    print(head)
    for r in results:
        lat = r.latency_ms
        print(
            f"{r.clients:>7} {r.txns:>6} {r.ops:>6} {r.seconds:>7.2f} {r.ops_per_second:>8.1f}"
            f" {lat.get('p50', 0):>7} {lat.get('p95', 0):>7} {lat.get('p99', 0):>7}"
            f" {lat.get('max', 0):>7}  {'yes' if r.converged else 'NO'}"
            + (
                ""
                if r.matches_trace is None
                else f" (end text {'ok' if r.matches_trace else 'WRONG'})"
            )
        )


def replay_text(txns: list[Txn]) -> str:
    text = ""
    for txn in txns:
        for position, deleted, inserted in txn:
            text = text[:position] + inserted + text[position + deleted :]
    return text


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Traces: " + ", ".join(sorted(p.name[:-8] for p in TRACES.glob("*.json.gz"))),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    root.add_argument(
        "--trace", default="friendsforever_flat", help="a trace in tests/collab/traces/"
    )
    root.add_argument("--txns", type=int, default=3000, help="first N transactions (0: all)")
    root.add_argument("--clients", type=int, nargs="+", default=[1, 4], help="runs, by writers")
    root.add_argument("--chunk", type=int, default=20, help="txns per share dealt to a client")
    root.add_argument(
        "--batch", type=int, default=1, help="txns a client composes while an op is in flight"
    )
    root.add_argument("--json", help="also write the results here")
    root.add_argument("--keep", action="store_true", help="keep the bench database and logs")
    add_server_arguments(root)
    return root


async def measure(
    server: BenchServer, users: list[int], txns: list[Txn], end: str, args: argparse.Namespace
) -> list[Result]:
    return [await run_once(server, users, n, txns, end, args) for n in args.clients]


def main() -> None:
    args = parser().parse_args()
    txns, end = load_trace(args.trace)
    if args.txns and args.txns < len(txns):
        txns = txns[: args.txns]
        end = replay_text(txns)
    server = BenchServer(options_from(args, None), run=f"collab{secrets.token_hex(3)}")
    fixture = server.prepare(users=max(args.clients) + 1, rooms=[])
    server.start()
    try:
        results = asyncio.run(measure(server, fixture.users, txns, end, args))
    finally:
        server.stop()
        if not args.keep:
            server.cleanup()
    print_table(results, args.trace)
    if args.json:
        payload = {
            "trace": args.trace,
            "batch": args.batch,
            "results": [asdict(r) for r in results],
        }
        Path(args.json).write_text(json.dumps(payload, indent=1))
    sys.exit(0 if all(r.converged and r.matches_trace is not False for r in results) else 1)


if __name__ == "__main__":
    main()
