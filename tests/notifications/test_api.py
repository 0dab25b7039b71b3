"""REST of notifications: the inbox, sending (staff or service token), reading, orders."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from rest_framework.test import APIClient

from notifications.models import Notification, Order
from tests.conftest import token_for
from tests.factories import UserFactory

from .factories import NotificationFactory

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


@pytest.fixture
def staff() -> Any:
    return UserFactory(username="shopkeeper", is_staff=True)


def test_get_lists_my_notifications_newest_first_paginated(user: Any, other_user: Any) -> None:
    mine = [NotificationFactory(recipient=user, title=f"n{n}") for n in range(52)]
    NotificationFactory(recipient=other_user, title="not yours")
    response = client_for(user).get("/api/notifications/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 52 and body["next"] and body["previous"] is None
    assert [item["title"] for item in body["results"]] == [f"n{n}" for n in range(51, 1, -1)]
    first = body["results"][0]
    assert first == {
        "type": "notification",
        "id": mine[51].pk,
        "kind": "system_alert",
        "title": "n51",
        "body": "Something happened.",
        "data": {},
        "created": first["created"],
        "read": False,
    }
    rest = client_for(user).get(body["next"]).json()
    assert [item["title"] for item in rest["results"]] == ["n1", "n0"]


def test_get_needs_authentication() -> None:
    response = APIClient().get("/api/notifications/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_staff_posts_to_a_list_of_users(staff: Any, user: Any, other_user: Any) -> None:
    response = client_for(staff).post(
        "/api/notifications/",
        {"users": [other_user.pk, user.pk], "kind": "order", "title": "Hi", "data": {"x": 1}},
        format="json",
    )
    assert response.status_code == 201
    ids = response.json()["ids"]
    rows = Notification.objects.filter(pk__in=ids).order_by("recipient_id")
    assert [row.recipient_id for row in rows] == sorted([user.pk, other_user.pk])
    assert rows[0].data == {"x": 1} and rows[0].body == ""


def test_staff_posts_to_everyone(staff: Any, user: Any, other_user: Any) -> None:
    response = client_for(staff).post(
        "/api/notifications/",
        {"users": "all", "kind": "system_alert", "title": "Maintenance", "body": "at 22:00"},
        format="json",
    )
    assert response.status_code == 201
    assert len(response.json()["ids"]) == 3
    assert Notification.objects.filter(title="Maintenance").count() == 3


def test_non_staff_cannot_post(user: Any, other_user: Any) -> None:
    response = client_for(user).post(
        "/api/notifications/",
        {"users": [other_user.pk], "kind": "order", "title": "Fake"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert not Notification.objects.exists()


def test_a_service_token_may_post(user: Any, capsys: Any) -> None:
    call_command("notify_token", "billing-service")
    token = capsys.readouterr().out.strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post(
        "/api/notifications/",
        {"users": [user.pk], "kind": "invoice", "title": "Your invoice is ready"},
        format="json",
    )
    assert response.status_code == 201
    assert Notification.objects.get().recipient_id == user.pk


def test_the_permission_alone_makes_a_service_account(user: Any) -> None:
    service = UserFactory(username="svc")
    service.user_permissions.add(
        Permission.objects.get(codename="add_notification", content_type__app_label="notifications")
    )
    response = client_for(service).post(
        "/api/notifications/", {"users": "all", "kind": "x", "title": "t"}, format="json"
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"users": [], "kind": "order", "title": "t"}, "users"),
        ({"users": "everyone", "kind": "order", "title": "t"}, "users"),
        ({"users": [10**9], "kind": "order", "title": "t"}, "users"),
        ({"users": ["1"], "kind": "order", "title": "t"}, "users"),
        ({"users": "all", "kind": "Bad Kind", "title": "t"}, "kind"),
        ({"users": "all", "kind": "order", "title": ""}, "title"),
        ({"users": "all", "kind": "order", "title": "x" * 201}, "title"),
        ({"users": "all", "kind": "order", "title": "t", "data": [1]}, "data"),
        ({"users": "all", "kind": "order", "title": "t", "data": {"x": "y" * 9000}}, "data"),
    ],
)
def test_bad_posts_name_the_field_and_store_nothing(
    staff: Any, body: dict[str, Any], field: str
) -> None:
    response = client_for(staff).post("/api/notifications/", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]
    assert not Notification.objects.exists()


def test_read_over_rest(user: Any, other_user: Any) -> None:
    mine = NotificationFactory(recipient=user)
    NotificationFactory(recipient=user)
    theirs = NotificationFactory(recipient=other_user)
    client = client_for(user)
    response = client.post("/api/notifications/read/", {"ids": [mine.pk, theirs.pk]}, format="json")
    assert response.json() == {"unread": 1}
    theirs.refresh_from_db()
    assert not theirs.read
    assert client.post("/api/notifications/read/", {"all": True}, format="json").json() == {
        "unread": 0
    }
    bad = client.post("/api/notifications/read/", {"all": False}, format="json")
    assert bad.status_code == 400
    assert client.get("/api/notifications/?unread=1").json()["count"] == 0


def test_an_order_notifies_the_shops_staff(user: Any, staff: Any) -> None:
    other_staff = UserFactory(username="manager", is_staff=True)
    response = client_for(user).post(
        "/api/orders/", {"amount": "12.50", "item": "Coffee"}, format="json"
    )
    assert response.status_code == 201
    order = Order.objects.get()
    assert response.json()["id"] == order.pk and response.json()["amount"] == "12.50"
    notes = Notification.objects.filter(kind="order").order_by("recipient_id")
    assert [note.recipient_id for note in notes] == [staff.pk, other_staff.pk]
    assert notes[0].title == f"New order #{order.pk}"
    assert notes[0].data["amount"] == "12.50"
    assert notes[0].data["customer"] == {"id": user.pk, "username": "alice"}


@pytest.mark.parametrize("amount", ["0", "-1", "abc", "1.234", None])
def test_bad_orders_are_refused(user: Any, staff: Any, amount: Any) -> None:
    body = {} if amount is None else {"amount": amount}
    response = client_for(user).post("/api/orders/", body, format="json")
    assert response.status_code == 400
    assert "amount" in response.json()["error"]["fields"]
    assert not Order.objects.exists() and not Notification.objects.exists()


def test_openapi_schema_documents_the_endpoints(user: Any) -> None:
    response = client_for(user).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/notifications/",
        "/api/notifications/read/",
        "/api/orders/",
        "/api/friend-requests/",
        "/api/friend-requests/{id}/accept/",
        "/api/products/{id}/watch/",
        "/api/alerts/",
    ):
        assert path in paths, path
    assert "post" in paths["/api/notifications/"] and "get" in paths["/api/notifications/"]
