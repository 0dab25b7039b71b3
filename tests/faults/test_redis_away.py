"""Redis goes away under a running server: what the database holds still works.

A private redis-server (tests/faults/redis_instance.py) is stopped under a
daphne process. A chat post made meanwhile is stored and acked, and the
socket stays open; the per-user rate limit still holds, on the process's own
bucket (docs/security.md, "When Redis is away").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from tests.conftest import token_for
from tests.factories import RoomFactory, UserFactory
from tests.wsclient import WsClient

from .redis_instance import REDIS_SERVER, PrivateRedis

pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server"),
]


@pytest.fixture
def redis(tmp_path: Any) -> Iterator[PrivateRedis]:
    instance = PrivateRedis(tmp_path)
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def alice(transactional_db: None) -> Any:
    RoomFactory(slug="lobby", name="Lobby")
    return UserFactory(username="alice")


async def test_a_post_while_redis_is_away_is_stored_and_acked(
    servers: Any, redis: PrivateRedis, alice: Any
) -> None:
    server = servers(extra_env={"REDIS_URL": redis.url})
    token = await database_sync_to_async(token_for)(alice)
    client = await WsClient.open(f"{server.ws}/ws/chat/lobby/?token={token}")
    await client.receive_type("history")
    redis.stop()

    await client.send({"action": "send", "message": "while away", "client_id": "a1", "ref": 1})
    ack = await client.receive_type("ack", timeout=15)
    assert ack["client_id"] == "a1"
    stored = await database_sync_to_async(list)(Message.objects.values_list("body", flat=True))
    assert stored == ["while away"]
    await client.send({"action": "ping", "ref": "p"})
    assert (await client.receive_type("pong"))["ref"] == "p"
    await client.close()


async def test_the_rate_limit_holds_while_redis_is_away(
    servers: Any, redis: PrivateRedis, alice: Any
) -> None:
    limits = {"RATE_LIMIT_BURST": 5, "RATE_LIMIT_PER_SECOND": 0.5}
    server = servers(extra_env={"REDIS_URL": redis.url, **limits})
    token = await database_sync_to_async(token_for)(alice)
    client = await WsClient.open(f"{server.ws}/ws/chat/lobby/?token={token}")
    await client.receive_type("history")
    redis.stop()

    for n in range(10):
        await client.send({"action": "send", "message": f"m{n}", "client_id": f"c{n}", "ref": n})
    answers: dict[Any, str] = {}
    while len(answers) < 10:
        frame = await client.receive(timeout=15)
        if frame.get("ref") is not None and frame["type"] in ("ack", "error"):
            answers[frame["ref"]] = frame.get("code", "ack")
    # The burst of 5 passes (and a token refilled meanwhile, at most); the rest wait.
    acked = [ref for ref, answer in answers.items() if answer == "ack"]
    assert acked in ([0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5])
    assert {answers[ref] for ref in answers if ref not in acked} == {"rate_limited"}
    await client.close()
