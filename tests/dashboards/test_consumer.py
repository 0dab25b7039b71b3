"""The dashboard socket as a client sees it: snapshot, coalesced updates, refusals."""

from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.urls import Resolver404, resolve
from rest_framework.test import APIClient

from notifications.models import Order
from tests.conftest import Connect

from .board import Board

pytestmark = pytest.mark.django_db(transaction=True)


async def test_snapshot_on_connect_holds_every_metric_of_the_dashboard(
    connect: Connect, boards: Any, user: Any
) -> None:
    client = await connect("/ws/dashboards/business/", user)
    snapshot = await client.receive()
    assert snapshot["type"] == "snapshot"
    assert set(snapshot["metrics"]) == set(boards["business"].metrics)
    assert snapshot["metrics"]["orders_today"] == 0
    assert snapshot["metrics"]["revenue_today"] == "0.00"
    assert snapshot["metrics"]["active_users"] == 1  # this very socket
    assert isinstance(snapshot["seq"], int) and isinstance(snapshot["ts"], int)
    assert snapshot["sales"] == []


async def test_staff_only_dashboard_refuses_others_with_4403(
    connect: Connect, boards: Any, user: Any
) -> None:
    client = await connect("/ws/dashboards/system/", user)
    assert await client.closed_with() == 4403


async def test_staff_opens_the_system_dashboard(connect: Connect, boards: Any, staff: Any) -> None:
    client = await connect("/ws/dashboards/system/", staff)
    snapshot = await client.receive_type("snapshot")
    assert 0 <= snapshot["metrics"]["cpu_percent"] <= 100
    assert snapshot["metrics"]["connections"] == 1


async def test_unknown_dashboard_is_4404(connect: Connect, boards: Any, user: Any) -> None:
    client = await connect("/ws/dashboards/nope/", user)
    assert await client.closed_with() == 4404


async def test_no_token_is_4401(connect: Connect, boards: Any) -> None:
    client = await connect("/ws/dashboards/business/")
    assert await client.closed_with() == 4401


def _place_orders(customer: Any, amounts: list[Decimal]) -> None:
    # One transaction per order, as separate checkouts would commit.
    for amount in amounts:
        Order.objects.create(customer=customer, item="Mug", amount=amount)


async def test_an_order_shows_in_the_next_update(connect: Connect, boards: Any, user: Any) -> None:
    board = Board(await connect("/ws/dashboards/business/", user))
    await board.start()
    await database_sync_to_async(_place_orders)(user, [Decimal("12.50")])
    update = await board.next_update()
    while "orders_today" not in update["metrics"]:
        update = await board.next_update()
    assert update["metrics"]["orders_today"] == 1
    assert update["metrics"]["revenue_today"] == "12.50"
    assert [sale["amount"] for sale in update["sales"]] == ["12.50"]


def _orders_route_exists() -> bool:
    try:
        resolve("/api/orders/")
    except Resolver404:
        return False
    return True


async def test_an_order_posted_through_rest_shows_in_the_next_update(
    connect: Connect, boards: Any, user: Any
) -> None:
    if not await database_sync_to_async(_orders_route_exists)():
        pytest.skip("POST /api/orders/ is not served")
    board = Board(await connect("/ws/dashboards/business/", user))
    await board.start()

    def post() -> int:
        api = APIClient()
        api.force_authenticate(user)
        response = api.post("/api/orders/", {"amount": "7.25", "item": "Tea"}, format="json")
        return response.status_code

    assert await database_sync_to_async(post)() == 201
    metrics = await board.until(lambda m: m["orders_today"] == 1)
    assert metrics["revenue_today"] == "7.25"
    first = next(u for u in board.updates if "orders_today" in u["metrics"])
    assert first["sales"][0]["item"] == "Tea"


async def test_a_burst_of_orders_is_coalesced_into_one_update_per_tick(
    connect: Connect, boards: Any, user: Any
) -> None:
    board = Board(await connect("/ws/dashboards/business/", user))
    await board.start()
    started = time.monotonic()
    await database_sync_to_async(_place_orders)(user, [Decimal("1.25")] * 100)
    elapsed = time.monotonic() - started
    metrics = await board.until(lambda m: m["orders_today"] == 100)
    assert metrics["revenue_today"] == "125.00"
    carrying = [u for u in board.updates if "orders_today" in u["metrics"]]
    # Orders placed within one tick arrive in at most two updates (the burst may straddle
    # a tick); a slower burst in at most one more per tick it lasted.
    ticks = math.ceil(elapsed / settings.DASHBOARD_UPDATE_SECONDS)
    assert len(carrying) <= max(2, 1 + ticks)
    assert sum(len(u.get("sales", [])) for u in carrying) <= 10 * len(carrying)


async def test_nothing_changes_nothing_is_sent(connect: Connect, boards: Any, user: Any) -> None:
    board = Board(await connect("/ws/dashboards/business/", user))
    await board.start()
    # Settle: the snapshot may predate this socket's own registration by a tick.
    await board.until(lambda m: m["active_users"] == 1)
    assert await board.client.nothing(timeout=2.5)  # type: ignore[attr-defined]


async def test_snapshot_action_replies_with_ref_and_current_seq(
    connect: Connect, boards: Any, user: Any
) -> None:
    client = await connect("/ws/dashboards/business/", user)
    board = Board(client)
    await board.start()
    await database_sync_to_async(_place_orders)(user, [Decimal("3.00")])
    await board.until(lambda m: m["orders_today"] == 1)
    await client.send({"action": "snapshot", "ref": "s1"})
    reply = await client.receive_type("snapshot")
    assert reply["ref"] == "s1"
    assert reply["seq"] >= board.seq  # type: ignore[operator]
    assert reply["metrics"]["orders_today"] == 1


async def test_unknown_action_and_ping(connect: Connect, boards: Any, user: Any) -> None:
    client = await connect("/ws/dashboards/business/", user)
    await client.receive_type("snapshot")
    await client.send({"action": "order", "ref": 1})
    error = await client.receive_type("error")
    assert (error["code"], error["ref"]) == ("unknown_action", 1)
    await client.send({"action": "ping"})
    await client.receive_type("pong")


async def test_two_sockets_see_the_same_updates(
    connect: Connect, boards: Any, user: Any, other_user: Any
) -> None:
    first = Board(await connect("/ws/dashboards/business/", user))
    await first.start()
    second = Board(await connect("/ws/dashboards/business/", other_user))
    await second.start()
    await database_sync_to_async(_place_orders)(user, [Decimal("2.00")] * 2)
    await first.until(lambda m: m["orders_today"] == 2 and m["active_users"] == 2)
    await second.until(lambda m: m["orders_today"] == 2 and m["active_users"] == 2)
    assert first.seq == second.seq and first.metrics == second.metrics
