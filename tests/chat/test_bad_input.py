"""Bad input on the chat socket: a clear error frame or close code, and nothing stored."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from chat.models import Message
from realtime.models import Connection
from tests.conftest import Client, Connect
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def room() -> Any:
    return RoomFactory(slug="lobby", name="Lobby")


async def _joined(connect: Connect, user: Any) -> Client:
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    return client


async def _messages() -> int:
    return await database_sync_to_async(Message.objects.count)()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('"text"', "bad_json"),
        ('{"action": "fly"}', "unknown_action"),
        ('{"no_action": 1}', "unknown_action"),
        ('{"action": "send"}', "invalid"),
        ('{"action": "send", "message": 5}', "invalid"),
        ('{"action": "send", "message": "   "}', "invalid"),
        ('{"action": "send", "message": ""}', "invalid"),
        ('{"action": "send", "message": "' + "x" * 4001 + '"}', "invalid"),
        ('{"action": "send", "message": "ok", "client_id": "' + "c" * 65 + '"}', "invalid"),
        ('{"action": "send", "message": "ok", "client_id": 12}', "invalid"),
        ('{"action": "send", "message": "\\ud800"}', "invalid"),
        ('{"action": "history", "limit": 0}', "invalid"),
        ('{"action": "history", "limit": 101}', "invalid"),
        ('{"action": "history", "before": "1"}', "invalid"),
        ('{"action": "history", "before": 3, "after": 1}', "invalid"),
        ('{"action": "typing", "typing": "yes"}', "invalid"),
        ('{"action": "read"}', "invalid"),
        ('{"action": "read", "last_seq": -1}', "invalid"),
        ('{"action": "read", "last_seq": true}', "invalid"),
    ],
)
async def test_bad_frame_gets_error_and_changes_nothing(
    connect: Connect, room: Any, user: Any, raw: str, code: str
) -> None:
    client = await _joined(connect, user)
    await client.send(raw)
    error = await client.receive_type("error")
    assert error["code"] == code
    assert error["message"]
    assert await _messages() == 0
    # The socket stays open and usable.
    await client.send({"action": "ping", "ref": "after"})
    assert await client.receive_type("pong") == {"type": "pong", "ref": "after"}


async def test_error_names_the_field_and_echoes_ref(connect: Connect, room: Any, user: Any) -> None:
    client = await _joined(connect, user)
    await client.send({"action": "send", "message": 5, "ref": "r1"})
    error = await client.receive_type("error")
    assert error["ref"] == "r1" and "message" in error["message"]


async def test_binary_frame_is_refused(connect: Connect, room: Any, user: Any) -> None:
    client = await _joined(connect, user)
    await client.ws.send_to(bytes_data=b"\x00\x01")
    assert (await client.receive_type("error"))["code"] == "bad_json"


async def test_frame_over_64_kib_closes_with_4009(connect: Connect, room: Any, user: Any) -> None:
    client = await _joined(connect, user)
    await client.send('{"action": "send", "message": "' + "é" * 40_000 + '"}')
    assert await client.closed_with() == 4009
    assert await _messages() == 0


async def _refusal(connect: Connect, path: str, **kwargs: Any) -> int:
    client = await connect(path, **kwargs)
    return await client.closed_with()


async def test_no_token_and_no_origin_is_4401(connect: Connect, room: Any) -> None:
    assert await _refusal(connect, "/ws/chat/lobby/") == 4401


async def test_bad_token_is_4401(connect: Connect, room: Any) -> None:
    assert await _refusal(connect, "/ws/chat/lobby/", query="token=not-a-jwt") == 4401


async def test_expired_token_is_4401(connect: Connect, room: Any, user: Any) -> None:
    expired = jwt.encode(
        {"sub": str(user.pk), "exp": int(time.time()) - 10}, settings.JWT_SECRET, "HS256"
    )
    assert await _refusal(connect, "/ws/chat/lobby/", query=f"token={expired}") == 4401


async def test_token_signed_with_another_key_is_4401(
    connect: Connect, room: Any, user: Any
) -> None:
    forged = jwt.encode(
        {"sub": str(user.pk), "exp": int(time.time()) + 60}, "another-key-" * 4, "HS256"
    )
    assert await _refusal(connect, "/ws/chat/lobby/", query=f"token={forged}") == 4401


async def test_foreign_origin_is_refused(connect: Connect, room: Any, user: Any) -> None:
    headers = [(b"origin", b"https://evil.example")]
    assert await _refusal(connect, "/ws/chat/lobby/", user=user, headers=headers) == 4403


async def test_allowed_origin_with_token_is_accepted(
    connect: Connect, room: Any, user: Any
) -> None:
    headers = [(b"origin", b"http://localhost:8000"), (b"host", b"localhost:8000")]
    client = await connect("/ws/chat/lobby/", user, headers=headers)
    assert (await client.receive_type("hello"))["user"]["id"] == user.pk


async def test_private_room_refuses_non_member(connect: Connect, user: Any) -> None:
    stranger = await database_sync_to_async(UserFactory)()
    await database_sync_to_async(RoomFactory)(slug="secret", is_private=True, members=[stranger])
    assert await _refusal(connect, "/ws/chat/secret/", user=user) == 4403


async def test_private_room_admits_member(connect: Connect, user: Any) -> None:
    await database_sync_to_async(RoomFactory)(slug="secret", is_private=True, members=[user])
    client = await connect("/ws/chat/secret/", user)
    assert (await client.receive_type("hello"))["room"]["slug"] == "secret"


async def test_missing_room_is_4404(connect: Connect, user: Any) -> None:
    assert await _refusal(connect, "/ws/chat/nowhere/", user=user) == 4404


async def test_unknown_path_is_4404(connect: Connect, user: Any) -> None:
    assert await _refusal(connect, "/ws/nothing/here/", user=user) == 4404


@pytest.mark.parametrize("query", ["since=abc", "since=-1", "since=1&since=2", "since=%ff"])
async def test_malformed_query_is_4400(connect: Connect, room: Any, user: Any, query: str) -> None:
    assert await _refusal(connect, "/ws/chat/lobby/", user=user, query=query) == 4400


async def test_refusals_leave_no_registry_rows(connect: Connect, user: Any) -> None:
    await _refusal(connect, "/ws/chat/nowhere/", user=user)
    assert await database_sync_to_async(Connection.objects.count)() == 0


async def test_flooding_is_rate_limited_then_closed(
    connect: Connect, room: Any, user: Any, settings: Any
) -> None:
    settings.RATE_LIMIT_FLOOD_CLOSE = 10
    client = await _joined(connect, user)
    started = time.monotonic()
    for n in range(40):
        await client.send({"action": "send", "message": f"m{n}", "ref": n})
    assert await client.closed_with() == 4429
    errors = [f for f in client.seen if f.get("type") == "error"]
    assert errors and all(f["code"] == "rate_limited" for f in errors)
    assert all(f["retry_after_ms"] > 0 for f in errors)
    acks = [f for f in client.seen + client.pending if f.get("type") == "ack"]
    # The burst, plus what refilled while the frames were being handled.
    refilled = int(settings.RATE_LIMIT_PER_SECOND * (time.monotonic() - started)) + 1
    assert await _messages() == len(acks) <= settings.RATE_LIMIT_BURST + refilled


async def test_socket_cap_per_user_is_4429(
    connect: Connect, room: Any, user: Any, settings: Any
) -> None:
    settings.MAX_SOCKETS_PER_USER = 2
    await _joined(connect, user)
    await _joined(connect, user)
    assert await _refusal(connect, "/ws/chat/lobby/", user=user) == 4429
    assert await database_sync_to_async(Connection.objects.count)() == 2


async def test_nul_in_a_message_is_invalid(connect: Connect, room: Any, user: Any) -> None:
    client = await _joined(connect, user)
    await client.send({"action": "send", "message": "a\u0000b", "ref": "r"})
    error = await client.receive_type("error")
    assert error["code"] == "invalid" and "`message`" in error["message"]
    assert error["ref"] == "r"
    assert await _messages() == 0


@pytest.mark.parametrize("with_token", [True, False])
async def test_query_bytes_that_are_not_utf8_are_4400(
    connect: Connect, room: Any, user: Any, with_token: bool
) -> None:
    who = user if with_token else None
    assert await _refusal(connect, "/ws/chat/lobby/", user=who, query="a=%ff") == 4400


def test_private_room_page_shows_nothing_of_the_room(client: Any, user: Any) -> None:
    RoomFactory(slug="plans", name="Merger Plans", is_private=True, members=[UserFactory()])
    client.force_login(user)
    response = client.get("/rooms/plans/")
    assert response.status_code == 403
    assert "Merger Plans" not in response.content.decode()
