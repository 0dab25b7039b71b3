"""One publisher per deployment: the process holding a short Redis lease pushes updates.

Every server process that serves a dashboard socket runs a `Publisher` loop on
its event loop. Each tick (DASHBOARD_UPDATE_SECONDS) it takes or renews the
lease; only the holder reads the metrics and publishes. A holder that dies
stops renewing, and another process takes the lease within
DASHBOARD_LEASE_SECONDS. Without REDIS_URL there is one process, and it always
holds the lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref

from django.conf import settings

from realtime.broadcast import channel_layer
from realtime.db import db_parallel
from realtime.process import PROCESS_ID
from realtime.redis import get_redis

from .services import dashboards_publish

log = logging.getLogger(__name__)

# KEYS[1] lease; ARGV: holder id, ttl (ms). Takes a free lease or renews our own; 1 if held.
_TAKE_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


def lease_key() -> str:
    """The Redis key of the publisher lease (read at call time: tests change the prefix)."""
    return f"{settings.REDIS_KEY_PREFIX}:dashboards:publisher"


async def lease_take() -> bool:
    """Take the publisher lease if it is free, or renew it if this process holds it."""
    if not settings.REDIS_URL:
        return True
    ttl_ms = max(1, int(settings.DASHBOARD_LEASE_SECONDS * 1000))
    held = await get_redis().eval(_TAKE_LEASE, 1, lease_key(), PROCESS_ID, ttl_ms)
    return bool(held)


async def lease_holder() -> str | None:
    """The id of the process holding the lease (this one without Redis), or None."""
    if not settings.REDIS_URL:
        return PROCESS_ID
    holder = await get_redis().get(lease_key())
    return holder.decode() if isinstance(holder, bytes) else holder


class Publisher:
    """The loop of one server process: lease, then (if held) read and publish."""

    def __init__(self) -> None:
        self.holding = False
        self.probe_channel: str | None = None
        self.probe_count = 0

    async def step(self) -> None:
        """One tick: keep or take the lease; as holder, publish what changed."""
        held = await lease_take()
        if held != self.holding:
            self.holding = held
            if held:
                log.info("dashboards publisher: %s holds the lease", PROCESS_ID)
            else:
                log.info("dashboards publisher: %s lost the lease", PROCESS_ID)
        if held:
            probes = {"channel_layer_latency_ms": await self.layer_latency_ms()}
            await db_parallel(dashboards_publish)(publisher=PROCESS_ID, probes=probes)

    async def layer_latency_ms(self) -> float | None:
        """Milliseconds for a message to reach this process through the channel layer."""
        layer = channel_layer()
        try:
            if self.probe_channel is None:
                self.probe_channel = await layer.new_channel(prefix="dashboards.probe.")
            self.probe_count += 1
            started = time.perf_counter()
            await layer.send(self.probe_channel, {"type": "probe", "n": self.probe_count})
            async with asyncio.timeout(2):
                while (await layer.receive(self.probe_channel)).get("n") != self.probe_count:
                    pass  # an answer to an earlier probe that timed out
            return round((time.perf_counter() - started) * 1000, 1)
        except Exception:
            # A pub/sub layer drops the channel's subscription on a timeout: start afresh.
            self.probe_channel = None
            return None

    async def run(self) -> None:
        """Tick forever, one tick per DASHBOARD_UPDATE_SECONDS, surviving failures."""
        interval = settings.DASHBOARD_UPDATE_SECONDS
        next_at = time.monotonic()
        while True:
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if time.monotonic() - next_at > interval:
                next_at = time.monotonic()  # fell behind (a slow tick): don't burst to catch up
            await self.step_safely()

    async def step_safely(self) -> None:
        try:
            await self.step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("dashboards publisher tick failed")


_publishers: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[Publisher, asyncio.Task[None]]
] = weakref.WeakKeyDictionary()


async def publisher_ensure_started() -> Publisher:
    """Start this process's publisher loop (first call on a loop does one tick at once)."""
    loop = asyncio.get_running_loop()
    found = _publishers.get(loop)
    if found is not None:
        return found[0]
    publisher = Publisher()
    task = loop.create_task(publisher.run())
    _publishers[loop] = (publisher, task)
    await publisher.step_safely()
    return publisher
