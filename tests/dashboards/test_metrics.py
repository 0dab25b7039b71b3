"""Every metric is read from real rows and the real host."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from chat.services import room_post_message
from dashboards.catalog import METRICS
from dashboards.metrics import metrics_read, start_of_today
from realtime.models import Connection, ServerProcess
from tests.factories import RoomFactory, UserFactory

from .factories import EngagementEventFactory, OrderFactory

pytestmark = pytest.mark.django_db


def _socket(user: Any, n: int, endpoint: str = "chat") -> Connection:
    now = timezone.now()
    return Connection.objects.create(
        id=f"s{n}", user=user, endpoint=endpoint, process="p1", connected=now, last_seen=now
    )


def test_active_users_are_distinct_users_and_connections_are_sockets() -> None:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    _socket(alice, 1)
    _socket(alice, 2, endpoint="dashboards")
    _socket(bob, 3)
    values = metrics_read(names=["active_users", "connections"], now=timezone.now())
    assert values == {"active_users": 2, "connections": 3}


def test_messages_of_the_last_minute_only(user: Any) -> None:
    room = RoomFactory()
    old, _ = room_post_message(room=room, user=user, body="old")
    old.created = timezone.now() - timedelta(seconds=61)
    old.save()
    room_post_message(room=room, user=user, body="new")
    assert metrics_read(names=["messages_last_minute"], now=timezone.now()) == {
        "messages_last_minute": 1
    }


def test_orders_and_revenue_of_today_only(user: Any) -> None:
    now = timezone.now()
    OrderFactory(customer=user, amount=Decimal("12.50"))
    OrderFactory(customer=user, amount=Decimal("0.75"))
    OrderFactory(
        customer=user, amount=Decimal("99.00"), created=start_of_today(now) - timedelta(seconds=1)
    )
    values = metrics_read(names=["orders_today", "revenue_today"], now=now)
    assert values == {"orders_today": 2, "revenue_today": "13.25"}


def test_revenue_is_a_decimal_string_when_nothing_sold() -> None:
    assert metrics_read(names=["revenue_today"], now=timezone.now()) == {"revenue_today": "0.00"}


def test_likes_and_shares_of_today(user: Any) -> None:
    EngagementEventFactory.create_batch(3, kind="like", user=user)
    EngagementEventFactory(kind="share", user=user)
    EngagementEventFactory(kind="like", created=timezone.now() - timedelta(days=2))
    values = metrics_read(names=["likes_today", "shares_today"], now=timezone.now())
    assert values == {"likes_today": 3, "shares_today": 1}


def test_host_and_health_metrics_are_plausible_numbers() -> None:
    now = timezone.now()
    ServerProcess.objects.create(id="p1", hostname="h", pid=1, started=now, last_heartbeat=now)
    names = ["cpu_percent", "memory_percent", "db_latency_ms", "processes"]
    values = metrics_read(names=names, now=now)
    assert 0 <= values["cpu_percent"] <= 100  # type: ignore[operator]
    assert 0 < values["memory_percent"] <= 100  # type: ignore[operator]
    assert values["db_latency_ms"] >= 0  # type: ignore[operator]
    assert values["processes"] == 1


def test_a_probed_metric_comes_from_the_probe_or_keeps_its_last_value() -> None:
    now = timezone.now()
    name = "channel_layer_latency_ms"
    assert metrics_read(names=[name], now=now, probes={name: 1.5}) == {name: 1.5}
    assert metrics_read(names=[name], now=now, previous={name: 2.0}) == {name: 2.0}
    assert metrics_read(names=[name], now=now) == {name: None}


def test_unknown_names_are_skipped_and_every_known_one_is_read() -> None:
    values = metrics_read(names=[*METRICS, "no_such_metric"], now=timezone.now())
    assert set(values) == set(METRICS)
