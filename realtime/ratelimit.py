"""Per-user token buckets that hold across all of a user's sockets and requests,
and counters of events in a time window (failed logins).

With REDIS_URL they live in Redis, so a limit holds across every server
process; without it, in this process (the embedded, one-process set-up).
Async callers (sockets) and sync callers (REST views, page forms) take from
the same buckets.

While Redis cannot be reached, each process takes from its own buckets
instead (docs/security.md, "When Redis is away"): writes that the database
can store still go through, and every user keeps a limit, of the same rate
per process. A warning is logged once when Redis goes and once when it is
back.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings

from .redis import get_redis, get_redis_sync

# KEYS[1] bucket; ARGV: rate/s, burst, now (ms), cost. Returns ms to wait (0: allowed).
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
"""

# KEYS[1] counter; ARGV: now (ms), window (ms), add (1: count one, 0: only look).
# Returns {count in the current window, ms until it ends}.
_COUNT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'count', 'ends')
local count = tonumber(state[1]) or 0
local ends = tonumber(state[2]) or 0
if ends <= now then
  count = 0
  ends = now + window
end
if ARGV[3] == '1' then
  count = count + 1
  redis.call('HSET', KEYS[1], 'count', count, 'ends', ends)
  redis.call('PEXPIRE', KEYS[1], ends - now)
end
return {count, ends - now}
"""

# In-process state: bucket key -> (tokens, ts ms, expires ms); counter key -> (count, ends ms).
_buckets: dict[str, tuple[float, float, float]] = {}
_counters: dict[str, tuple[int, float]] = {}
# Sync callers run on threads beside the event loop; the lock is never held across an await.
_lock = threading.Lock()
# Expired entries are dropped at most once a minute, once the stores hold this many.
_PRUNE_AT = 10_000
_PRUNE_EVERY_MS = 60_000
_pruned_at = 0.0


def _prune(now_ms: float) -> None:
    """Drop expired entries, so the in-process stores do not only grow. Hold `_lock`."""
    global _pruned_at
    if len(_buckets) + len(_counters) > _PRUNE_AT and now_ms - _pruned_at > _PRUNE_EVERY_MS:
        _pruned_at = now_ms
        for store in (_buckets, _counters):
            for key in [key for key, entry in store.items() if entry[-1] <= now_ms]:
                del store[key]


def _now_ms() -> float:
    # Buckets and windows run on this clock, also in Redis (scripts are given `now`).
    return time.time() * 1000


def _take_local(key: str, rate: float, burst: int, now_ms: float) -> int:
    with _lock:
        _prune(now_ms)
        tokens, ts, _ = _buckets.get(key, (float(burst), now_ms, 0.0))
        tokens = min(float(burst), tokens + max(0.0, now_ms - ts) * rate / 1000)
        wait = 0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = int(-(-(1 - tokens) * 1000 // rate))
        _buckets[key] = (tokens, now_ms, now_ms + burst * 1000 / rate + 1000)
    return wait


log = logging.getLogger(__name__)

# What a command to an unreachable Redis raises.
REDIS_DOWN = (redis.RedisError, OSError)
_redis_away = False


def _away(exc: BaseException) -> None:
    """Redis could not be reached: note it (one warning per outage)."""
    global _redis_away
    if not _redis_away:
        _redis_away = True
        log.warning("Redis unreachable (%s); rate limits are per process until it is back", exc)


def _back() -> None:
    global _redis_away
    if _redis_away:
        _redis_away = False
        log.warning("Redis reachable again; rate limits are shared again")


async def _eval(script: str, key: str, *args: int | float) -> Any:
    """The script's result on Redis; None while Redis cannot be reached (use this process's)."""
    try:
        result = await get_redis().eval(script, 1, key, *args)
    except REDIS_DOWN as exc:
        _away(exc)
        return None
    _back()
    return result


def _eval_sync(script: str, key: str, *args: int | float) -> Any:
    """`_eval` for sync callers (the blocking client)."""
    try:
        result = get_redis_sync().eval(script, 1, key, *args)
    except REDIS_DOWN as exc:
        _away(exc)
        return None
    _back()
    return result


def _bucket_key(key: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:rate:{key}"


async def rate_take(*, key: str, rate: float, burst: int) -> int:
    """Take one token from bucket `key`; 0 when allowed, else milliseconds until one frees."""
    now = _now_ms()
    if settings.REDIS_URL:
        wait = await _eval(_TAKE, _bucket_key(key), rate, burst, int(now), 1)
        if wait is not None:
            return int(wait)
    return _take_local(_bucket_key(key), rate, burst, now)


def rate_take_sync(*, key: str, rate: float, burst: int) -> int:
    """`rate_take` for sync callers (blocking Redis client): the same bucket, the same answer."""
    now = _now_ms()
    if settings.REDIS_URL:
        wait = _eval_sync(_TAKE, _bucket_key(key), rate, burst, int(now), 1)
        if wait is not None:
            return int(wait)
    return _take_local(_bucket_key(key), rate, burst, now)


def _message_bucket(user_id: int | str) -> tuple[str, float, int]:
    return f"msg:{user_id}", settings.RATE_LIMIT_PER_SECOND, settings.RATE_LIMIT_BURST


async def message_rate_take(user_id: int | str) -> int:
    """The PROTOCOL.md message limit: RATE_LIMIT_PER_SECOND per user, burst RATE_LIMIT_BURST.

    Socket frames and REST and page writes of one user share this bucket.
    """
    key, rate, burst = _message_bucket(user_id)
    return await rate_take(key=key, rate=rate, burst=burst)


def message_rate_take_sync(user_id: int | str) -> int:
    """`message_rate_take` for sync callers: REST views and page forms."""
    key, rate, burst = _message_bucket(user_id)
    return rate_take_sync(key=key, rate=rate, burst=burst)


def _counter_key(key: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:count:{key}"


def _window_local(key: str, now_ms: float, window_ms: int, add: bool) -> tuple[int, int]:
    with _lock:
        _prune(now_ms)
        count, ends = _counters.get(key, (0, 0.0))
        if ends <= now_ms:
            count, ends = 0, now_ms + window_ms
        if add:
            count += 1
            _counters[key] = (count, ends)
    return count, int(ends - now_ms)


def _window(key: str, window_ms: int, add: bool) -> tuple[int, int]:
    now = _now_ms()
    if settings.REDIS_URL:
        found = _eval_sync(_COUNT, _counter_key(key), int(now), window_ms, int(add))
        if found is not None:
            count, left = found
            return int(count), int(left)
    return _window_local(_counter_key(key), now, window_ms, add)


def window_count(*, key: str) -> tuple[int, int]:
    """Events counted under `key` in its current window, and ms until it ends. Sync."""
    return _window(key, 0, add=False)


def window_add(*, key: str, window_seconds: float) -> int:
    """Count one event under `key`; a window opens at the first and lasts `window_seconds`.

    Returns the count in the window, this event included. Sync.
    """
    return _window(key, int(window_seconds * 1000), add=True)[0]


def window_clear(*, key: str) -> None:
    """Forget the events counted under `key`. Sync."""
    if not settings.REDIS_URL:
        with _lock:
            _counters.pop(_counter_key(key), None)
        return
    get_redis_sync().delete(_counter_key(key))
