"""The largest document opens on a real server: the greeting arrives whole, and so do pages.

Each server's WebSocket layer has its own limits on what it sends (daphne's
autobahn refuses to send a message over 1 MiB); a greeting or a reply over
them must not vanish.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from collab.models import Document
from tests.conftest import token_for
from tests.servers import Server
from tests.wsclient import WsClient

from .factories import DocumentFactory

pytestmark = pytest.mark.django_db(transaction=True)

# Four bytes of UTF-8 each: the greeting is over 4 MB.
WIDE = "\U0001f600"


@pytest.fixture
def big_doc(user: Any) -> Document:
    text = (WIDE + "ab\n") * (settings.COLLAB_MAX_LENGTH // 4)
    assert len(text) == settings.COLLAB_MAX_LENGTH
    return DocumentFactory(content=text, owner=user)


@pytest.mark.parametrize("server_kind", ["daphne", "uvicorn"])
async def test_a_document_of_the_largest_size_opens(
    servers: Any, big_doc: Document, user: Any, server_kind: str
) -> None:
    server: Server = servers(server=server_kind)
    token = await database_sync_to_async(token_for)(user)
    url = f"{server.ws}/ws/collab/{big_doc.pk}/?token={token}"
    client = await WsClient.open(url, max_size=None)
    hello = await client.receive_type("hello", timeout=30)
    assert hello["content"] == big_doc.content
    # The socket is still usable after it.
    await client.send({"action": "ping"})
    await client.receive_type("pong")
    await client.close()


@pytest.mark.parametrize("server_kind", ["daphne", "uvicorn"])
async def test_a_sync_over_a_large_log_comes_in_pages(
    servers: Any, user: Any, server_kind: str
) -> None:
    doc = await database_sync_to_async(DocumentFactory)(content="", owner=user)
    server: Server = servers(server=server_kind)
    token = await database_sync_to_async(token_for)(user)
    url = f"{server.ws}/ws/collab/{doc.pk}/?token={token}"
    client = await WsClient.open(url, max_size=None)
    await client.receive_type("hello")
    # Ops of 60 KB each: 30 of them are 1.8 MB, more than one reply may carry.
    chunk = WIDE * 15_000
    for version in range(30):
        ops = [{"type": "insert", "position": 0, "text": chunk}]
        frame = {"action": "op", "version": version, "ops": ops}
        await client.send(json.dumps(frame, ensure_ascii=False))
        await client.receive_type("ack", timeout=30)
    seen: list[int] = []
    version = 0
    while True:
        await client.send({"action": "sync", "version": version})
        page = await client.receive_type("ops", timeout=30)
        seen += [entry["version"] for entry in page["ops"]]
        if not page["has_more"]:
            break
        version = page["ops"][-1]["version"]
    assert seen == list(range(1, 31))
    await client.close()
