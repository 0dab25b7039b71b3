"""Per-user token buckets that hold across all of a user's sockets.

With REDIS_URL the bucket lives in Redis, so the limit holds across every
server process; without it, in this process (the embedded, one-process set-up).
"""

from __future__ import annotations

import time

from django.conf import settings

from .redis import get_redis

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

_local: dict[str, tuple[float, float]] = {}


def _take_local(key: str, rate: float, burst: int, now_ms: float) -> int:
    tokens, ts = _local.get(key, (float(burst), now_ms))
    tokens = min(float(burst), tokens + max(0.0, now_ms - ts) * rate / 1000)
    wait = 0
    if tokens >= 1:
        tokens -= 1
    else:
        wait = int(-(-(1 - tokens) * 1000 // rate))
    _local[key] = (tokens, now_ms)
    return wait


async def rate_take(*, key: str, rate: float, burst: int) -> int:
    """Take one token from bucket `key`; 0 when allowed, else milliseconds until one frees."""
    now = time.time() * 1000
    if not settings.REDIS_URL:
        return _take_local(key, rate, burst, now)
    client = get_redis()
    wait = await client.eval(
        _TAKE, 1, f"{settings.REDIS_KEY_PREFIX}:rate:{key}", rate, burst, int(now), 1
    )
    return int(wait)


async def message_rate_take(user_id: int) -> int:
    """The PROTOCOL.md message limit: RATE_LIMIT_PER_SECOND per user, burst RATE_LIMIT_BURST."""
    return await rate_take(
        key=f"msg:{user_id}", rate=settings.RATE_LIMIT_PER_SECOND, burst=settings.RATE_LIMIT_BURST
    )
