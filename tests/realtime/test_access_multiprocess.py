"""A change of access reaches open sockets on every server process (real daphne, one Redis)."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from tests.conftest import requires_redis, token_for
from tests.factories import RoomFactory, UserFactory
from tests.wsclient import WsClient

pytestmark = [requires_redis, pytest.mark.multiprocess]


@pytest.fixture
def people(transactional_db: None) -> dict[str, Any]:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    room = RoomFactory(slug="secret", is_private=True, members=[alice, bob])
    return {"room": room, "alice": alice, "bob": bob}


async def test_membership_removed_elsewhere_closes_sockets_on_every_process(
    servers: Any, people: Any
) -> None:
    one, two = servers(), servers()
    alice_token = await database_sync_to_async(token_for)(people["alice"])
    bob_token = await database_sync_to_async(token_for)(people["bob"])
    alice = await WsClient.open(f"{one.ws}/ws/chat/secret/?token={alice_token}")
    bob_here = await WsClient.open(f"{one.ws}/ws/chat/secret/?token={bob_token}")
    bob_there = await WsClient.open(f"{two.ws}/ws/chat/secret/?token={bob_token}")
    for client in (alice, bob_here, bob_there):
        await client.receive_type("history")

    # Made from this test process, as a management command or a shell would.
    await database_sync_to_async(people["room"].members.remove)(people["bob"])
    await alice.send({"action": "send", "message": "bob is gone", "client_id": "a1"})
    await alice.receive_type("ack")

    assert await bob_here.close_code() == 4403
    assert await bob_there.close_code() == 4403
    for bob in (bob_here, bob_there):
        assert not any(frame.get("message") == "bob is gone" for frame in bob.pending)
    await alice.send({"action": "ping", "ref": "p"})
    assert (await alice.receive_type("pong"))["ref"] == "p"
    await alice.conn.close()


async def test_deactivation_closes_every_socket_of_the_user_on_every_process(
    servers: Any, people: Any
) -> None:
    one, two = servers(), servers()
    token = await database_sync_to_async(token_for)(people["bob"])
    sockets = [
        await WsClient.open(f"{server.ws}/ws/{path}?token={token}")
        for server in (one, two)
        for path in ("chat/secret/", "notifications/")
    ]
    for client in sockets:
        await client.receive_type("hello")

    bob = people["bob"]
    bob.is_active = False
    await database_sync_to_async(bob.save)()

    for client in sockets:
        assert await client.close_code() == 4401
