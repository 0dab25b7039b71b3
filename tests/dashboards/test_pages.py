"""The dashboard pages, their defaults from the first migration, and the demo command."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.migrations import RunPython
from django.test import Client

from chat.models import Message
from dashboards import demo
from dashboards.models import Dashboard, EngagementEvent
from notifications.models import Order
from tests.factories import PASSWORD, RoomFactory, UserFactory


def _logged_in(user: Any) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.mark.django_db
def test_business_and_system_exist_from_the_first_migration() -> None:
    initial = importlib.import_module("dashboards.migrations.0001_initial")
    data_steps = [op for op in initial.Migration.operations if isinstance(op, RunPython)]
    assert [op.code for op in data_steps] == [initial.create_dashboards]
    # Run it as the migration does, on an empty table (transactional tests flush its rows).
    Dashboard.objects.all().delete()
    initial.create_dashboards(django_apps, None)
    found = {board.slug: board for board in Dashboard.objects.all()}
    assert not found["business"].staff_only and found["system"].staff_only
    assert found["business"].show_sales
    # The demo seeds the same dashboards the migration creates.
    assert {slug: board.metrics for slug, board in found.items()} == {
        "business": demo.BUSINESS,
        "system": demo.SYSTEM,
    }


@pytest.mark.django_db
def test_dashboard_page_has_a_tile_per_metric(boards: Any, user: Any) -> None:
    response = _logged_in(user).get("/dashboards/business/")
    assert response.status_code == 200
    page = response.content.decode()
    for name in boards["business"].metrics:
        assert f'data-metric="{name}"' in page
    assert 'id="sales-ticker"' in page and 'data-event="like"' in page


@pytest.mark.django_db
def test_staff_only_page_is_403_for_others_and_shows_nothing_of_it(boards: Any, user: Any) -> None:
    response = _logged_in(user).get("/dashboards/system/")
    assert response.status_code == 403
    page = response.content.decode()
    assert boards["system"].title not in page


@pytest.mark.django_db
def test_list_page_shows_what_the_user_may_open(boards: Any, user: Any, staff: Any) -> None:
    assert "System" not in _logged_in(user).get("/dashboards/").content.decode()
    assert "System" in _logged_in(staff).get("/dashboards/").content.decode()


@pytest.mark.django_db
def test_pages_need_a_login(boards: Any) -> None:
    assert Client().get("/dashboards/business/").status_code == 302


@pytest.mark.django_db
def test_simulate_traffic_places_orders_likes_shares_and_messages() -> None:
    UserFactory(username="alice")
    RoomFactory(slug="lobby")
    call_command("simulate_traffic", "--seconds", "1", "--rate", "40", "--seed", "3")
    made = Order.objects.count() + EngagementEvent.objects.count() + Message.objects.count()
    assert made == 40
    assert Order.objects.exists() and EngagementEvent.objects.filter(kind="like").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("args", [["--seconds", "0"], ["--rate", "101"], ["--seconds", "3601"]])
def test_simulate_traffic_is_bounded(args: list[str]) -> None:
    UserFactory(username="alice")
    with pytest.raises(CommandError):
        call_command("simulate_traffic", *args)
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_simulate_traffic_needs_users() -> None:
    with pytest.raises(CommandError, match="demo"):
        call_command("simulate_traffic", "--seconds", "1")


@pytest.mark.django_db
def test_staff_manage_dashboards_in_the_admin(boards: Any) -> None:
    admin = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client = _logged_in(admin)
    assert client.get("/admin/dashboards/dashboard/").status_code == 200
    board = boards["business"]
    assert client.get(f"/admin/dashboards/dashboard/{board.pk}/change/").status_code == 200
    response = client.post(
        "/admin/dashboards/dashboard/add/",
        {
            "slug": "shop",
            "title": "Shop",
            "metrics": ["revenue_today", "orders_today"],
            "staff_only": "on",
            "position": "3",
            "state-TOTAL_FORMS": "0",
            "state-INITIAL_FORMS": "0",
            "state-MIN_NUM_FORMS": "0",
            "state-MAX_NUM_FORMS": "0",
        },
    )
    assert response.status_code == 302
    shop = Dashboard.objects.get(slug="shop")
    assert shop.staff_only and set(shop.metrics) == {"revenue_today", "orders_today"}
