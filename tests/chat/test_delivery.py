"""Nothing lost, nothing doubled: drops, reconnects with `since`, resends, gaps — on real daphne."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from chat.models import Message, Room
from tests.conftest import token_for
from tests.factories import RoomFactory, UserFactory
from tests.wsclient import WsClient


@pytest.fixture
def setup(transactional_db: None) -> dict[str, Any]:
    RoomFactory(slug="lobby", name="Lobby")
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    return {"alice": token_for(alice), "bob": token_for(bob)}


async def _bodies() -> list[str]:
    rows = Message.objects.order_by("seq").values_list("body", flat=True)
    return await database_sync_to_async(lambda: list(rows))()


async def test_drop_while_sending_then_resume_gives_each_message_once(
    servers: Any, setup: dict[str, Any]
) -> None:
    server = servers()
    url = f"{server.ws}/ws/chat/lobby/?token={setup['alice']}"
    listener = await WsClient.open(f"{server.ws}/ws/chat/lobby/?token={setup['bob']}")
    await listener.receive_type("history")

    sender = await WsClient.open(url)
    await sender.receive_type("history")
    unacked = {f"c{n}": f"message {n}" for n in range(10)}
    for client_id, text in unacked.items():
        await sender.send({"action": "send", "message": text, "client_id": client_id})
    # The link drops before the acks are read: some of these may have been stored.
    sender.conn.transport.abort()

    # Meanwhile the room moves on.
    for n in range(3):
        await listener.send({"action": "send", "message": f"bob {n}", "client_id": f"b{n}"})
        await listener.receive_type("ack")

    # Reconnect with since=<last seq this client saw> (it saw none) and resend every unacked one.
    again = await WsClient.open(url + "&since=0")
    history = await again.receive_type("history")
    seen = {m["seq"]: m for m in history["messages"]}
    for client_id, text in unacked.items():
        await again.send({"action": "send", "message": text, "client_id": client_id})
    acked = set()
    while len(acked) < len(unacked):
        acked.add((await again.receive_type("ack"))["client_id"])
    assert acked == set(unacked)

    bodies = await _bodies()
    assert sorted(bodies) == sorted([*unacked.values(), "bob 0", "bob 1", "bob 2"])
    assert len(bodies) == len(set(bodies)) == 13
    # The listener saw every message exactly once, seqs 1..13 without a gap.
    received: dict[int, str] = {}
    while len(received) < 13:
        message = await listener.receive_type("message")
        assert message["seq"] not in received
        received[message["seq"]] = message["message"]
    assert sorted(received) == list(range(1, 14))
    assert all(seen[seq]["message"] == received[seq] for seq in seen)
    await again.close()
    await listener.close()


async def _bob_reads_alice_writes(server: Any, setup: dict[str, Any]) -> tuple[WsClient, WsClient]:
    """Two sockets on the lobby, past their greetings: bob's, then alice's."""
    reader = await WsClient.open(f"{server.ws}/ws/chat/lobby/?token={setup['bob']}")
    await reader.receive_type("history")
    writer = await WsClient.open(f"{server.ws}/ws/chat/lobby/?token={setup['alice']}")
    await writer.receive_type("history")
    return reader, writer


async def _post(writer: WsClient, bodies: list[str]) -> None:
    """Send each body and wait for its ack before the next."""
    for body in bodies:
        await writer.send({"action": "send", "message": body})
        await writer.receive_type("ack")


async def test_a_seq_gap_is_detected_and_filled_with_history(
    servers: Any, setup: dict[str, Any]
) -> None:
    reader, writer = await _bob_reads_alice_writes(servers(), setup)
    await _post(writer, [f"m{n}" for n in range(6)])

    # The reader loses frames 2..4 (as a dropped link or a lossy layer would lose them).
    got = []
    while len(got) < 6:
        message = await reader.receive_type("message")
        if message["seq"] not in (2, 3, 4):
            got.append(message)
        if len(got) == 2:
            break
    last = got[0]["seq"]
    assert got[1]["seq"] > last + 1  # the gap shows in the seqs
    await reader.send({"action": "history", "after": last, "ref": "fill"})
    page = await reader.receive_type("history")
    assert page["ref"] == "fill"
    assert [m["seq"] for m in page["messages"]] == [2, 3, 4, 5, 6]
    await reader.close()
    await writer.close()


async def test_frames_of_every_length_class_arrive_whole_through_daphne(
    servers: Any, setup: dict[str, Any]
) -> None:
    # daphne writes frames itself (realtime.daphne_guard): a header with a 7-bit,
    # 16-bit or 64-bit length; a strict client must read each intact.
    server = servers()
    reader, writer = await _bob_reads_alice_writes(server, setup)
    bodies = ["x", "é" * 60, "ü" * 3000] + [f"{n} " + "y" * 3990 for n in range(16)]
    await _post(writer, bodies)
    live = [(await reader.receive_type("message"))["message"] for _ in bodies]
    assert live == bodies
    # The greeting of a new socket carries them all in one frame over 64 KiB.
    again = await WsClient.open(f"{server.ws}/ws/chat/lobby/?token={setup['bob']}")
    history = await again.receive_type("history")
    assert [m["message"] for m in history["messages"]] == bodies
    for client in (reader, writer, again):
        await client.close()


def _store_long_messages(count: int) -> None:
    room = Room.objects.get(slug="lobby")
    user = get_user_model().objects.get(username="alice")
    Message.objects.bulk_create(
        Message(room=room, seq=seq, user=user, body=f"{seq} " + "z" * 3990)
        for seq in range(1, count + 1)
    )
    Room.objects.filter(pk=room.pk).update(last_seq=count)


async def test_a_resume_larger_than_one_frame_arrives_in_pages(
    servers: Any, setup: dict[str, Any]
) -> None:
    # 300 messages of 4,000 characters: 1.2 MB, past daphne's 1 MiB per message.
    await database_sync_to_async(_store_long_messages)(300)
    server = servers()
    client = await WsClient.open(f"{server.ws}/ws/chat/lobby/?token={setup['bob']}&since=0")
    hello = await client.receive_type("hello")
    page = await client.receive_type("history")
    assert hello["last_seq"] == 300 and page["has_more"]
    seqs = [m["seq"] for m in page["messages"]]
    while page["has_more"]:
        await client.send({"action": "history", "after": seqs[-1], "limit": 100, "ref": "more"})
        page = await client.receive_type("history")
        seqs += [m["seq"] for m in page["messages"]]
    assert seqs == list(range(1, 301))
    await client.close()
