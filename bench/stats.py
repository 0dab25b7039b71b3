"""Numbers of a run: latency percentiles, CPU and memory of processes, the machine."""

from __future__ import annotations

import contextlib
import os
import platform
import threading
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psutil


def merge(blobs: Iterable[bytes]) -> array[int]:
    """Latencies (µs) packed by the workers, in one array."""
    out = array("q")
    for blob in blobs:
        out.frombytes(blob)
    return out


def latency(samples: array[int] | list[int]) -> dict[str, Any]:
    """count, p50, p95, p99, max and mean in milliseconds (nearest-rank percentiles)."""
    ordered = sorted(samples)
    if not ordered:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}

    def rank(q: float) -> float:
        index = min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))
        return round(ordered[index] / 1000, 2)

    return {
        "count": len(ordered),
        "p50": rank(0.50),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": round(ordered[-1] / 1000, 2),
        "mean": round(sum(ordered) / len(ordered) / 1000, 2),
    }


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def rss_bytes(pids: Iterable[int]) -> int:
    """Resident memory of these processes and their children, in bytes."""
    total = 0
    for pid in pids:
        for proc in _tree(pid):
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
    return total


def cpu_seconds(pids: Iterable[int]) -> float:
    total = 0.0
    for pid in pids:
        for proc in _tree(pid):
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
    return total


@dataclass
class Usage:
    """CPU and memory of a group of processes over a window, sampled in a thread.

    `cpu_percent` is of one core (two busy cores = 200 %).
    """

    pids: list[int]
    interval: float = 0.5
    samples: list[tuple[float, int]] = field(default_factory=list)
    _cpu0: float = 0.0
    _t0: float = 0.0
    _cpu1: float = 0.0
    _t1: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Usage:
        self._t0, self._cpu0 = time.monotonic(), cpu_seconds(self.pids)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - self._t0, rss_bytes(self.pids)))
            self._stop.wait(self.interval)

    def stop(self) -> dict[str, Any]:
        self._t1, self._cpu1 = time.monotonic(), cpu_seconds(self.pids)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        wall = max(1e-9, self._t1 - self._t0)
        rss = [value for _t, value in self.samples] or [rss_bytes(self.pids)]
        return {
            "cpu_percent": round(100 * (self._cpu1 - self._cpu0) / wall, 1),
            "rss_mib_start": round(rss[0] / 2**20, 1),
            "rss_mib_end": round(rss[-1] / 2**20, 1),
            "rss_mib_peak": round(max(rss) / 2**20, 1),
        }

    def timeline(self) -> list[tuple[float, float]]:
        """(seconds since start, RSS MiB) samples."""
        return [(round(t, 2), round(value / 2**20, 1)) for t, value in self.samples]


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": model or platform.processor(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_1m": round(load[0], 2),
    }
