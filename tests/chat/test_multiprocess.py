"""Chat across two real daphne processes on one Redis."""

from __future__ import annotations

import time
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from tests.conftest import requires_redis, token_for
from tests.factories import RoomFactory, UserFactory
from tests.wsclient import WsClient

pytestmark = [requires_redis, pytest.mark.multiprocess]


@pytest.fixture
def people(transactional_db: None) -> dict[str, Any]:
    room = RoomFactory(slug="lobby", name="Lobby")
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    return {
        "room": room,
        "alice": alice,
        "bob": bob,
        "tokens": {"alice": token_for(alice), "bob": token_for(bob)},
    }


async def test_message_sent_on_one_process_reaches_the_other(servers: Any, people: Any) -> None:
    one, two = servers(), servers()
    alice = await WsClient.open(f"{one.ws}/ws/chat/lobby/?token={people['tokens']['alice']}")
    bob = await WsClient.open(f"{two.ws}/ws/chat/lobby/?token={people['tokens']['bob']}")
    await alice.receive_type("history")
    await bob.receive_type("history")
    # Presence crosses processes: alice (on one) hears bob (on two) join.
    bob_json = {"id": people["bob"].pk, "username": "bob"}
    await alice.receive_until("presence", lambda f: bob_json in f.get("joined", []))
    await alice.send({"action": "send", "message": "across", "client_id": "x1"})
    got = await bob.receive_type("message")
    assert got["message"] == "across" and got["seq"] == 1
    assert (await alice.receive_type("ack"))["client_id"] == "x1"
    await bob.close()
    left = await alice.receive_until("presence", lambda f: "left" in f)
    assert left["left"] == [bob_json]
    await alice.close()


async def test_rate_limit_holds_across_processes(servers: Any, people: Any) -> None:
    one, two = servers(), servers()
    token = people["tokens"]["alice"]
    tabs = [
        await WsClient.open(f"{server.ws}/ws/chat/lobby/?token={token}") for server in (one, two)
    ]
    for tab in tabs:
        await tab.receive_type("history")
    # Burst is 20 per user, refilled at 10/s: 15 frames from each of two
    # processes cannot all pass, as they would with a bucket per process.
    started = time.monotonic()
    for n in range(15):
        for index, tab in enumerate(tabs):
            await tab.send({"action": "send", "message": f"{index}-{n}", "ref": n})
    outcomes = {"ack": 0, "error": 0}
    for tab in tabs:
        got = 0
        while got < 15:
            frame = await tab.receive()
            if frame["type"] == "ack":
                outcomes["ack"] += 1
                got += 1
            elif frame["type"] == "error":
                assert frame["code"] == "rate_limited" and frame["retry_after_ms"] > 0
                outcomes["error"] += 1
                got += 1
    elapsed = time.monotonic() - started
    assert outcomes["ack"] <= 20 + int(10 * elapsed) + 1  # the burst, plus what refilled
    assert outcomes["error"] > 0
    stored = await database_sync_to_async(Message.objects.count)()
    assert stored == outcomes["ack"]
    for tab in tabs:
        await tab.close()
