"""The state row: an update carries only what changed, gets the next seq, waits for its tick."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboards import services
from dashboards.models import Dashboard, DashboardState, EngagementEvent
from dashboards.services import (
    dashboard_group,
    dashboard_snapshot,
    dashboard_state_store,
    dashboards_publish,
    engagement_record,
)
from realtime.models import Connection

from .factories import DashboardFactory, OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any], int | None]]:
    sent: list[tuple[str, dict[str, Any], int | None]] = []

    def record(group: str, frame: dict[str, Any], *, position: int | None = None) -> None:
        sent.append((group, frame, position))

    monkeypatch.setattr(services, "publish", record)
    return sent


def _store(board: Dashboard, values: dict[str, Any], seconds: float, **kwargs: Any) -> bool:
    start = timezone.now().replace(microsecond=0)
    return dashboard_state_store(
        dashboard=board,
        values=values,
        now=start + timedelta(seconds=seconds),
        publisher=kwargs.pop("publisher", "p1"),
        **kwargs,
    )


def test_first_state_is_seq_zero_and_published_to_nobody(published: list[Any]) -> None:
    board = DashboardFactory()
    assert not _store(board, {"orders_today": 0}, 0)
    state = DashboardState.objects.get(dashboard=board)
    assert (state.seq, state.metrics) == (0, {"orders_today": 0})
    assert published == []


def test_a_change_publishes_only_the_changed_metrics_with_the_next_seq(
    published: list[Any],
) -> None:
    board = DashboardFactory()
    _store(board, {"orders_today": 0, "revenue_today": "0.00"}, 0)
    assert _store(board, {"orders_today": 1, "revenue_today": "0.00"}, 1)
    group, frame, position = published[0]
    assert group == dashboard_group(board)
    assert frame["type"] == "update" and frame["seq"] == 1 and position == 1
    assert frame["metrics"] == {"orders_today": 1}
    assert isinstance(frame["ts"], int)
    state = DashboardState.objects.get(dashboard=board)
    assert (state.seq, state.publisher) == (1, "p1")


def test_nothing_changed_publishes_nothing(published: list[Any]) -> None:
    board = DashboardFactory()
    _store(board, {"orders_today": 3}, 0)
    assert not _store(board, {"orders_today": 3}, 1)
    assert published == []
    assert DashboardState.objects.get(dashboard=board).seq == 0


def test_a_change_too_soon_after_an_update_waits_for_the_next_tick(published: list[Any]) -> None:
    board = DashboardFactory()
    _store(board, {"orders_today": 0}, 0)
    _store(board, {"orders_today": 1}, 1, min_gap=0.5)
    assert not _store(board, {"orders_today": 2}, 1.2, min_gap=0.5)
    assert _store(board, {"orders_today": 2}, 2, min_gap=0.5)
    assert [frame["metrics"] for _, frame, _ in published] == [
        {"orders_today": 1},
        {"orders_today": 2},
    ]


def test_a_sales_dashboard_announces_new_orders_in_its_update(
    published: list[Any], user: Any
) -> None:
    board = DashboardFactory(show_sales=True)
    OrderFactory(customer=user, item="Old")
    _store(board, {"orders_today": 1}, 0)
    order = OrderFactory(customer=user, item="Lamp")
    _store(board, {"orders_today": 2}, 1)
    sales = published[0][1]["sales"]
    assert [sale["item"] for sale in sales] == ["Lamp"]
    assert sales[0] == {
        "id": order.pk,
        "item": "Lamp",
        "amount": "12.50",
        "created": sales[0]["created"],
    }


def test_snapshot_carries_the_stored_state_and_its_seq(published: list[Any], user: Any) -> None:
    board = DashboardFactory(show_sales=True, metrics=["orders_today"])
    OrderFactory(customer=user, item="Mug")
    snapshot = dashboard_snapshot(dashboard=board)
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == 0
    assert snapshot["metrics"] == {"orders_today": 1}
    assert [sale["item"] for sale in snapshot["sales"]] == ["Mug"]


def test_a_stale_snapshot_is_refreshed_and_the_change_published(
    published: list[Any], user: Any
) -> None:
    board = DashboardFactory(metrics=["orders_today"])
    dashboard_snapshot(dashboard=board)
    OrderFactory(customer=user)
    DashboardState.objects.filter(dashboard=board).update(
        checked=timezone.now() - timedelta(seconds=10)
    )
    snapshot = dashboard_snapshot(dashboard=board)
    assert (snapshot["seq"], snapshot["metrics"]) == (1, {"orders_today": 1})
    assert published[0][1]["metrics"] == {"orders_today": 1}


def test_a_fresh_snapshot_is_not_recomputed(published: list[Any], user: Any) -> None:
    board = DashboardFactory(metrics=["orders_today"])
    dashboard_snapshot(dashboard=board)
    OrderFactory(customer=user)
    # The publisher refreshes it within a tick; a snapshot meanwhile keeps the seq it matches.
    assert dashboard_snapshot(dashboard=board)["metrics"] == {"orders_today": 0}
    assert published == []


def _watch(board: Dashboard, user: Any, n: int) -> None:
    now = timezone.now()
    Connection.objects.create(
        id=f"w{n}",
        user=user,
        endpoint="dashboards",
        target=board.slug,
        process="p1",
        connected=now,
        last_seen=now,
    )


def test_publish_tick_refreshes_watched_dashboards_only(published: list[Any], user: Any) -> None:
    watched = DashboardFactory(metrics=["likes_today"])
    unwatched = DashboardFactory(metrics=["likes_today"])
    _watch(watched, user, 1)
    assert dashboards_publish(publisher="p1") == 0  # the first state is stored, nobody told
    DashboardState.objects.update(published=timezone.now() - timedelta(seconds=5))
    engagement_record(kind="like", user=user)
    assert dashboards_publish(publisher="p1") == 1
    assert published[0][1]["metrics"] == {"likes_today": 1}
    assert not DashboardState.objects.filter(dashboard=unwatched).exists()


def test_publish_tick_query_count_does_not_grow_with_watchers(user: Any) -> None:
    boards = [DashboardFactory(metrics=["active_users", "orders_today"]) for _ in range(2)]
    for n in range(20):
        _watch(boards[n % 2], user, n)
    dashboards_publish(publisher="p1")
    with CaptureQueriesContext(connection) as queries:
        dashboards_publish(publisher="p1")
    # The watched dashboards and one read per metric group, then per dashboard a locked
    # read and a write (inside the test's transaction, each between two savepoint queries).
    assert len(queries) == 3 + 4 * len(boards)


def test_engagement_record_stores_known_kinds_only(user: Any) -> None:
    event = engagement_record(kind="share", user=user)
    assert (event.kind, event.user_id) == ("share", user.pk)
    with pytest.raises(ValueError):
        engagement_record(kind="poke", user=user)
    assert EngagementEvent.objects.count() == 1
