"""Admin pages (the queue, dead letters, their actions, the sources) and the app's pages."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client

from notifications.demo import seed
from notifications.models import FriendRequest, Notification, Order, SystemAlert
from tests.factories import UserFactory

from .factories import NotificationFactory, PriceWatchFactory, ProductFactory

pytestmark = pytest.mark.django_db

Status = Notification.Status


@pytest.fixture
def shopkeeper(client: Client) -> Any:
    staff = UserFactory(username="shopkeeper", is_staff=True, is_superuser=True)
    client.force_login(staff)
    return staff


def test_dead_letters_page_lists_only_dead_letters(client: Client, shopkeeper: Any) -> None:
    NotificationFactory(title="queued one")
    NotificationFactory(title="dead one", status=Status.DEAD, dead_reason="attempts", attempts=5)
    dead = client.get("/admin/notifications/deadletter/").content.decode()
    assert "dead one" in dead and "queued one" not in dead and "too many attempts" in dead
    queue = client.get("/admin/notifications/queuednotification/").content.decode()
    assert "queued one" in queue and "dead one" not in queue


def test_requeue_and_discard_actions(client: Client, shopkeeper: Any) -> None:
    dead = NotificationFactory(status=Status.DEAD, dead_reason="age", attempts=3)
    doomed = NotificationFactory(status=Status.DEAD, dead_reason="attempts")
    response = client.post(
        "/admin/notifications/deadletter/",
        {"action": "requeue", "_selected_action": [dead.pk]},
        follow=True,
    )
    assert "Requeued 1 notification(s)." in response.content.decode()
    dead.refresh_from_db()
    assert (dead.status, dead.attempts, dead.dead_reason) == (Status.PENDING, 0, "")
    client.post(
        "/admin/notifications/deadletter/", {"action": "discard", "_selected_action": [doomed.pk]}
    )
    assert not Notification.objects.filter(pk=doomed.pk).exists()


def test_staff_without_the_permission_cannot_requeue(client: Client) -> None:
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_deadletter", content_type__app_label="notifications")
    )
    client.force_login(viewer)
    dead = NotificationFactory(status=Status.DEAD, dead_reason="age")
    page = client.get("/admin/notifications/deadletter/").content.decode()
    assert "Requeue" not in page
    client.post(
        "/admin/notifications/deadletter/", {"action": "requeue", "_selected_action": [dead.pk]}
    )
    dead.refresh_from_db()
    assert dead.status == Status.DEAD


def test_admin_adds_go_through_the_services(client: Client, shopkeeper: Any) -> None:
    alice = UserFactory(username="alice")
    client.post("/admin/notifications/systemalert/add/", {"title": "Hello all", "level": "info"})
    assert SystemAlert.objects.get().recipients == 2
    assert Notification.objects.filter(kind="system_alert").count() == 2
    client.post(
        "/admin/notifications/order/add/", {"customer": alice.pk, "item": "Tea", "amount": "3.00"}
    )
    assert Order.objects.get().item == "Tea"
    assert Notification.objects.get(kind="order").recipient_id == shopkeeper.pk
    watch = PriceWatchFactory(user=alice, threshold=Decimal("50.00"))
    client.post(
        f"/admin/notifications/product/{watch.product_id}/change/",
        {"name": watch.product.name, "price": "45.00"},
    )
    assert Notification.objects.get(kind="price_drop").recipient_id == alice.pk


def test_inbox_page_and_mark_read(client: Client, user: Any) -> None:
    client.force_login(user)
    note = NotificationFactory(recipient=user, title="Your parcel shipped")
    NotificationFactory(recipient=user)
    page = client.get("/notifications/").content.decode()
    assert "Your parcel shipped" in page and "2 unread" in page
    client.post("/notifications/read/", {"id": note.pk})
    note.refresh_from_db()
    assert note.read
    client.post("/notifications/read/", {})
    assert not Notification.objects.filter(read=False).exists()


def test_the_bell_is_on_every_page(client: Client, user: Any) -> None:
    client.force_login(user)
    page = client.get("/notifications/shop/").content.decode()
    assert 'id="notification-bell"' in page and "notifications/bell.js" in page


def test_shop_page_places_orders_and_watches(client: Client, user: Any) -> None:
    staff = UserFactory(username="staff", is_staff=True)
    product = ProductFactory(name="Kettle", price=Decimal("30.00"))
    client.force_login(user)
    assert "Kettle" in client.get("/notifications/shop/").content.decode()
    client.post("/notifications/shop/", {"item": "Kettle", "amount": "30.00"})
    assert Notification.objects.get(kind="order").recipient_id == staff.pk
    client.post(f"/notifications/shop/{product.pk}/watch/", {"threshold": "25"})
    assert product.watches.get().threshold == Decimal("25.00")
    # Only staff set prices.
    client.post(f"/notifications/shop/{product.pk}/price/", {"price": "1.00"})
    product.refresh_from_db()
    assert product.price == Decimal("30.00")


def test_friends_and_alerts_pages(client: Client, user: Any, other_user: Any) -> None:
    client.force_login(user)
    client.post("/notifications/friends/", {"username": "bob"})
    request = FriendRequest.objects.get()
    assert Notification.objects.get(kind="friend_request").recipient_id == other_user.pk
    client.force_login(other_user)
    client.post(f"/notifications/friends/{request.pk}/answer/", {"answer": "accept"})
    assert Notification.objects.get(kind="friend_accepted").recipient_id == user.pk
    refused = client.post("/notifications/alerts/", {"title": "Fake", "level": "info"})
    assert refused.status_code == 403 and not SystemAlert.objects.exists()


def test_notify_command() -> None:
    UserFactory(username="alice")
    UserFactory(username="bob")
    out = StringIO()
    call_command("notify", "--user", "alice", "--title", "Hi", "--data", '{"a": 1}', stdout=out)
    assert "Sent 1 notification(s)." in out.getvalue()
    assert Notification.objects.get().data == {"a": 1}
    call_command("notify", "--all", "--title", "Everyone", stdout=out)
    assert Notification.objects.filter(title="Everyone", kind="system_alert").count() == 2
    with pytest.raises(CommandError):
        call_command("notify", "--user", "nobody", "--title", "x")
    with pytest.raises(CommandError):
        call_command("notify", "--all", "--title", "x", "--kind", "Not A Kind")


def test_demo_seed_is_idempotent() -> None:
    users = {name: UserFactory(username=name) for name in ("admin", "alice", "bob", "carol")}
    seed(users=users)
    counts = (Notification.objects.count(), FriendRequest.objects.count())
    seed(users=users)
    assert (Notification.objects.count(), FriendRequest.objects.count()) == counts
    assert counts[1] == 1
