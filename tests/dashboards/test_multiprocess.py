"""Dashboards across real daphne processes on one Redis: counts, the sweep, the lease."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from dashboards.models import DashboardState, EngagementEvent
from dashboards.publisher import lease_holder
from tests.conftest import requires_redis, token_for
from tests.factories import RoomFactory, UserFactory
from tests.servers import Server
from tests.wsclient import WsClient

from .board import Board

pytestmark = [requires_redis, pytest.mark.multiprocess]

# Fast heartbeats and a short lease, so that a killed process is noticed in seconds.
FAST = {"HEARTBEAT_SECONDS": "0.5", "PROCESS_TIMEOUT_SECONDS": "3", "DASHBOARD_LEASE_SECONDS": "3"}
HOLDS = "holds the lease"


@pytest.fixture
def people(transactional_db: None, boards: Any) -> dict[str, Any]:
    RoomFactory(slug="lobby", name="Lobby")
    users = {
        "root": UserFactory(username="root", is_staff=True),
        "alice": UserFactory(username="alice"),
        "bob": UserFactory(username="bob"),
    }
    return {name: token_for(user) for name, user in users.items()}


async def _open(server: Server, path: str, token: str, greeting: str) -> WsClient:
    client = await WsClient.open(f"{server.ws}{path}?token={token}")
    await client.receive_type(greeting)
    return client


async def _watch(server: Server, slug: str, token: str) -> Board:
    board = Board(await WsClient.open(f"{server.ws}/ws/dashboards/{slug}/?token={token}"))
    await board.start()
    return board


def _pid(process_id: str | None) -> int | None:
    return int(process_id.split(":")[1]) if process_id else None


async def test_active_users_count_people_on_every_process(servers: Any, people: Any) -> None:
    one, two = servers(extra_env=FAST), servers(extra_env=FAST)
    board = await _watch(one, "system", people["root"])
    await board.until(lambda m: m["connections"] == 1)  # the watcher alone
    assert board.metrics["active_users"] == 1
    tabs = [
        await _open(one, "/ws/chat/lobby/", people["alice"], "history"),
        await _open(two, "/ws/dashboards/business/", people["alice"], "snapshot"),
        await _open(two, "/ws/chat/lobby/", people["bob"], "history"),
    ]
    seen = await board.until(lambda m: m["connections"] == 4)
    assert seen["active_users"] == 3  # three sockets of two users: +2
    for tab in tabs:
        await tab.close()
    seen = await board.until(lambda m: m["connections"] == 1)
    assert seen["active_users"] == 1


async def test_a_killed_process_stops_counting_after_the_sweep(servers: Any, people: Any) -> None:
    one, two = servers(extra_env=FAST), servers(extra_env=FAST)
    board = await _watch(one, "system", people["root"])
    await _open(two, "/ws/chat/lobby/", people["alice"], "history")
    await _open(two, "/ws/chat/lobby/", people["bob"], "history")
    seen = await board.until(lambda m: m["connections"] == 3)
    assert (seen["active_users"], seen["processes"]) == (3, 2)
    two.kill()
    # Nobody closed those sockets: they count until one's heartbeat sweeps them.
    seen = await board.until(lambda m: m["connections"] == 1, timeout=30)
    assert seen["active_users"] == 1
    seen = await board.until(lambda m: m["processes"] == 1, timeout=30)


def _like() -> None:
    EngagementEvent.objects.create(kind="like")


def _last_publisher() -> str:
    return DashboardState.objects.get(dashboard__slug="business").publisher


async def _like_and_watch(boards: list[Board], likes: int) -> None:
    await database_sync_to_async(_like)()
    for board in boards:
        await board.until(lambda m: m["likes_today"] == likes)


async def test_one_process_publishes_and_another_takes_over_when_it_dies(
    servers: Any, people: Any
) -> None:
    one, two = servers(extra_env=FAST), servers(extra_env=FAST)
    watchers = [await _watch(server, "business", people["alice"]) for server in (one, two)]
    holders = set()
    for likes in range(1, 4):
        await _like_and_watch(watchers, likes)
        holders.add(await database_sync_to_async(_last_publisher)())
    # Both processes run a publisher loop; one holds the lease and every update is its own.
    holder_pid = _pid(await lease_holder())
    assert [_pid(holder) for holder in holders] == [holder_pid]
    assert [HOLDS in server.log() for server in (one, two)].count(True) == 1
    # Each update was published once: both sockets saw the same seqs, one by one.
    assert [u["seq"] for u in watchers[0].updates] == [u["seq"] for u in watchers[1].updates]
    dying, surviving = (one, two) if holder_pid == one.process.pid else (two, one)
    survivor = watchers[[one, two].index(surviving)]
    last_seq = survivor.seq
    dying.kill()
    await _like_and_watch([survivor], 4)  # arrives once the lease has changed hands
    assert survivor.seq is not None and last_seq is not None and survivor.seq > last_seq
    assert _pid(await lease_holder()) == surviving.process.pid
    assert _pid(await database_sync_to_async(_last_publisher)()) == surviving.process.pid
    assert HOLDS in surviving.log()
