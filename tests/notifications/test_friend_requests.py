"""Sending a friend request again never notifies its recipient again before they may want it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from notifications.models import FriendRequest, Notification

from .test_api import client_for

pytestmark = pytest.mark.django_db


def _send(sender: Any, to: Any) -> Any:
    return client_for(sender).post("/api/friend-requests/", {"to": to.pk}, format="json")


def _asked(user: Any) -> int:
    return Notification.objects.filter(kind="friend_request", recipient=user).count()


def _declined(sender: Any, to: Any) -> FriendRequest:
    request = _send(sender, to).json()
    client_for(to).post(f"/api/friend-requests/{request['id']}/decline/")
    return FriendRequest.objects.get(pk=request["id"])


def test_a_declined_request_cannot_be_sent_again_at_once(user: Any, other_user: Any) -> None:
    _declined(user, other_user)
    again = _send(user, other_user)
    assert again.status_code == 400
    [message] = again.json()["error"]["fields"]["to"]
    assert "declined" in message and "24 hours" in message
    assert _asked(other_user) == 1
    assert FriendRequest.objects.count() == 1


def test_after_the_cooldown_it_may(user: Any, other_user: Any, settings: Any) -> None:
    declined = _declined(user, other_user)
    FriendRequest.objects.filter(pk=declined.pk).update(
        responded=timezone.now() - timedelta(seconds=settings.FRIEND_REQUEST_COOLDOWN_SECONDS + 1)
    )
    assert _send(user, other_user).status_code == 201
    assert _asked(other_user) == 2


def test_the_cooldown_is_a_setting(user: Any, other_user: Any, settings: Any) -> None:
    settings.FRIEND_REQUEST_COOLDOWN_SECONDS = 0
    _declined(user, other_user)
    assert _send(user, other_user).status_code == 201


def test_the_one_who_declined_may_still_ask(user: Any, other_user: Any) -> None:
    _declined(user, other_user)
    assert _send(other_user, user).status_code == 201
    assert _asked(user) == 1


def test_a_pending_request_is_not_notified_again(user: Any, other_user: Any) -> None:
    assert _send(user, other_user).status_code == 201
    for _ in range(3):
        again = _send(user, other_user)
        assert again.status_code == 400
        assert again.json()["error"]["fields"]["to"] == ["A friend request between you is pending."]
    assert _asked(other_user) == 1


def test_the_page_refuses_too(user: Any, other_user: Any) -> None:
    _declined(user, other_user)
    page = Client()
    page.force_login(user)
    response = page.post("/notifications/friends/", {"username": "bob"})
    assert response.status_code == 200
    assert "declined your friend request" in response.content.decode()
    assert _asked(other_user) == 1
