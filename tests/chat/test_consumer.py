"""The chat socket as a client sees it: greeting, send/ack/broadcast, history, typing, reads."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat.models import Message, ReadMarker
from tests.conftest import Connect
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _ids(users: list[dict[str, Any]] | None) -> list[int]:
    return [user["id"] for user in users or []]


@pytest.fixture
def room() -> Any:
    return RoomFactory(slug="lobby", name="Lobby")


async def test_greeting_is_hello_then_history(connect: Connect, room: Any, user: Any) -> None:
    client = await connect("/ws/chat/lobby/", user)
    hello = await client.receive()
    assert hello["type"] == "hello"
    assert hello["room"] == {"slug": "lobby", "name": "Lobby"}
    assert hello["user"] == {"id": user.pk, "username": "alice"}
    assert hello["online"] == [{"id": user.pk, "username": "alice"}]
    assert hello["last_seq"] == 0
    history = await client.receive()
    assert history == {"type": "history", "messages": [], "has_more": False}


async def test_send_is_acked_and_broadcast_to_everyone(
    connect: Connect, room: Any, user: Any, other_user: Any
) -> None:
    alice = await connect("/ws/chat/lobby/", user)
    bob = await connect("/ws/chat/lobby/", other_user)
    await alice.receive_type("history")
    await bob.receive_type("history")
    await alice.send({"action": "send", "message": "hi <b>bob</b>", "client_id": "c1", "ref": 7})
    ack = await alice.receive_type("ack")
    assert ack["ref"] == 7 and ack["client_id"] == "c1"
    for client in (alice, bob):
        message = await client.receive_type("message")
        assert message["id"] == ack["id"]
        assert message["seq"] == 1
        assert message["message"] == "hi <b>bob</b>"
        assert message["user"] == {"id": user.pk, "username": "alice"}
        assert message["room"] == "lobby"
        assert isinstance(message["timestamp"], int)
    stored = await database_sync_to_async(Message.objects.get)(pk=ack["id"])
    assert stored.body == "hi <b>bob</b>" and stored.seq == 1


async def test_alias_send_message(connect: Connect, room: Any, user: Any) -> None:
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    await client.send({"action": "sendMessage", "message": "hello"})
    assert (await client.receive_type("message"))["message"] == "hello"


async def test_resend_with_same_client_id_is_not_duplicated(
    connect: Connect, room: Any, user: Any
) -> None:
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    await client.receive_type("presence")  # its own arrival, announced to the room
    await client.send({"action": "send", "message": "once", "client_id": "abc"})
    first = await client.receive_type("ack")
    await client.receive_type("message")
    await client.send({"action": "send", "message": "once", "client_id": "abc"})
    second = await client.receive_type("ack")
    assert second["id"] == first["id"]
    assert await client.nothing()
    assert await database_sync_to_async(Message.objects.count)() == 1


async def test_since_returns_exactly_what_was_missed(
    connect: Connect, room: Any, user: Any
) -> None:
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    for n in range(5):
        await client.send({"action": "send", "message": f"m{n}"})
        await client.receive_type("ack")
    await client.close()
    again = await connect("/ws/chat/lobby/", user, query="since=2")
    hello = await again.receive_type("hello")
    assert hello["last_seq"] == 5
    history = await again.receive_type("history")
    assert [m["seq"] for m in history["messages"]] == [3, 4, 5]
    assert history["has_more"] is False


async def test_history_pages(connect: Connect, room: Any, user: Any) -> None:
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    for n in range(7):
        await client.send({"action": "send", "message": f"m{n}"})
        await client.receive_type("ack")
    await client.send({"action": "history", "before": 6, "limit": 3, "ref": "h"})
    page = await client.receive_type("history")
    assert page["ref"] == "h"
    assert [m["seq"] for m in page["messages"]] == [3, 4, 5]
    assert page["has_more"] is True
    await client.send({"action": "history", "after": 5, "limit": 10})
    page = await client.receive_type("history")
    assert [m["seq"] for m in page["messages"]] == [6, 7] and page["has_more"] is False


async def test_typing_goes_to_the_others_only(
    connect: Connect, room: Any, user: Any, other_user: Any
) -> None:
    alice = await connect("/ws/chat/lobby/", user)
    bob = await connect("/ws/chat/lobby/", other_user)
    await alice.receive_type("history")
    await bob.receive_type("history")
    await alice.receive_until("presence", lambda f: other_user.pk in _ids(f.get("joined")))
    await alice.send({"action": "typing", "typing": True})
    typing = await bob.receive_type("typing")
    assert typing == {
        "type": "typing",
        "user": {"id": user.pk, "username": "alice"},
        "typing": True,
    }
    assert await alice.nothing()


async def test_read_marker_is_stored_and_broadcast(connect: Connect, room: Any, user: Any) -> None:
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    await client.send({"action": "send", "message": "x"})
    await client.receive_type("ack")
    await client.send({"action": "read", "last_seq": 1})
    read = await client.receive_type("read")
    assert read["last_seq"] == 1 and read["user"]["id"] == user.pk
    marker = await database_sync_to_async(ReadMarker.objects.get)(user=user)
    assert marker.last_seq == 1


async def test_presence_counts_tabs_once(connect: Connect, room: Any, user: Any) -> None:
    watching = await database_sync_to_async(UserFactory)()
    watcher = await connect("/ws/chat/lobby/", watching)
    await watcher.receive_type("history")
    await watcher.receive_until("presence", lambda f: watching.pk in _ids(f.get("joined")))
    tab1 = await connect("/ws/chat/lobby/", user)
    joined = await watcher.receive_type("presence")
    assert joined == {"type": "presence", "joined": [{"id": user.pk, "username": "alice"}]}
    tab2 = await connect("/ws/chat/lobby/", user)
    await tab2.receive_type("history")
    await tab1.close()
    assert await watcher.nothing(0.3)
    await tab2.close()
    left = await watcher.receive_type("presence")
    assert left == {"type": "presence", "left": [{"id": user.pk, "username": "alice"}]}


async def test_ping(connect: Connect, room: Any, user: Any) -> None:
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    await client.send({"action": "ping", "ref": 1})
    assert await client.receive_type("pong") == {"type": "pong", "ref": 1}
