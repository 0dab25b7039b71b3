"""The connection registry: rows per open socket, the sweep of dead processes, presence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.utils import timezone

from realtime.models import Connection, ServerProcess
from realtime.registry import Socket, connection_close, connection_open, connections_sweep
from tests.conftest import Connect, requires_redis, token_for
from tests.factories import RoomFactory, UserFactory
from tests.wsclient import WsClient


def _socket(socket_id: str, *, process: str = "p1", target: str = "lobby") -> Socket:
    return Socket(
        id=socket_id,
        endpoint="chat",
        target=target,
        ip="127.0.0.1",
        process=process,
        presence_group="chat.1",
    )


@pytest.mark.django_db(transaction=True)
async def test_rows_follow_the_socket(connect: Connect, user: Any) -> None:
    await database_sync_to_async(RoomFactory)(slug="lobby")
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    row = await database_sync_to_async(Connection.objects.get)()
    assert (row.user_id, row.endpoint, row.target) == (user.pk, "chat", "lobby")
    assert await database_sync_to_async(ServerProcess.objects.filter(pk=row.process).exists)()
    await client.close()
    assert not await database_sync_to_async(Connection.objects.exists)()


@pytest.mark.django_db
def test_sweep_removes_rows_of_dead_processes_only(settings: Any) -> None:
    alice, bob = UserFactory(), UserFactory()
    connection_open(sock=_socket("a", process="dead"), user=alice)
    connection_open(sock=_socket("b", process="alive"), user=bob)
    long_ago = timezone.now() - timedelta(seconds=settings.PROCESS_TIMEOUT_SECONDS + 5)
    Connection.objects.filter(process="dead").update(last_seen=long_ago)
    assert connections_sweep() == 1
    assert list(Connection.objects.values_list("id", flat=True)) == ["b"]


@pytest.mark.django_db
def test_sweep_command(settings: Any, capsys: Any) -> None:
    connection_open(sock=_socket("a", process="dead"), user=UserFactory())
    Connection.objects.update(last_seen=timezone.now() - timedelta(days=2))
    call_command("sweep_connections")
    assert "swept 1" in capsys.readouterr().out
    assert not Connection.objects.exists()


@pytest.mark.django_db
def test_close_is_idempotent() -> None:
    connection_open(sock=_socket("a"), user=UserFactory())
    assert connection_close(socket_id="a") is True
    assert connection_close(socket_id="a") is False


@requires_redis
@pytest.mark.multiprocess
async def test_killed_process_sockets_are_swept_and_announced(servers: Any) -> None:
    def setup() -> tuple[str, str]:
        RoomFactory(slug="lobby")
        return token_for(UserFactory(username="alice")), token_for(UserFactory(username="bob"))

    alice_token, bob_token = await database_sync_to_async(setup)()
    fast = {"HEARTBEAT_SECONDS": "0.5", "PROCESS_TIMEOUT_SECONDS": "2"}
    survivor, doomed = servers(extra_env=fast), servers(extra_env=fast)
    watcher = await WsClient.open(f"{survivor.ws}/ws/chat/lobby/?token={alice_token}")
    await watcher.receive_type("history")
    bob = await WsClient.open(f"{doomed.ws}/ws/chat/lobby/?token={bob_token}")
    await bob.receive_type("history")
    await watcher.receive_until("presence", lambda f: "joined" in f)
    doomed.kill()
    # The survivor's heartbeat sweeps the dead process's rows and says bob left.
    left = await watcher.receive_until("presence", lambda f: "left" in f, timeout=20)
    assert left["left"][0]["username"] == "bob"
    rows = await database_sync_to_async(
        lambda: list(Connection.objects.values_list("user__username", flat=True))
    )()
    assert rows == ["alice"]
    await watcher.close()
