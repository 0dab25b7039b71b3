"""Service tokens: stored hashed, shown once, publish notifications and nothing else, revocable."""

from __future__ import annotations

import hashlib
import logging
import re
from io import StringIO
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from notifications.models import Notification, ServiceToken
from tests.conftest import Connect
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"rts_[A-Za-z0-9_-]{40,}")


def _issue(name: str = "billing") -> str:
    out = StringIO()
    call_command("notify_token", name, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def _client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _publish(secret: str, user: Any) -> Any:
    return _client(secret).post(
        "/api/notifications/",
        {"users": [user.pk], "kind": "invoice", "title": "Your invoice is ready"},
        format="json",
    )


def test_the_command_prints_a_secret_once_and_stores_its_hash() -> None:
    err = StringIO()
    out = StringIO()
    call_command("notify_token", "billing", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    assert SECRET.fullmatch(secret)
    token = ServiceToken.objects.get()
    assert token.name == "billing" and token.scope == ServiceToken.Scope.PUBLISH
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = [str(value) for value in ServiceToken.objects.values().get().values()]
    assert not any(secret in value or secret[4:] in value for value in stored)
    assert token.last_used is None and token.revoked_at is None and token.created_by is None
    assert secret not in err.getvalue() and "billing" in err.getvalue()
    assert (
        SECRET.fullmatch(_issue("billing")) and _issue("billing") != secret
    )  # a new one each time


def test_the_old_one_year_jwt_is_gone() -> None:
    for old in (["--username", "notifier"], ["svc", "--ttl", "31536000"]):
        with pytest.raises(CommandError):
            call_command("notify_token", *old, stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError):
        call_command("notify_token", stdout=StringIO(), stderr=StringIO())  # a name is needed
    with pytest.raises(CommandError, match="name"):
        call_command("notify_token", " ", stdout=StringIO(), stderr=StringIO())
    secret = _issue("svc")
    assert secret.count(".") == 0  # not a JWT
    assert not get_user_model().objects.filter(username__in=["notifier", "svc"]).exists()


def test_a_service_token_publishes(user: Any, caplog: Any) -> None:
    secret = _issue("billing")
    token = ServiceToken.objects.get()
    with caplog.at_level(logging.INFO, logger="notifications.service_tokens"):
        response = _publish(secret, user)
    assert response.status_code == 201
    assert Notification.objects.get().recipient_id == user.pk
    token.refresh_from_db()
    assert token.last_used is not None
    lines = [r.getMessage() for r in caplog.records if r.name == "notifications.service_tokens"]
    assert any("billing" in line and f"#{token.pk}" in line for line in lines)
    assert not any(secret in line or secret[4:] in line for line in caplog.messages)


def test_each_use_moves_last_used(user: Any) -> None:
    secret = _issue()
    _publish(secret, user)
    first = ServiceToken.objects.get().last_used
    _publish(secret, user)
    second = ServiceToken.objects.get().last_used
    assert first is not None and second is not None and second >= first


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/notifications/"),
        ("post", "/api/notifications/read/"),
        ("post", "/api/orders/"),
        ("get", "/api/orders/"),
        ("get", "/api/rooms/"),
        ("post", "/api/rooms/"),
        ("post", "/api/alerts/"),
        ("post", "/api/friend-requests/"),
        ("get", "/api/docs/"),
        ("get", "/api/dashboards/"),
    ],
)
def test_no_other_endpoint_accepts_it(method: str, path: str) -> None:
    secret = _issue()
    response = getattr(_client(secret), method)(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert ServiceToken.objects.get().last_used is None


def test_pages_do_not_accept_it() -> None:
    secret = _issue()
    response = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/notifications/")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/notifications/", "/ws/chat/lobby/"])
async def test_sockets_refuse_it_with_4401(connect: Connect, path: str) -> None:
    await sync_to_async(RoomFactory)(slug="lobby")
    secret = await sync_to_async(_issue)()
    client = await connect(path, query=f"token={secret}", expect_accept=False)
    assert await client.closed_with() == 4401


def test_a_revoked_token_is_refused_at_once(user: Any, caplog: Any) -> None:
    secret = _issue()
    assert _publish(secret, user).status_code == 201
    staff = UserFactory(username="root", is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    token = ServiceToken.objects.get()
    answer = admin.post(
        "/admin/notifications/servicetoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert "Revoked 1 service token" in answer.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    with caplog.at_level(logging.INFO, logger="notifications.service_tokens"):
        refused = _publish(secret, user)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"
    assert Notification.objects.count() == 1
    assert any("revoked" in line and "billing" in line for line in caplog.messages)


def test_unknown_and_malformed_service_tokens_are_401(user: Any) -> None:
    for secret in ("rts_", "rts_" + "x" * 43, "rts_\u00e9t\u00e9", "rts_" + "a" * 5000):
        response = _publish(secret, user)
        assert response.status_code == 401, secret
    assert not Notification.objects.exists()


def test_staff_still_publish_with_their_own_login(user: Any) -> None:
    staff = UserFactory(username="root", is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)
    response = client.post(
        "/api/notifications/", {"users": [user.pk], "kind": "x", "title": "t"}, format="json"
    )
    assert response.status_code == 201


def test_the_admin_lists_tokens_and_shows_a_new_secret_once() -> None:
    staff = UserFactory(username="root", is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    _issue("billing")
    listing = admin.get("/admin/notifications/servicetoken/").content.decode()
    assert "billing" in listing and "publish notifications" in listing
    created = admin.post(
        "/admin/notifications/servicetoken/add/",
        {"name": "shipping", "scope": ServiceToken.Scope.PUBLISH},
        follow=True,
    )
    page = created.content.decode()
    [secret] = SECRET.findall(page)
    token = ServiceToken.objects.get(name="shipping")
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.created_by_id == staff.pk
    again = admin.get("/admin/notifications/servicetoken/").content.decode()
    assert secret not in again
    assert (
        secret
        not in admin.get(f"/admin/notifications/servicetoken/{token.pk}/change/").content.decode()
    )


def test_a_service_token_has_its_own_rate_budget(user: Any, settings: Any) -> None:
    settings.RATE_LIMIT_PER_SECOND = 0.01
    settings.RATE_LIMIT_BURST = 2
    secret = _issue()
    assert [_publish(secret, user).status_code for _ in range(3)] == [201, 201, 429]
    staff = UserFactory(username="root", is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)
    ok = client.post(
        "/api/notifications/", {"users": [user.pk], "kind": "x", "title": "t"}, format="json"
    )
    assert ok.status_code == 201
