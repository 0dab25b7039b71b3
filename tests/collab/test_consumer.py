"""The collab socket as a client sees it: greeting, op/ack/broadcast, sync, cursors, peers."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from collab.models import Document, DocumentOp, Peer
from tests.conftest import Connect

from .factories import DocumentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def ins(position: int, text: str) -> dict[str, Any]:
    return {"type": "insert", "position": position, "text": text}


def dele(position: int, length: int) -> dict[str, Any]:
    return {"type": "delete", "position": position, "length": length}


@pytest.fixture
def doc(user: Any) -> Document:
    return DocumentFactory(title="Notes", content="hello", owner=user)


async def frames_until(client: Any, kind: str) -> list[dict[str, Any]]:
    """Every frame `client` receives up to and including the first of type `kind`."""
    frames = []
    while True:
        frame = await client.receive()
        frames.append(frame)
        if frame["type"] == kind:
            return frames


async def stored(doc: Document) -> Document:
    return await database_sync_to_async(Document.objects.get)(pk=doc.pk)


async def test_hello_carries_the_document_and_the_connected_user(
    connect: Connect, doc: Document, user: Any
) -> None:
    client = await connect(f"/ws/collab/{doc.pk}/", user)
    hello = await client.receive()
    assert hello["type"] == "hello"
    assert hello["doc"] == {"id": doc.pk, "title": "Notes", "access": "public"}
    assert hello["version"] == 0
    assert hello["content"] == "hello"
    assert hello["user"]["id"] == user.pk and hello["user"]["username"] == "alice"
    assert hello["user"]["color"].startswith("#")
    assert isinstance(hello["client"], str) and hello["client"]
    assert hello["can_edit"] is True
    assert hello["peers"] == []


async def test_op_is_acked_and_broadcast_to_the_others(
    connect: Connect, doc: Document, user: Any, other_user: Any
) -> None:
    alice = await connect(f"/ws/collab/{doc.pk}/", user)
    bob = await connect(f"/ws/collab/{doc.pk}/", other_user)
    alice_hello = await alice.receive_type("hello")
    await bob.receive_type("hello")
    await alice.send(
        {"action": "op", "version": 0, "ops": [ins(5, " world")], "op_id": "a1", "ref": 3}
    )
    ack = await alice.receive_type("ack")
    assert ack == {"type": "ack", "version": 1, "op_id": "a1", "ref": 3}
    op = await bob.receive_type("op")
    assert op == {
        "type": "op",
        "version": 1,
        "ops": [ins(5, " world")],
        "user": {"id": user.pk, "username": "alice"},
        "client": alice_hello["client"],
        "op_id": "a1",
    }
    assert (await stored(doc)).content == "hello world"
    # The sender gets the ack, not its own op back: only bob's next op arrives.
    await bob.send({"action": "op", "version": 1, "ops": [ins(0, ">")]})
    frames = await frames_until(alice, "op")
    assert [f["version"] for f in frames if f["type"] == "op"] == [2]


async def test_concurrent_ops_are_transformed_and_everyone_converges(
    connect: Connect, doc: Document, user: Any, other_user: Any
) -> None:
    alice = await connect(f"/ws/collab/{doc.pk}/", user)
    bob = await connect(f"/ws/collab/{doc.pk}/", other_user)
    await alice.receive_type("hello")
    await bob.receive_type("hello")
    # Both made on version 0: bob's arrives second and is moved past alice's insert.
    await alice.send({"action": "op", "version": 0, "ops": [ins(0, "A")]})
    assert (await alice.receive_type("ack"))["version"] == 1
    await bob.send({"action": "op", "version": 0, "ops": [ins(0, "B"), dele(2, 3)]})
    assert (await bob.receive_type("ack"))["version"] == 2
    assert (await bob.receive_type("op"))["ops"] == [ins(0, "A")]
    moved = await alice.receive_type("op")
    # Inserts at one point: the op committed first stays on the left.
    assert moved["version"] == 2
    assert moved["ops"] == [ins(1, "B"), dele(3, 3)]
    assert (await stored(doc)).content == "ABho"


async def test_an_op_that_transforms_to_nothing_is_still_committed(
    connect: Connect, doc: Document, user: Any, other_user: Any
) -> None:
    alice = await connect(f"/ws/collab/{doc.pk}/", user)
    bob = await connect(f"/ws/collab/{doc.pk}/", other_user)
    await alice.receive_type("hello")
    await bob.receive_type("hello")
    await alice.send({"action": "op", "version": 0, "ops": [dele(0, 5)]})
    await alice.receive_type("ack")
    await bob.send({"action": "op", "version": 0, "ops": [dele(1, 2)]})
    assert (await bob.receive_type("ack"))["version"] == 2
    assert (await alice.receive_type("op"))["ops"] == []
    document = await stored(doc)
    assert (document.content, document.version) == ("", 2)


async def test_repeated_op_id_is_acked_with_its_first_version_and_not_applied(
    connect: Connect, doc: Document, user: Any
) -> None:
    client = await connect(f"/ws/collab/{doc.pk}/", user)
    await client.receive_type("hello")
    frame = {"action": "op", "version": 0, "ops": [ins(0, "x")], "op_id": "same"}
    await client.send(frame)
    assert (await client.receive_type("ack"))["version"] == 1
    await client.send({**frame, "ref": "again"})
    assert await client.receive_type("ack") == {
        "type": "ack",
        "version": 1,
        "op_id": "same",
        "ref": "again",
    }
    document = await stored(doc)
    assert (document.content, document.version) == ("xhello", 1)


async def test_resend_after_reconnect_neither_loses_nor_doubles(
    connect: Connect, doc: Document, user: Any, other_user: Any
) -> None:
    bob = await connect(f"/ws/collab/{doc.pk}/", other_user)
    await bob.receive_type("hello")
    first = await connect(f"/ws/collab/{doc.pk}/", user)
    await first.receive_type("hello")
    # The op lands, but the connection drops before the ack is read.
    await first.send({"action": "op", "version": 0, "ops": [ins(5, "!")], "op_id": "k1"})
    await bob.receive_type("op")
    await first.close()
    await bob.send({"action": "op", "version": 1, "ops": [ins(0, ">")]})
    await bob.receive_type("ack")
    second = await connect(f"/ws/collab/{doc.pk}/", user)
    hello = await second.receive_type("hello")
    assert hello["version"] == 2
    await second.send({"action": "sync", "version": 0})
    ops = await second.receive_type("ops")
    assert [entry["op_id"] for entry in ops["ops"]] == ["k1", None]
    await second.send({"action": "op", "version": 0, "ops": [ins(5, "!")], "op_id": "k1"})
    assert (await second.receive_type("ack"))["version"] == 1
    assert (await stored(doc)).content == ">hello!"


async def test_sync_returns_every_op_after_a_version(
    connect: Connect, doc: Document, user: Any
) -> None:
    client = await connect(f"/ws/collab/{doc.pk}/", user)
    hello = await client.receive_type("hello")
    for version, text in enumerate("abc"):
        await client.send(
            {"action": "op", "version": version, "ops": [ins(0, text)], "op_id": text}
        )
        await client.receive_type("ack")
    await client.send({"action": "sync", "version": 1, "ref": "s"})
    reply = await client.receive_type("ops")
    assert reply["ref"] == "s" and reply["from"] == 1 and reply["version"] == 3
    assert reply["has_more"] is False
    assert reply["ops"] == [
        {
            "version": 2,
            "ops": [ins(0, "b")],
            "user": {"id": user.pk, "username": "alice"},
            "client": hello["client"],
            "op_id": "b",
        },
        {
            "version": 3,
            "ops": [ins(0, "c")],
            "user": {"id": user.pk, "username": "alice"},
            "client": hello["client"],
            "op_id": "c",
        },
    ]


async def test_a_late_joiner_gets_the_text_at_its_version_and_only_later_ops(
    connect: Connect, doc: Document, user: Any, other_user: Any
) -> None:
    alice = await connect(f"/ws/collab/{doc.pk}/", user)
    await alice.receive_type("hello")
    await alice.send({"action": "op", "version": 0, "ops": [ins(0, "1")]})
    await alice.receive_type("ack")
    bob = await connect(f"/ws/collab/{doc.pk}/", other_user)
    hello = await bob.receive_type("hello")
    assert (hello["version"], hello["content"]) == (1, "1hello")
    await alice.send({"action": "op", "version": 1, "ops": [ins(0, "2")]})
    # Version 1 is in the greeting; it never comes again as a frame.
    await alice.send({"action": "op", "version": 2, "ops": [ins(0, "3")]})
    frames = await frames_until(bob, "op")
    frames += await frames_until(bob, "op")
    assert [f["version"] for f in frames if f["type"] == "op"] == [2, 3]


async def test_stored_rows_of_a_commit(connect: Connect, doc: Document, user: Any) -> None:
    client = await connect(f"/ws/collab/{doc.pk}/", user)
    hello = await client.receive_type("hello")
    await client.send({"action": "op", "version": 0, "ops": [dele(0, 1)], "op_id": "d"})
    await client.receive_type("ack")
    row = await database_sync_to_async(DocumentOp.objects.get)(document=doc)
    assert (row.version, row.base_version, row.ops) == (1, 0, [dele(0, 1)])
    assert (row.user_id, row.client, row.op_id) == (user.pk, hello["client"], "d")


async def test_peers_cursors_and_leaving(
    connect: Connect, doc: Document, user: Any, other_user: Any
) -> None:
    alice = await connect(f"/ws/collab/{doc.pk}/", user)
    alice_hello = await alice.receive_type("hello")
    bob = await connect(f"/ws/collab/{doc.pk}/", other_user)
    bob_hello = await bob.receive_type("hello")
    assert bob_hello["peers"] == [
        {
            "client": alice_hello["client"],
            "user": {"id": user.pk, "username": "alice"},
            "color": alice_hello["user"]["color"],
            "position": 0,
            "selection_end": None,
        }
    ]
    joined = await alice.receive_type("peer_joined")
    assert joined["client"] == bob_hello["client"]
    assert joined["user"] == {"id": other_user.pk, "username": "bob"}
    assert joined["color"] == bob_hello["user"]["color"]

    await bob.send({"action": "cursor", "position": 2, "selection_end": 4})
    cursor = await alice.receive_type("cursor")
    assert cursor == {
        "type": "cursor",
        "client": bob_hello["client"],
        "user": {"id": other_user.pk, "username": "bob"},
        "color": bob_hello["user"]["color"],
        "position": 2,
        "selection_end": 4,
        "version": 0,
    }
    # No echo of one's own cursor: bob's next frame is alice's cursor.
    await alice.send({"action": "cursor", "position": 1})
    frames = await frames_until(bob, "cursor")
    assert [f["client"] for f in frames if f["type"] == "cursor"] == [alice_hello["client"]]
    await bob.close()
    left = await alice.receive_type("peer_left")
    assert left == {
        "type": "peer_left",
        "client": bob_hello["client"],
        "user": {"id": other_user.pk, "username": "bob"},
    }
    assert await database_sync_to_async(Peer.objects.count)() == 1


async def test_the_server_moves_the_cursors_it_holds_through_every_op(
    connect: Connect, doc: Document, user: Any, other_user: Any
) -> None:
    alice = await connect(f"/ws/collab/{doc.pk}/", user)
    alice_hello = await alice.receive_type("hello")
    await alice.send({"action": "cursor", "position": 3, "version": 0})
    # A cursor reported on an old version is moved to the current one.
    await alice.send({"action": "op", "version": 0, "ops": [ins(0, "ab")]})
    await alice.receive_type("ack")
    await alice.send({"action": "op", "version": 1, "ops": [ins(5, "Z")]})  # at her cursor
    await alice.receive_type("ack")
    bob = await connect(f"/ws/collab/{doc.pk}/", other_user)
    bob_hello = await bob.receive_type("hello")
    [peer] = bob_hello["peers"]
    assert peer["client"] == alice_hello["client"]
    assert peer["position"] == 6  # after her own insert at her cursor
    # An insert by someone else exactly at a cursor leaves the cursor before it.
    await bob.send({"action": "op", "version": 2, "ops": [ins(6, "Y")]})
    await bob.receive_type("ack")
    carol = await connect(f"/ws/collab/{doc.pk}/", user)
    carol_hello = await carol.receive_type("hello")
    positions = {p["client"]: p["position"] for p in carol_hello["peers"]}
    assert positions[alice_hello["client"]] == 6
    # A cursor inside a deleted range moves to the delete's position.
    await bob.send({"action": "op", "version": 3, "ops": [dele(4, 4)]})
    await bob.receive_type("ack")
    dave = await connect(f"/ws/collab/{doc.pk}/", other_user)
    dave_hello = await dave.receive_type("hello")
    positions = {p["client"]: p["position"] for p in dave_hello["peers"]}
    assert positions[alice_hello["client"]] == 4


async def test_cursor_on_an_older_version_is_broadcast_at_the_current_one(
    connect: Connect, doc: Document, user: Any, other_user: Any
) -> None:
    alice = await connect(f"/ws/collab/{doc.pk}/", user)
    await alice.receive_type("hello")
    bob = await connect(f"/ws/collab/{doc.pk}/", other_user)
    await bob.receive_type("hello")
    await alice.send({"action": "op", "version": 0, "ops": [ins(0, "123")]})
    await alice.receive_type("ack")
    await bob.receive_type("op")
    await bob.send({"action": "cursor", "position": 1, "version": 0})
    cursor = await alice.receive_type("cursor")
    assert (cursor["position"], cursor["selection_end"], cursor["version"]) == (4, None, 1)
