"""PostgreSQL restarts under a running server: `unavailable`, the socket stays, nothing doubled.

A private cluster (tests/faults/postgres_instance.py) holds the server's
database. While it is down a chat post is answered with `unavailable` (not a
hang, not a close); once it is back the resend with the same `client_id` is
stored once and the pool has recovered by itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from tests.servers import ROOT
from tests.wsclient import WsClient

from .postgres_instance import BIN, PrivatePostgres, postgres_user_exists

pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.skipif(
        BIN is None or not postgres_user_exists(), reason="needs PostgreSQL's server binaries"
    ),
]

SETUP = """
from chat.models import Room
from django.contrib.auth import get_user_model
from realtime.tokens import token_issue
Room.objects.create(slug="lobby", name="Lobby")
user = get_user_model().objects.create_user("alice", password="x")
print(token_issue(user=user)[0])
"""


def _manage(database_url: str, *args: str, stdin: str | None = None) -> str:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "realtime.settings",
            "DATABASE_URL": database_url,
            "SECRET_KEY": settings.SECRET_KEY,
            "JWT_SECRET": settings.JWT_SECRET,
            "DEBUG": "true",
        }
    )
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    instance = PrivatePostgres()
    instance.init()
    instance.start()
    instance.create_database("app")
    yield instance
    instance.remove()


async def test_a_post_while_postgres_restarts_is_unavailable_then_stored_once(
    servers: Any, postgres: PrivatePostgres
) -> None:
    url = postgres.url("app")
    _manage(url, "migrate", "--noinput", "-v0")
    token = _manage(url, "shell", stdin=SETUP).strip().splitlines()[-1]
    server = servers(extra_env={"DATABASE_URL": url, "REDIS_URL": ""})
    client = await WsClient.open(f"{server.ws}/ws/chat/lobby/?token={token}")
    await client.receive_type("history")

    postgres.stop()
    await client.send({"action": "send", "message": "hi", "client_id": "c1", "ref": 1})
    error = await client.receive_type("error", timeout=20)
    assert error["code"] == "unavailable" and error["retry_after_ms"] > 0

    postgres.start()
    await client.send({"action": "send", "message": "hi", "client_id": "c1", "ref": 2})
    ack = await client.receive_type("ack", timeout=20)
    again = await client.receive_type("message")
    assert ack["ref"] == 2 and again["message"] == "hi" and again["seq"] == 1
    await client.send({"action": "history", "after": 0, "ref": 3})
    history = await client.receive_type("history")
    assert [m["message"] for m in history["messages"]] == ["hi"]
    await client.close()
