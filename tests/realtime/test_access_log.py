"""A JWT in `?token=` never reaches a real server's log."""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.request
from typing import Any

import pytest

from realtime.logs import RedactTokens
from tests.conftest import token_for
from tests.factories import RoomFactory, UserFactory
from tests.servers import Server
from tests.wsclient import WsClient


async def _log_shows(server: Server, text: str, timeout: float = 10) -> str:
    """The server's log once it holds `text` (it is written as the server goes)."""
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, f"{text!r} not in the log:\n{server.log()}"
        await asyncio.sleep(0.05)
    return server.log()


@pytest.fixture
def token(transactional_db: None) -> str:
    RoomFactory(slug="lobby")
    return token_for(UserFactory(username="alice"))


@pytest.mark.parametrize("kind", ["uvicorn", "daphne"])
async def test_the_token_of_a_socket_is_not_in_the_server_log(
    servers: Any, token: str, kind: str
) -> None:
    server = servers(server=kind)
    client = await WsClient.open(f"{server.ws}/ws/chat/lobby/?token={token}&since=0")
    await client.receive_type("history")
    await client.conn.close()
    log = await _log_shows(server, "/ws/chat/lobby/")
    assert token not in log
    assert token.split(".")[2] not in log  # not even the signature


async def test_the_token_in_an_http_query_is_not_in_the_uvicorn_access_log(
    servers: Any, token: str
) -> None:
    server = servers(server="uvicorn")
    url = f"{server.http}/healthz?token={token}"
    response = await asyncio.to_thread(urllib.request.urlopen, url, timeout=10)
    assert response.status == 200
    response.close()
    log = await _log_shows(server, '"GET /healthz?token=')
    assert token not in log


@pytest.mark.parametrize(
    ("message", "args", "shown"),
    [
        ('%s - "WebSocket %s" [accepted]', ("1.2.3.4:5", "/ws/x/?token=abc.def.ghi&since=3"), None),
        ("%s %s", ("GET", "/p?a=1&token=secret"), None),
        ("path /p?%74oken=eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl", (), None),
        ("no token here: tokens=1", (), "no token here: tokens=1"),
    ],
)
def test_the_filter_redacts_token_values(message: str, args: tuple[Any, ...], shown: Any) -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, "", 0, message, args, None)
    assert RedactTokens().filter(record)
    text = record.getMessage()
    for secret in ("abc.def.ghi", "secret", "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"):
        assert secret not in text
    if shown is not None:
        assert text == shown
    assert len(record.args or ()) == len(args)  # formatters that unpack the args still can
