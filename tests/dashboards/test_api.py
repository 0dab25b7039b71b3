"""The REST side of dashboards: the list, a snapshot, engagement events."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from dashboards.models import EngagementEvent

from .factories import OrderFactory

pytestmark = pytest.mark.django_db


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_list_hides_staff_only_dashboards_from_others(boards: Any, user: Any) -> None:
    response = _api(user).get("/api/dashboards/")
    assert response.status_code == 200
    assert response.json() == [
        {
            "slug": "business",
            "title": "Business",
            "staff_only": False,
            "metrics": boards["business"].metrics,
        }
    ]


def test_staff_see_every_dashboard(boards: Any, staff: Any) -> None:
    listed = _api(staff).get("/api/dashboards/").json()
    assert [(board["slug"], board["staff_only"]) for board in listed] == [
        ("business", False),
        ("system", True),
    ]
    assert "cpu_percent" in listed[1]["metrics"]


def test_snapshot_carries_the_metrics_a_socket_snapshot_carries(boards: Any, user: Any) -> None:
    OrderFactory(customer=user, item="Lamp")
    body = _api(user).get("/api/dashboards/business/").json()
    assert body["slug"] == "business" and body["title"] == "Business"
    assert set(body["metrics"]) == set(boards["business"].metrics)
    assert body["metrics"]["orders_today"] == 1
    assert body["metrics"]["revenue_today"] == "12.50"
    assert isinstance(body["seq"], int) and isinstance(body["ts"], int)
    assert [sale["item"] for sale in body["sales"]] == ["Lamp"]


def test_snapshot_of_a_staff_only_dashboard_is_403_for_others(boards: Any, user: Any) -> None:
    response = _api(user).get("/api/dashboards/system/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_snapshot_of_an_unknown_dashboard_is_404(boards: Any, user: Any) -> None:
    response = _api(user).get("/api/dashboards/nope/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_events_are_recorded(user: Any) -> None:
    response = _api(user).post("/api/events/", {"kind": "like"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "like" and isinstance(body["created"], int)
    event = EngagementEvent.objects.get()
    assert (event.pk, event.kind, event.user_id) == (body["id"], "like", user.pk)
    assert _api(user).post("/api/events/", {"kind": "share"}, format="json").status_code == 201
    assert EngagementEvent.objects.filter(kind="share").count() == 1


@pytest.mark.parametrize("body", [{}, {"kind": "poke"}, {"kind": ""}, {"kind": 1}, {"kind": None}])
def test_bad_events_are_400_and_store_nothing(user: Any, body: dict[str, Any]) -> None:
    response = _api(user).post("/api/events/", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "kind" in error["fields"]
    assert not EngagementEvent.objects.exists()


def test_anonymous_is_refused(boards: Any) -> None:
    client = APIClient()
    assert client.get("/api/dashboards/").status_code in (401, 403)
    assert client.post("/api/events/", {"kind": "like"}, format="json").status_code in (401, 403)
    assert not EngagementEvent.objects.exists()
