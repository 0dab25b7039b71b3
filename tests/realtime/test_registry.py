"""The connection registry: rows per open socket, the sweep of dead processes, presence."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from realtime import errors, registry
from realtime.batching import Batched
from realtime.models import Connection, ServerProcess
from realtime.registry import (
    Socket,
    connections_close,
    connections_open,
    connections_sweep,
)
from tests.conftest import Connect, requires_redis, token_for
from tests.factories import RoomFactory, UserFactory
from tests.wsclient import WsClient


def _socket(
    socket_id: str, *, process: str = "p1", target: str = "lobby", ip: str = "127.0.0.1"
) -> Socket:
    return Socket(
        id=socket_id,
        endpoint="chat",
        target=target,
        ip=ip,
        process=process,
        presence_group=f"chat.{target}",
    )


@pytest.fixture
def announced(monkeypatch: Any) -> list[tuple[str, str, str]]:
    """The presence changes announced after commits: (group, change, username)."""
    seen: list[tuple[str, str, str]] = []

    def record(group: str, change: str, user: dict[str, Any]) -> None:
        seen.append((group, change, user["username"]))

    monkeypatch.setattr(registry, "presence_announce", record)
    return seen


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
    assert connections_open([(_socket("a", process="dead"), alice)]) == [None]
    assert connections_open([(_socket("b", process="alive"), bob)]) == [None]
    long_ago = timezone.now() - timedelta(seconds=settings.PROCESS_TIMEOUT_SECONDS + 5)
    Connection.objects.filter(process="dead").update(last_seen=long_ago)
    assert connections_sweep() == 1
    assert list(Connection.objects.values_list("id", flat=True)) == ["b"]


@pytest.mark.django_db
def test_sweep_command(settings: Any, capsys: Any) -> None:
    assert connections_open([(_socket("a", process="dead"), UserFactory())]) == [None]
    Connection.objects.update(last_seen=timezone.now() - timedelta(days=2))
    call_command("sweep_connections")
    assert "swept 1" in capsys.readouterr().out
    assert not Connection.objects.exists()


@pytest.mark.django_db
def test_close_is_idempotent() -> None:
    assert connections_open([(_socket("a"), UserFactory())]) == [None]
    assert connections_close(["a"]) == [True]
    assert connections_close(["a"]) == [False]


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


@pytest.mark.django_db(transaction=True)
def test_sockets_opened_together_are_capped_in_order(
    settings: Any, announced: list[tuple[str, str, str]]
) -> None:
    settings.MAX_SOCKETS_PER_USER = 2
    settings.MAX_SOCKETS_PER_IP = 3
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    assert connections_open([(_socket("a0"), alice)]) == [None]
    outcomes = connections_open(
        [
            (_socket("a1"), alice),
            (_socket("a2"), alice),  # alice's third: over her cap
            (_socket("b1", target="other"), bob),
            (_socket("b2", target="other", ip="10.0.0.9"), bob),
            (_socket("b3", target="other", ip="10.0.0.9"), bob),  # bob's third
        ]
    )
    assert [None if outcome is None else outcome.code for outcome in outcomes] == [
        None,
        errors.TOO_MANY,
        None,
        None,
        errors.TOO_MANY,
    ]
    assert set(Connection.objects.values_list("id", flat=True)) == {"a0", "a1", "b1", "b2"}
    # alice was already here; bob's two sockets announce him once.
    assert announced == [("chat.lobby", "joined", "alice"), ("chat.other", "joined", "bob")]


@pytest.mark.django_db(transaction=True)
def test_the_address_cap_counts_the_sockets_opened_together(settings: Any) -> None:
    settings.MAX_SOCKETS_PER_IP = 2
    users = [UserFactory() for _ in range(3)]
    outcomes = connections_open([(_socket(f"s{n}"), user) for n, user in enumerate(users)])
    assert [outcome is None for outcome in outcomes] == [True, True, False]
    assert Connection.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_address_cap_counts_the_sockets_already_open(settings: Any) -> None:
    settings.MAX_SOCKETS_PER_IP = 2
    for n in range(2):
        assert connections_open([(_socket(f"old{n}", ip="2001:db8::7"), UserFactory())]) == [None]
    outcomes = connections_open(
        [
            (_socket("new", ip="2001:0db8:0:0:0:0:0:7"), UserFactory()),
            (_socket("other"), UserFactory()),
        ]
    )
    assert [outcome is None for outcome in outcomes] == [False, True]


def _queries_to_open_and_close(count: int, first: int) -> tuple[int, int]:
    users = [UserFactory() for _ in range(count)]
    ids = [f"s{first + n}" for n in range(count)]
    with CaptureQueriesContext(connection) as opening:
        connections_open([(_socket(i, target=i), user) for i, user in zip(ids, users, strict=True)])
    with CaptureQueriesContext(connection) as closing:
        assert all(connections_close(ids))
    return len(opening), len(closing)


@pytest.mark.django_db(transaction=True)
def test_a_batch_of_sockets_costs_the_queries_of_one() -> None:
    assert _queries_to_open_and_close(50, first=0) == _queries_to_open_and_close(1, first=50)
    assert not Connection.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_leaving_together_announces_a_user_once_and_only_when_their_last_socket_goes(
    announced: list[tuple[str, str, str]],
) -> None:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    connections_open(
        [(_socket("a1"), alice), (_socket("a2"), alice), (_socket("b1"), bob), (_socket("b2"), bob)]
    )
    announced.clear()
    assert connections_close(["a1", "a2", "b1", "gone"]) == [True, True, True, False]
    # alice's both sockets went: one "left"; bob still has b2 here.
    assert announced == [("chat.lobby", "left", "alice")]


@pytest.mark.django_db(transaction=True)
async def test_a_user_deleted_while_connecting_fails_only_their_own_socket() -> None:
    alive, gone = await database_sync_to_async(lambda: (UserFactory(), UserFactory()))()
    gone_id = gone.pk
    await database_sync_to_async(gone.delete)()
    gone.pk = gone_id  # the socket still holds the user it authenticated
    register = Batched(connections_open)
    results = await asyncio.gather(
        register((_socket("ok"), alive)), register((_socket("x"), gone)), return_exceptions=True
    )
    assert results[0] is None
    assert isinstance(results[1], IntegrityError)
    ids = await database_sync_to_async(
        lambda: list(Connection.objects.values_list("id", flat=True))
    )()
    assert ids == ["ok"]
