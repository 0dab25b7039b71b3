"""Real editing traces replayed through a real daphne process over WebSockets.

Traces: tests/collab/traces/ (josephg/editing-traces, CC BY 4.0; see the
README there). One client typing a trace ends with exactly its
`endContent`, as does a second socket that only watches; the same trace
split between concurrent clients converges on every client and the server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async

from collab.models import Document, DocumentOp
from collab.ot import apply, components_to_op
from collab.session import session_replay
from tests.conftest import token_for
from tests.factories import UserFactory

from .factories import DocumentFactory
from .live import load_trace, open_session, wait_peers_gone

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(transactional_db: None) -> dict[str, Any]:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    return {
        "alice": alice,
        "bob": bob,
        "tokens": {"alice": token_for(alice), "bob": token_for(bob)},
    }


def replayed_log(doc_id: int) -> str:
    """The text the op log rebuilds from the empty document."""
    text = ""
    for components in DocumentOp.objects.filter(document_id=doc_id).values_list("ops", flat=True):
        text = apply(text, components_to_op(components, len(text)))
    return text


@pytest.mark.parametrize("trace", ["friendsforever_flat", "sveltecomponent", "json-crdt-blog-post"])
async def test_a_trace_replayed_over_a_socket_ends_with_its_end_content(
    servers: Any, people: dict[str, Any], trace: str
) -> None:
    txns, end = load_trace(trace)
    server = servers(extra_env={"COLLAB_RATE_PER_SECOND": 10_000, "COLLAB_RATE_BURST": 10_000})
    doc = await database_sync_to_async(DocumentFactory)(owner=people["alice"])
    tokens = people["tokens"]
    writer = await open_session(server, tokens["alice"], doc.pk)
    watcher = await open_session(server, tokens["bob"], doc.pk)
    await session_replay(writer, txns, batch=50)
    await writer.wait_idle(timeout=60)
    assert writer.client.text == end
    await watcher.wait_version(writer.client.version)
    assert watcher.client.text == end
    stored = await database_sync_to_async(Document.objects.get)(pk=doc.pk)
    assert (stored.content, stored.version) == (end, writer.client.version)
    assert await database_sync_to_async(replayed_log)(doc.pk) == end
    await writer.drop()
    await watcher.drop()
    await wait_peers_gone(doc.pk)


async def test_a_trace_split_between_concurrent_clients_converges(
    servers: Any, people: dict[str, Any]
) -> None:
    txns, _end = load_trace("friendsforever_flat")
    txns = txns[:6000]
    server = servers()  # the default rate limit: a client that hits it waits and resends
    doc = await database_sync_to_async(DocumentFactory)(owner=people["alice"])
    tokens = people["tokens"]
    names = ["alice", "bob", "alice"]
    sessions = [await open_session(server, tokens[name], doc.pk) for name in names]
    # Chunks of 20 txns dealt round-robin: each client types its own share at once.
    shares: list[list[Any]] = [[] for _ in sessions]
    for start in range(0, len(txns), 20):
        shares[(start // 20) % len(sessions)].extend(txns[start : start + 20])
    await asyncio.gather(
        *(
            session_replay(s, share, batch=5, clamp=True)
            for s, share in zip(sessions, shares, strict=True)
        )
    )
    for session in sessions:
        await session.wait_idle(timeout=60)
    stored = await database_sync_to_async(Document.objects.get)(pk=doc.pk)
    for session in sessions:
        await session.wait_version(stored.version)
        assert session.client.text == stored.content
    assert len(stored.content) > 1000
    assert await database_sync_to_async(replayed_log)(doc.pk) == stored.content
    for session in sessions:
        await session.drop()
    await wait_peers_gone(doc.pk)
