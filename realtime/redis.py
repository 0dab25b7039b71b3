"""One asyncio Redis client per event loop (daphne runs one loop; tests run many).

Sync code (REST views, forms) uses `get_redis_sync()`: one blocking client per
process, whose pool threads share.
"""

from __future__ import annotations

import asyncio
import weakref

import redis
import redis.asyncio as aioredis
from django.conf import settings

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
    weakref.WeakKeyDictionary()
)


def get_redis() -> aioredis.Redis:
    """The client for REDIS_URL on the running loop. Only call when REDIS_URL is set."""
    assert settings.REDIS_URL, "REDIS_URL is not set"
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        # A blocking pool waits for a free connection instead of failing a burst.
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=settings.REDIS_MAX_CONNECTIONS, timeout=10
        )
        client = _clients[loop] = aioredis.Redis(connection_pool=pool)
    return client


_sync_clients: dict[str, redis.Redis] = {}


def get_redis_sync() -> redis.Redis:
    """The blocking client for REDIS_URL, for sync callers. Only call when REDIS_URL is set."""
    assert settings.REDIS_URL, "REDIS_URL is not set"
    client = _sync_clients.get(settings.REDIS_URL)
    if client is None:
        pool = redis.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=settings.REDIS_MAX_CONNECTIONS, timeout=10
        )
        client = _sync_clients.setdefault(settings.REDIS_URL, redis.Redis(connection_pool=pool))
    return client
