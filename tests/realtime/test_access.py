"""Access holds for the life of a socket: any change of it reaches the open sockets.

Each change is made as an operator or a script would make it (the ORM, as
the admin, REST and commands do), and the test checks what the affected
client sees: a close with 4403 / 4404 / 4401 and nothing after the change,
while sockets that keep their access are untouched.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client as HttpClient

from chat import services as chat_services
from chat.models import Message
from collab.models import Document
from dashboards.models import Dashboard
from realtime.errors import FrameError
from realtime.tokens import token_issue
from tests.collab.factories import DocumentFactory
from tests.conftest import Client, Connect, token_for
from tests.dashboards.factories import DashboardFactory
from tests.factories import PASSWORD, RoomFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


@pytest.fixture
def alice(db: None) -> Any:
    return UserFactory(username="alice")


@pytest.fixture
def bob(db: None) -> Any:
    return UserFactory(username="bob")


async def _still_open(client: Client) -> None:
    """The socket answers a ping: it kept its access."""
    await client.send({"action": "ping", "ref": "still"})
    pong = await client.receive_type("pong")
    assert pong["ref"] == "still"


async def _chat(connect: Connect, slug: str, user: Any) -> Client:
    client = await connect(f"/ws/chat/{slug}/", user)
    await client.receive_type("history")
    return client


def _post(slug: str, user: Any, body: str) -> None:
    from chat.models import Room

    chat_services.room_post_message(room=Room.objects.get(slug=slug), user=user, body=body)


def _bodies(client: Client) -> list[str]:
    return [frame["message"] for frame in client.seen if frame.get("type") == "message"]


# --- chat ---------------------------------------------------------------------------


async def test_member_removed_from_private_room_is_closed_and_hears_nothing_after(
    connect: Connect, alice: Any, bob: Any
) -> None:
    room = await db(RoomFactory)(slug="secret", is_private=True, members=[alice, bob])
    alice_ws = await _chat(connect, "secret", alice)
    bob_ws = await _chat(connect, "secret", bob)

    await db(room.members.remove)(bob)
    await db(_post)("secret", alice, "after bob left")

    assert await bob_ws.closed_with() == 4403
    assert "after bob left" not in _bodies(bob_ws)
    await alice_ws.receive_until("message", lambda m: m["message"] == "after bob left")
    await _still_open(alice_ws)


async def test_member_removed_from_the_users_side_is_closed(
    connect: Connect, alice: Any, bob: Any
) -> None:
    room = await db(RoomFactory)(slug="secret", is_private=True, members=[alice, bob])
    bob_ws = await _chat(connect, "secret", bob)

    await db(bob.chat_rooms.remove)(room)

    assert await bob_ws.closed_with() == 4403


async def test_members_cleared_closes_every_non_member(
    connect: Connect, alice: Any, bob: Any
) -> None:
    room = await db(RoomFactory)(slug="secret", is_private=True, members=[alice, bob])
    alice_ws = await _chat(connect, "secret", alice)
    bob_ws = await _chat(connect, "secret", bob)

    await db(room.members.clear)()

    assert await alice_ws.closed_with() == 4403
    assert await bob_ws.closed_with() == 4403


async def test_room_made_private_closes_non_members_only(
    connect: Connect, alice: Any, bob: Any
) -> None:
    room = await db(RoomFactory)(slug="open", members=[alice])
    alice_ws = await _chat(connect, "open", alice)
    bob_ws = await _chat(connect, "open", bob)

    room.is_private = True
    await db(room.save)()

    assert await bob_ws.closed_with() == 4403
    await _still_open(alice_ws)


async def test_removed_member_cannot_post_even_before_the_close_arrives(
    connect: Connect, alice: Any, bob: Any
) -> None:
    room = await db(RoomFactory)(slug="secret", is_private=True, members=[alice, bob])
    bob_ws = await _chat(connect, "secret", bob)

    await db(room.members.remove)(bob)
    await bob_ws.send({"action": "send", "message": "sneaky", "client_id": "s"})

    assert await bob_ws.closed_with() == 4403
    assert not any(frame.get("type") == "ack" for frame in bob_ws.seen)
    assert not await db(Message.objects.filter(body="sneaky").exists)()


def test_removed_member_cannot_post_over_rest(alice: Any, bob: Any) -> None:
    room = RoomFactory(slug="secret", is_private=True, members=[alice, bob])
    room.members.remove(bob)
    with pytest.raises(FrameError) as refused:
        chat_services.room_post_message(room=room, user=bob, body="sneaky")
    assert refused.value.code == "forbidden"
    assert not Message.objects.filter(body="sneaky").exists()


async def test_room_deleted_closes_with_4404(connect: Connect, alice: Any) -> None:
    room = await db(RoomFactory)(slug="gone")
    alice_ws = await _chat(connect, "gone", alice)

    await db(room.delete)()

    assert await alice_ws.closed_with() == 4404


# --- collab -------------------------------------------------------------------------


async def test_document_made_private_closes_non_editors(
    connect: Connect, alice: Any, bob: Any
) -> None:
    document = await db(DocumentFactory)(owner=alice)
    owner_ws = await connect(f"/ws/collab/{document.pk}/", alice)
    reader_ws = await connect(f"/ws/collab/{document.pk}/", bob)
    await owner_ws.receive_type("hello")
    await reader_ws.receive_type("hello")

    document.access = Document.Access.PRIVATE
    await db(document.save)()
    await owner_ws.send(
        {"action": "op", "version": 0, "ops": [{"type": "insert", "position": 0, "text": "secret"}]}
    )
    await owner_ws.receive_type("ack")

    assert await reader_ws.closed_with() == 4403
    assert not any(frame.get("type") == "op" for frame in reader_ws.seen)
    await _still_open(owner_ws)


async def test_editor_removed_from_private_document_is_closed(
    connect: Connect, alice: Any, bob: Any
) -> None:
    document = await db(DocumentFactory)(owner=alice, access=Document.Access.PRIVATE, editors=[bob])
    bob_ws = await connect(f"/ws/collab/{document.pk}/", bob)
    await bob_ws.receive_type("hello")

    await db(document.editors.remove)(bob)

    assert await bob_ws.closed_with() == 4403


# --- dashboards and users -----------------------------------------------------------


async def test_staff_flag_removed_closes_staff_only_dashboards(connect: Connect) -> None:
    staff = await db(UserFactory)(username="ops", is_staff=True)
    await db(DashboardFactory)(slug="ops-board", staff_only=True)
    await db(DashboardFactory)(slug="everyone")
    secret = await connect("/ws/dashboards/ops-board/", staff)
    public = await connect("/ws/dashboards/everyone/", staff)
    await secret.receive_type("snapshot")
    await public.receive_type("snapshot")

    staff.is_staff = False
    await db(staff.save)()

    assert await secret.closed_with() == 4403
    await _still_open(public)


async def test_dashboard_made_staff_only_closes_non_staff(connect: Connect, alice: Any) -> None:
    board = await db(DashboardFactory)(slug="sales")
    alice_ws = await connect("/ws/dashboards/sales/", alice)
    await alice_ws.receive_type("snapshot")

    await db(Dashboard.objects.filter(pk=board.pk).first)()
    board.staff_only = True
    await db(board.save)()

    assert await alice_ws.closed_with() == 4403


@pytest.mark.parametrize("change", ["deactivate", "delete"])
async def test_deactivated_or_deleted_user_is_closed_everywhere(
    connect: Connect, alice: Any, change: str
) -> None:
    await db(RoomFactory)(slug="lobby")
    chat = await _chat(connect, "lobby", alice)
    inbox = await connect("/ws/notifications/", alice)
    await inbox.receive_type("hello")

    if change == "deactivate":
        alice.is_active = False
        await db(alice.save)()
    else:
        await db(alice.delete)()

    assert await chat.closed_with() == 4401
    assert await inbox.closed_with() == 4401


async def test_password_change_closes_sockets_and_voids_old_tokens(
    connect: Connect, alice: Any
) -> None:
    await db(RoomFactory)(slug="lobby")
    old_token = await db(token_for)(alice)
    chat = await _chat(connect, "lobby", alice)

    alice.set_password("a-brand-new-secret-1")
    await db(alice.save)()

    assert await chat.closed_with() == 4401
    refused = await connect(f"/ws/chat/lobby/?token={old_token}")
    assert await refused.closed_with() == 4401
    fresh = await _chat(connect, "lobby", alice)  # a token issued now works
    await _still_open(fresh)


async def test_saving_a_user_without_changing_access_leaves_sockets_alone(
    connect: Connect, alice: Any
) -> None:
    await db(RoomFactory)(slug="lobby")
    chat = await _chat(connect, "lobby", alice)

    alice.first_name = "Alice"
    await db(alice.save)()

    await _still_open(chat)
    assert await db(HttpClient().login)(username="alice", password=PASSWORD)
    await _still_open(chat)


async def test_logout_closes_the_sockets_of_that_session_only(connect: Connect, alice: Any) -> None:
    await db(RoomFactory)(slug="lobby")
    browser = HttpClient()
    assert await db(browser.login)(username="alice", password=PASSWORD)
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    headers = [(b"cookie", cookie), (b"origin", b"http://localhost"), (b"host", b"localhost")]
    page = await connect("/ws/chat/lobby/", headers=headers)
    await page.receive_type("history")
    script = await _chat(connect, "lobby", alice)

    await db(browser.post)("/logout/")

    assert await page.closed_with() == 4401
    await _still_open(script)


# --- tokens: expiry and refresh -----------------------------------------------------


async def test_socket_closes_when_its_token_expires(connect: Connect, alice: Any) -> None:
    await db(RoomFactory)(slug="lobby")
    token, _ttl = await db(token_issue)(user=alice, ttl_seconds=1)
    client = await connect(f"/ws/chat/lobby/?token={token}")
    await client.receive_type("history")

    assert await client.closed_with(timeout=10) == 4401


async def test_refresh_extends_the_socket_past_the_old_tokens_expiry(
    connect: Connect, alice: Any
) -> None:
    await db(RoomFactory)(slug="lobby")
    short, _ = await db(token_issue)(user=alice, ttl_seconds=2)
    client = await connect(f"/ws/chat/lobby/?token={short}")
    await client.receive_type("history")
    started = time.time()

    fresh, ttl = await db(token_issue)(user=alice)
    await client.send({"action": "refresh", "token": fresh, "ref": 1})
    refreshed = await client.receive_type("refreshed")
    assert refreshed["ref"] == 1
    assert ttl - 5 <= refreshed["expires_in"] <= ttl

    # Past the first token's expiry (waiting on pongs, not sleeping): still open.
    while time.time() < started + 3:
        await _still_open(client)


async def test_refresh_refuses_other_users_and_bad_tokens(
    connect: Connect, alice: Any, bob: Any
) -> None:
    await db(RoomFactory)(slug="lobby")
    client = await _chat(connect, "lobby", alice)

    for token in [await db(token_for)(bob), "not-a-token", ""]:
        await client.send({"action": "refresh", "token": token, "ref": "r"})
        error = await client.receive_type("error")
        assert error["code"] == "invalid" and "`token`" in error["message"]
    await _still_open(client)


async def test_refresh_with_a_token_voided_by_a_password_change_is_refused(
    connect: Connect, alice: Any
) -> None:
    await db(RoomFactory)(slug="lobby")
    stale = await db(token_for)(alice)
    alice.set_password("another-secret-77")
    await db(alice.save)()
    client = await _chat(connect, "lobby", alice)

    await client.send({"action": "refresh", "token": stale})

    error = await client.receive_type("error")
    assert error["code"] == "invalid"


async def test_a_user_deactivated_by_the_orm_is_refused_a_new_token_socket(
    connect: Connect, alice: Any
) -> None:
    await db(RoomFactory)(slug="lobby")
    token = await db(token_for)(alice)
    await db(get_user_model().objects.filter(pk=alice.pk).update)(is_active=False)

    client = await connect(f"/ws/chat/lobby/?token={token}")

    assert await client.closed_with() == 4401


async def test_logout_everywhere_voids_tokens_closes_sockets_and_ends_sessions(
    connect: Connect, alice: Any, bob: Any
) -> None:
    from django.core.management import call_command

    await db(RoomFactory)(slug="lobby")
    browser, bobs_browser = HttpClient(), HttpClient()
    assert await db(browser.login)(username="alice", password=PASSWORD)
    assert await db(bobs_browser.login)(username="bob", password=PASSWORD)
    token = await db(token_for)(alice)
    chat = await _chat(connect, "lobby", alice)

    await db(call_command)("logout_everywhere", "alice")

    assert await chat.closed_with() == 4401
    refused = await connect(f"/ws/chat/lobby/?token={token}")
    assert await refused.closed_with() == 4401
    page = await db(browser.get)("/")
    assert page.status_code == 302 and "/login/" in page["Location"]
    assert (await db(bobs_browser.get)("/")).status_code == 200
