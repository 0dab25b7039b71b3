"""A service an action needs is away: `unavailable`, nothing applied, the socket stays open.

The database refusing a connection (a restart) or Redis unreachable reach the
action as exceptions; the client gets `unavailable` with `retry_after_ms`
and, resending with the same `client_id`, has its message stored once.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
from channels.db import database_sync_to_async
from django.db import OperationalError

from chat import services
from chat.models import Message
from tests.conftest import Connect
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "away",
    [
        OperationalError("server closed the connection unexpectedly"),
        redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379"),
    ],
    ids=["database", "redis"],
)
async def test_a_post_while_a_service_is_away_is_unavailable_then_stored_once(
    connect: Connect, user: Any, monkeypatch: pytest.MonkeyPatch, away: Exception
) -> None:
    await database_sync_to_async(RoomFactory)(slug="lobby")
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    post = services.room_post_message

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise away

    monkeypatch.setattr(services, "room_post_message", failing)
    await client.send({"action": "send", "message": "hi", "client_id": "c1", "ref": 1})
    error = await client.receive_type("error")
    assert error["code"] == "unavailable" and error["ref"] == 1
    assert error["retry_after_ms"] > 0
    assert str(away) not in error["message"]  # no server internals on the wire

    monkeypatch.setattr(services, "room_post_message", post)
    for ref in (2, 3):  # the resend, and a second one racing it
        await client.send({"action": "send", "message": "hi", "client_id": "c1", "ref": ref})
        assert (await client.receive_type("ack"))["ref"] == ref
    bodies = await database_sync_to_async(list)(Message.objects.values_list("body", flat=True))
    assert bodies == ["hi"]
    await client.close()
