"""The events users expect to hear about: friend requests, price drops, system alerts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from notifications.models import FriendRequest, Notification, PriceWatch, Product, SystemAlert
from tests.factories import UserFactory

from .factories import PriceWatchFactory, ProductFactory
from .test_api import client_for

pytestmark = pytest.mark.django_db


def notes(kind: str) -> list[Notification]:
    return list(Notification.objects.filter(kind=kind).order_by("recipient_id", "id"))


def test_friend_request_sent_and_accepted(user: Any, other_user: Any) -> None:
    sent = client_for(user).post("/api/friend-requests/", {"to": other_user.pk}, format="json")
    assert sent.status_code == 201
    request = sent.json()
    assert request["from_user"] == {"id": user.pk, "username": "alice"}
    assert request["to_user"]["id"] == other_user.pk and request["status"] == "pending"
    [asked] = notes("friend_request")
    assert asked.recipient_id == other_user.pk
    assert asked.title == "alice sent you a friend request"
    assert asked.data == {"request": request["id"], "from": {"id": user.pk, "username": "alice"}}

    # Only the recipient may answer; to anyone else the request does not exist.
    stranger = client_for(user).post(f"/api/friend-requests/{request['id']}/accept/")
    assert stranger.status_code == 404
    accepted = client_for(other_user).post(f"/api/friend-requests/{request['id']}/accept/")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    [told] = notes("friend_accepted")
    assert told.recipient_id == user.pk and told.data["friend"]["username"] == "bob"
    again = client_for(other_user).post(f"/api/friend-requests/{request['id']}/decline/")
    assert again.status_code == 400
    listed = client_for(user).get("/api/friend-requests/").json()
    assert [item["status"] for item in listed["results"]] == ["accepted"]


def test_declining_notifies_nobody(user: Any, other_user: Any) -> None:
    request = client_for(user).post("/api/friend-requests/", {"to": other_user.pk}, format="json")
    client_for(other_user).post(f"/api/friend-requests/{request.json()['id']}/decline/")
    assert FriendRequest.objects.get().status == "declined"
    assert notes("friend_accepted") == []
    # Declined, it is not sent again at once (test_friend_requests.py: the cooldown).
    retry = client_for(user).post("/api/friend-requests/", {"to": other_user.pk}, format="json")
    assert retry.status_code == 400


@pytest.mark.parametrize("target", ["self", "missing", "pending", "reverse", "friends"])
def test_friend_requests_that_cannot_be(user: Any, other_user: Any, target: str) -> None:
    to = {"self": user.pk, "missing": 10**9}.get(target, other_user.pk)
    if target in ("pending", "friends"):
        FriendRequest.objects.create(
            from_user=user,
            to_user=other_user,
            status="accepted" if target == "friends" else "pending",
        )
    if target == "reverse":
        FriendRequest.objects.create(from_user=other_user, to_user=user)
    before = Notification.objects.count()
    response = client_for(user).post("/api/friend-requests/", {"to": to}, format="json")
    assert response.status_code == 400
    assert "to" in response.json()["error"]["fields"]
    assert Notification.objects.count() == before


def test_a_price_falling_to_a_threshold_notifies_its_watchers_once(user: Any) -> None:
    staff = UserFactory(username="staff", is_staff=True)
    product = ProductFactory(name="Headphones", price=Decimal("200.00"))
    watch = client_for(user).put(
        f"/api/products/{product.pk}/watch/", {"threshold": "150.00"}, format="json"
    )
    assert watch.status_code == 200 and watch.json()["watch"] == "150.00"
    low = PriceWatchFactory(product=product, threshold=Decimal("100.00"))

    def set_price(price: str) -> Any:
        return client_for(staff).patch(
            f"/api/products/{product.pk}/", {"price": price}, format="json"
        )

    assert set_price("180.00").status_code == 200
    assert notes("price_drop") == []
    assert set_price("150.00").json()["price"] == "150.00"
    [drop] = notes("price_drop")
    assert drop.recipient_id == user.pk
    assert drop.data == {
        "product": product.pk,
        "name": "Headphones",
        "price": "150.00",
        "was": "180.00",
    }
    set_price("140.00")  # still below: already told
    assert len(notes("price_drop")) == 1
    set_price("160.00")  # back above: the watch re-arms
    set_price("90.00")  # crosses both thresholds
    assert [note.recipient_id for note in notes("price_drop")] == sorted(
        [user.pk, user.pk, low.user_id]
    )


def test_price_watch_and_price_input_is_checked(user: Any) -> None:
    product = ProductFactory(price=Decimal("50.00"))
    client = client_for(user)
    above = client.put(f"/api/products/{product.pk}/watch/", {"threshold": "60"}, format="json")
    assert above.status_code == 400 and "threshold" in above.json()["error"]["fields"]
    assert (
        client.put(
            f"/api/products/{product.pk}/watch/", {"threshold": "-1"}, format="json"
        ).status_code
        == 400
    )
    assert not PriceWatch.objects.exists()
    assert (
        client.patch(f"/api/products/{product.pk}/", {"price": "1.00"}, format="json").status_code
        == 403
    )
    assert (
        client.post("/api/products/", {"name": "X", "price": "1"}, format="json").status_code == 403
    )
    assert Product.objects.get().price == Decimal("50.00")
    assert (
        client.put("/api/products/999999/watch/", {"threshold": "1"}, format="json").status_code
        == 404
    )
    client.put(f"/api/products/{product.pk}/watch/", {"threshold": "40"}, format="json")
    assert client.delete(f"/api/products/{product.pk}/watch/").status_code == 204
    assert not PriceWatch.objects.exists()


def test_staff_post_a_system_alert_to_everyone(user: Any, other_user: Any) -> None:
    staff = UserFactory(username="staff", is_staff=True)
    UserFactory(username="gone", is_active=False)
    response = client_for(staff).post(
        "/api/alerts/",
        {"title": "Maintenance", "body": "22:00 UTC", "level": "warning"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["recipients"] == 3
    alert = SystemAlert.objects.get()
    assert [note.recipient_id for note in notes("system_alert")] == sorted(
        [user.pk, other_user.pk, staff.pk]
    )
    assert notes("system_alert")[0].data == {"alert": alert.pk, "level": "warning"}
    forbidden = client_for(user).post("/api/alerts/", {"title": "Fake"}, format="json")
    assert forbidden.status_code == 403
    assert SystemAlert.objects.count() == 1
    assert client_for(user).get("/api/alerts/").json()["results"][0]["title"] == "Maintenance"
