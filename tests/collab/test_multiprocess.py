"""Collab across two real daphne processes on one Redis and one database."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async

from collab.models import Document, DocumentOp
from collab.session import session_replay
from tests.conftest import requires_redis, token_for
from tests.factories import UserFactory
from tests.wsclient import WsClient

from .factories import DocumentFactory
from .live import load_trace, open_session, wait_peers_gone
from .test_traces import replayed_log

pytestmark = [requires_redis, pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(transactional_db: None) -> dict[str, Any]:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    return {
        "alice": alice,
        "bob": bob,
        "tokens": {"alice": token_for(alice), "bob": token_for(bob)},
    }


async def committed_versions(doc_id: int) -> list[int]:
    query = DocumentOp.objects.filter(document_id=doc_id).order_by("version")
    return await database_sync_to_async(lambda: list(query.values_list("version", flat=True)))()


async def test_two_clients_on_two_processes_converge(servers: Any, people: dict[str, Any]) -> None:
    one, two = servers(), servers()
    txns, _end = load_trace("friendsforever_flat")
    doc = await database_sync_to_async(DocumentFactory)(owner=people["alice"])
    seen: dict[str, list[int]] = {"alice": [], "bob": []}

    def recorder(name: str) -> Any:
        def record(frame: dict[str, Any]) -> None:
            if frame.get("type") in ("ack", "op"):
                seen[name].append(frame["version"])

        return record

    alice = await open_session(one, people["tokens"]["alice"], doc.pk, on_frame=recorder("alice"))
    bob = await open_session(two, people["tokens"]["bob"], doc.pk, on_frame=recorder("bob"))
    shares = [txns[:3000:2], txns[1:3000:2]]
    await asyncio.gather(
        session_replay(alice, shares[0], batch=3, clamp=True),
        session_replay(bob, shares[1], batch=3, clamp=True),
    )
    await alice.wait_idle(timeout=60)
    await bob.wait_idle(timeout=60)
    stored = await database_sync_to_async(Document.objects.get)(pk=doc.pk)
    for session in (alice, bob):
        await session.wait_version(stored.version)
        assert session.client.text == stored.content
    # Every version committed once, in order, and heard once by each side.
    everything = list(range(1, stored.version + 1))
    assert await committed_versions(doc.pk) == everything
    for name in ("alice", "bob"):
        assert sorted(set(seen[name])) == everything
    assert await database_sync_to_async(replayed_log)(doc.pk) == stored.content
    await alice.drop()
    await bob.drop()
    await wait_peers_gone(doc.pk)


async def test_ops_racing_on_one_version_from_two_processes_commit_once_each(
    servers: Any, people: dict[str, Any]
) -> None:
    one, two = servers(), servers()
    doc = await database_sync_to_async(DocumentFactory)(owner=people["alice"])
    sockets = []
    for server in (one, two, one, two):
        for name in ("alice", "bob"):
            url = f"{server.ws}/ws/collab/{doc.pk}/?token={people['tokens'][name]}"
            # Unbounded: the acks are read after many broadcasts have queued up.
            sockets.append(await WsClient.open(url, max_queue=None))
    for sock in sockets:
        await sock.receive_type("hello")
    # Every op is made on version 0: each must be transformed past all the others.
    per_socket = 12
    for n in range(per_socket):
        for index, sock in enumerate(sockets):
            text = chr(0x4E00 + index * per_socket + n)
            await sock.send(
                {
                    "action": "op",
                    "version": 0,
                    "ops": [{"type": "insert", "position": 0, "text": text}],
                }
            )
    acks: list[int] = []
    for sock in sockets:
        for _ in range(per_socket):
            acks.append((await sock.receive_type("ack", timeout=30))["version"])
    total = per_socket * len(sockets)
    assert sorted(acks) == list(range(1, total + 1))
    assert await committed_versions(doc.pk) == list(range(1, total + 1))
    stored = await database_sync_to_async(Document.objects.get)(pk=doc.pk)
    assert sorted(stored.content) == sorted(chr(0x4E00 + n) for n in range(total))
    for sock in sockets:
        await sock.close()
    await wait_peers_gone(doc.pk)


async def test_peers_and_cursors_cross_processes(servers: Any, people: dict[str, Any]) -> None:
    one, two = servers(), servers()
    doc = await database_sync_to_async(DocumentFactory)(content="hello", owner=people["alice"])
    alice = await WsClient.open(f"{one.ws}/ws/collab/{doc.pk}/?token={people['tokens']['alice']}")
    alice_hello = await alice.receive_type("hello")
    bob = await WsClient.open(f"{two.ws}/ws/collab/{doc.pk}/?token={people['tokens']['bob']}")
    bob_hello = await bob.receive_type("hello")
    assert [peer["client"] for peer in bob_hello["peers"]] == [alice_hello["client"]]
    joined = await alice.receive_type("peer_joined")
    assert joined["client"] == bob_hello["client"]
    await bob.send({"action": "cursor", "position": 3, "selection_end": 5, "version": 0})
    cursor = await alice.receive_type("cursor")
    assert (cursor["client"], cursor["position"], cursor["selection_end"]) == (
        bob_hello["client"],
        3,
        5,
    )
    await bob.close()
    left = await alice.receive_type("peer_left")
    assert left["client"] == bob_hello["client"]
    await alice.close()
    await wait_peers_gone(doc.pk)


async def test_peers_of_a_dead_process_are_dropped(servers: Any, people: dict[str, Any]) -> None:
    fast = {"HEARTBEAT_SECONDS": 0.5, "PROCESS_TIMEOUT_SECONDS": 2}
    one, two = servers(extra_env=fast), servers(extra_env=fast)
    doc = await database_sync_to_async(DocumentFactory)(owner=people["alice"])
    alice = await WsClient.open(f"{one.ws}/ws/collab/{doc.pk}/?token={people['tokens']['alice']}")
    await alice.receive_type("hello")
    bob = await WsClient.open(f"{two.ws}/ws/collab/{doc.pk}/?token={people['tokens']['bob']}")
    bob_hello = await bob.receive_type("hello")
    await alice.receive_type("peer_joined")
    two.kill()
    # The survivor sweeps the dead process's sockets, and with them its peers.
    left = await alice.receive_type("peer_left", timeout=20)
    assert left["client"] == bob_hello["client"]
    await alice.close()
    await wait_peers_gone(doc.pk)
