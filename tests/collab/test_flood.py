"""While one user floods a document with stale ops, everyone else on that process is served.

A real daphne process on the embedded default (SQLite, the in-memory channel
layer), with collab's rate limit at its default. One user holds eight
sockets on a public document that has 300 ops of 1,000 components, and sends
stale ops on all of them as fast as the server answers and the rate limit
lets them. Meanwhile other users open sockets on every endpoint and chat;
each waits for its greeting or its ack with a timeout, well above what the
goals allow (docs/benchmarks.md measures those) and well below what the
stall cost.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from bench.collab_flood import Flood
from collab.models import Document
from tests.conftest import token_for
from tests.dashboards.factories import DashboardFactory
from tests.factories import RoomFactory, UserFactory
from tests.servers import Server
from tests.wsclient import WsClient

from .factories import DocumentFactory, seed_ops

pytestmark = pytest.mark.django_db(transaction=True)

# Seconds another user waits for a greeting or an ack: a hundred times the goal.
WAIT = 5


def _world() -> dict[str, Any]:
    mallory, alice, bob = (UserFactory(username=name) for name in ("mallory", "alice", "bob"))
    doc = DocumentFactory(content="a" * 2000, owner=mallory)
    seed_ops(doc, mallory, ops=300, components=1000)
    RoomFactory(slug="lobby")
    DashboardFactory(slug="board")
    return {
        "doc": doc.pk,
        "quiet_doc": DocumentFactory(content="notes", owner=alice).pk,
        "tokens": {user.username: token_for(user) for user in (mallory, alice, bob)},
    }


async def test_others_are_greeted_and_acked_while_one_user_floods_stale_ops(
    servers: Any,
) -> None:
    world = await database_sync_to_async(_world)()
    tokens = world["tokens"]
    server: Server = servers()

    def url(path: str, who: str) -> str:
        return f"{server.ws}{path}?token={tokens[who]}"

    flood = Flood([url(f"/ws/collab/{world['doc']}/", "mallory")] * 8)
    await flood.start()
    await flood.wait_answered(8, timeout=60)
    answered_before = sum(flood.replies.values())

    opened: list[WsClient] = []
    greetings = [
        ("/ws/chat/lobby/", "hello"),
        ("/ws/notifications/", "hello"),
        ("/ws/dashboards/board/", "snapshot"),
        (f"/ws/collab/{world['quiet_doc']}/", "hello"),
    ]
    for _round in range(3):
        for path, greeting in greetings:
            client = await WsClient.open(url(path, "alice"))
            await client.receive_type(greeting, timeout=WAIT)
            opened.append(client)
    alice = await WsClient.open(url("/ws/chat/lobby/", "alice"))
    bob = await WsClient.open(url("/ws/chat/lobby/", "bob"))
    await bob.receive_type("history", timeout=WAIT)
    for n in range(15):
        await alice.send({"action": "send", "message": f"during the flood {n}", "ref": n})
        ack = await alice.receive_until("ack", lambda frame, n=n: frame.get("ref") == n, WAIT)
        assert ack["id"] > 0
        text = f"during the flood {n}"
        await bob.receive_until("message", lambda frame, text=text: frame["message"] == text, WAIT)

    answered_after = sum(flood.replies.values())
    result = await flood.stop()
    # The flood ran all along, and was refused, not served or cut off.
    assert answered_after > answered_before
    assert result["closed"] == []
    assert set(result["replies"]) <= {"stale_version", "rate_limited"}
    assert result["replies"]["stale_version"] >= 100
    stored = await database_sync_to_async(Document.objects.get)(pk=world["doc"])
    assert stored.version == 300
    for client in [*opened, alice, bob]:
        await client.close()
