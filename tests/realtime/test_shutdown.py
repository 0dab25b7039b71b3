"""A server process told to stop (SIGTERM, as deploys do) exits while its sockets close."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from typing import Any

import pytest

from tests.conftest import token_for
from tests.factories import RoomFactory, UserFactory
from tests.servers import Server
from tests.wsclient import WsClient


@pytest.fixture
def tokens(transactional_db: None) -> list[str]:
    RoomFactory(slug="lobby", name="Lobby")
    return [token_for(UserFactory(username=name)) for name in ("alice", "bob")]


async def _greeted(server: Server, tokens: list[str]) -> list[WsClient]:
    """A chat socket per token, each past its greeting."""
    clients = []
    for token in tokens:
        client = await WsClient.open(f"{server.ws}/ws/chat/lobby/?token={token}")
        await client.receive_type("history")
        clients.append(client)
    return clients


async def _exited(server: Server, kind: str) -> None:
    try:
        await asyncio.to_thread(server.process.wait, 20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{kind} did not exit after SIGTERM:\n{server.log()[-3000:]}")


@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
async def test_sigterm_while_sockets_close_exits(
    servers: Any, tokens: list[str], kind: str
) -> None:
    server = servers(server=kind)
    clients = await _greeted(server, tokens)

    # Sockets that close as the process is told to stop: their close is still
    # being stored (and announced) when the event loop stops.
    await asyncio.gather(*(client.close() for client in clients))
    server.process.send_signal(signal.SIGTERM)
    await _exited(server, kind)
    assert "Fatal Python error" not in server.log()


@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
async def test_sigterm_closes_open_sockets_with_1012_and_exits(
    servers: Any, tokens: list[str], kind: str
) -> None:
    """A deploy stops a process: its clients hear "service restart" (1012) and reconnect."""
    server = servers(server=kind)
    clients = await _greeted(server, tokens)

    server.process.send_signal(signal.SIGTERM)
    codes = await asyncio.gather(*(client.close_code() for client in clients))
    assert codes == [1012, 1012]
    await _exited(server, kind)
