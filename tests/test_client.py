"""The test client runs the application as a server would."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels import db as channels_db
from django.db import close_old_connections

from tests.conftest import Connect
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def room() -> Any:
    return RoomFactory(slug="lobby")


async def test_connection_cleanup_stays_on_while_a_test_waits_on_a_socket(
    connect: Connect, room: Any, user: Any
) -> None:
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    seen: list[Any] = []
    # Runs while the test waits for the pong, when the application's ORM calls run.
    asyncio.get_running_loop().call_soon(lambda: seen.append(channels_db.close_old_connections))
    await client.send({"action": "ping"})
    await client.receive_type("pong")
    assert seen == [close_old_connections]
