"""Helpers for collab tests against real server processes: sessions and traces."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import websockets
from channels.db import database_sync_to_async

from collab.models import Peer
from collab.session import CollabSession, Txn, trace_load
from tests.servers import Server

TRACES = Path(__file__).resolve().parent / "traces"


def load_trace(name: str) -> tuple[list[Txn], str]:
    """The txns of a trace in tests/collab/traces/ and the text they end with."""
    return trace_load(TRACES / f"{name}.json.gz")


async def open_session(server: Server, token: str, doc_id: int, **kwargs: Any) -> CollabSession:
    """A CollabSession on a new socket to `server`, greeted."""
    session = CollabSession(**kwargs)
    await reconnect(session, server, token, doc_id)
    return session


async def reconnect(session: CollabSession, server: Server, token: str, doc_id: int) -> None:
    """Give `session` a new socket (after `drop()`): it catches up and resends."""
    url = f"{server.ws}/ws/collab/{doc_id}/?token={token}"
    await session.attach(
        await websockets.connect(url, max_size=None, max_queue=None, open_timeout=10)
    )


async def wait_peers_gone(doc_id: int, timeout: float = 10) -> None:
    """Until every socket on the document has been unregistered by its server.

    Tests end with this after closing their sockets, so that no server is
    stopped while it is still handling a disconnect.
    """
    count = database_sync_to_async(Peer.objects.filter(document_id=doc_id).count)
    async with asyncio.timeout(timeout):
        # The rows are in another process's database writes: nothing to wait on but them.
        while await count():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
