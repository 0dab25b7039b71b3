"""The chat socket as a client sees it: greeting, send/ack/broadcast, history, typing, reads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat import consumers as chat_consumers
from chat import services
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


async def _post_and_leave(connect: Connect, user: Any, *, count: int) -> None:
    """Post `count` messages to the lobby from a socket of `user`, then close it."""
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    for n in range(count):
        await client.send({"action": "send", "message": f"m{n}"})
        await client.receive_type("ack")
    await client.close()


async def test_since_returns_exactly_what_was_missed(
    connect: Connect, room: Any, user: Any
) -> None:
    await _post_and_leave(connect, user, count=5)
    again = await connect("/ws/chat/lobby/", user, query="since=2")
    hello = await again.receive_type("hello")
    assert hello["last_seq"] == 5
    history = await again.receive_type("history")
    assert [m["seq"] for m in history["messages"]] == [3, 4, 5]
    assert history["has_more"] is False


async def test_a_resume_with_nothing_new_gets_an_empty_history_then_what_follows(
    connect: Connect, room: Any, user: Any, other_user: Any
) -> None:
    await _post_and_leave(connect, user, count=3)
    again = await connect("/ws/chat/lobby/", user, query="since=3")
    assert (await again.receive_type("hello"))["last_seq"] == 3
    history = await again.receive_type("history")
    assert history["messages"] == [] and history["has_more"] is False
    sender = await connect("/ws/chat/lobby/", other_user)
    await sender.receive_type("history")
    await sender.send({"action": "send", "message": "after"})
    await sender.receive_type("ack")
    message = await again.receive_type("message")
    assert (message["seq"], message["message"]) == (4, "after")


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


async def test_sockets_connecting_together_each_get_their_own_greeting(connect: Connect) -> None:
    def setup() -> list[Any]:
        poster = UserFactory(username="poster")
        for slug in ("north", "south"):
            room = RoomFactory(slug=slug)
            for n in range(3):
                services.room_post_message(room=room, user=poster, body=f"{slug} {n}")
        return [UserFactory(username=f"u{n}") for n in range(8)]

    users = await database_sync_to_async(setup)()
    slugs = ["north", "south"] * 4
    clients = await asyncio.gather(
        *(connect(f"/ws/chat/{slug}/", user) for slug, user in zip(slugs, users, strict=True))
    )
    for client, slug, user in zip(clients, slugs, users, strict=True):
        hello = await client.receive()
        history = await client.receive()
        assert hello["type"] == "hello" and history["type"] == "history"
        assert hello["room"]["slug"] == slug
        assert hello["user"] == {"id": user.pk, "username": user.username}
        assert {"id": user.pk, "username": user.username} in hello["online"]
        assert hello["last_seq"] == 3
        assert [m["message"] for m in history["messages"]] == [f"{slug} {n}" for n in range(3)]


async def test_the_greeting_goes_out_before_broadcasts_held_meanwhile(
    connect: Connect, room: Any, user: Any, other_user: Any
) -> None:
    bob = await connect("/ws/chat/lobby/", other_user)
    await bob.receive_type("history")
    posted = asyncio.Event()
    real_greeting = chat_consumers._greeting

    async def greeting_after_a_post(opening: Any) -> Any:
        greeting = await real_greeting(opening)
        # A message published after the greeting was read, before it is sent.
        await bob.send({"action": "send", "message": "meanwhile"})
        await bob.receive_type("message")
        posted.set()
        return greeting

    chat_consumers._greeting = greeting_after_a_post  # type: ignore[assignment]
    try:
        alice = await connect("/ws/chat/lobby/", user)
        await asyncio.wait_for(posted.wait(), 10)
        kinds = [(await alice.receive())["type"] for _ in range(3)]
    finally:
        chat_consumers._greeting = real_greeting
    assert kinds == ["hello", "history", "message"]
