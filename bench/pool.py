"""Load-generator worker processes, driven in lock step from the orchestrator.

A worker is a process with its own event loop and an `Agent`; the
orchestrator calls an Agent method on one or every worker and awaits the
results. Several workers let the generator use several cores (one Python
process reads perhaps 30,000-60,000 small frames a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
import resource
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any

# BENCH_DEBUG=1 traces every call to a worker on stderr.
DEBUG = bool(os.environ.get("BENCH_DEBUG"))


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 1_048_576
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def _worker_main(conn: Connection, cores: list[int] | None, run: str) -> None:
    if cores:
        os.sched_setaffinity(0, cores)
    if DEBUG:
        import faulthandler
        import signal

        faulthandler.register(signal.SIGUSR1)
    raise_fd_limit()
    try:
        import uvloop

        uvloop.run(_serve(conn, run))
    except ImportError:
        asyncio.run(_serve(conn, run))


def _listen(conn: Connection, loop: asyncio.AbstractEventLoop, deliver: Any) -> threading.Thread:
    """Read messages from `conn` in a thread (blocking reads) and hand each to the loop.

    The pipe stays blocking: an event loop's add_reader would make it
    non-blocking (uvloop does), and a large result would then break mid-write.
    """

    def run() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                loop.call_soon_threadsafe(deliver, None)
                return
            loop.call_soon_threadsafe(deliver, message)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def _serve(conn: Connection, run: str) -> None:
    from .agent import Agent

    agent = Agent(run)
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    _listen(conn, loop, inbox.put_nowait)
    lock = threading.Lock()
    tasks: set[asyncio.Task[None]] = set()
    while True:
        message = await inbox.get()
        if message is None or message[1] == "exit":
            break
        call_id, method, kwargs = message
        task = loop.create_task(_answer(conn, lock, agent, call_id, method, kwargs))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await agent.close_all()


async def _answer(
    conn: Connection,
    lock: threading.Lock,
    agent: Any,
    call_id: int,
    method: str,
    kwargs: dict[str, Any],
) -> None:
    try:
        reply = (call_id, True, await getattr(agent, method)(**kwargs))
    except Exception:
        reply = (call_id, False, traceback.format_exc())

    def send() -> None:
        with lock:
            conn.send(reply)

    await asyncio.to_thread(send)


class WorkerError(RuntimeError):
    """A worker's method raised; the message is its traceback."""


class Worker:
    """The orchestrator's handle on one worker process."""

    def __init__(self, index: int, cores: list[int] | None, run: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.index = index
        self.cores = cores
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, cores, run), name=f"bench-load-{index}", daemon=True
        )
        self.process.start()
        child.close()
        self.ids = itertools.count()
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        _listen(self.conn, asyncio.get_running_loop(), self._on_reply)

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def _on_reply(self, message: Any) -> None:
        if message is None:
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(WorkerError(f"worker {self.index} died"))
            return
        call_id, ok, result = message
        future = self.waiting.pop(call_id)
        if ok:
            future.set_result(result)
        else:
            future.set_exception(WorkerError(result))

    async def call(self, method: str, **kwargs: Any) -> Any:
        call_id = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[call_id] = future
        if DEBUG:
            print(f"[bench] worker {self.index} <- {method}", file=sys.stderr, flush=True)
        self.conn.send((call_id, method, kwargs))
        result = await future
        if DEBUG:
            print(f"[bench] worker {self.index} -> {method} done", file=sys.stderr, flush=True)
        return result

    def ask_exit(self) -> None:
        """Tell the worker to close its sockets and exit."""
        with contextlib.suppress(OSError):
            self.conn.send((0, "exit", {}))

    def join(self) -> None:
        """Wait for the worker to exit (blocking); kill it after 15 s."""
        self.process.join(15)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


class Pool:
    """Every worker of a run."""

    def __init__(self, count: int, cores: list[int] | None, run: str) -> None:
        self.workers = [
            Worker(index, [cores[index % len(cores)]] if cores else None, run)
            for index in range(count)
        ]

    @property
    def pids(self) -> list[int]:
        return [worker.pid for worker in self.workers]

    def __len__(self) -> int:
        return len(self.workers)

    async def each(self, method: str, per_worker: list[dict[str, Any]]) -> list[Any]:
        """Call `method` on every worker with its own keyword arguments."""
        calls = [
            worker.call(method, **kwargs)
            for worker, kwargs in zip(self.workers, per_worker, strict=True)
        ]
        return list(await asyncio.gather(*calls))

    async def all(self, method: str, **kwargs: Any) -> list[Any]:
        """Call `method` with the same arguments on every worker."""
        return await self.each(method, [kwargs] * len(self.workers))

    def split(self, items: list[Any]) -> list[list[Any]]:
        """Deal `items` to the workers in contiguous slices."""
        count = len(self.workers)
        size, extra = divmod(len(items), count)
        out, start = [], 0
        for index in range(count):
            end = start + size + (1 if index < extra else 0)
            out.append(items[start:end])
            start = end
        return out

    async def stop(self) -> None:
        for worker in self.workers:
            worker.ask_exit()
        for worker in self.workers:
            await asyncio.to_thread(worker.join)
