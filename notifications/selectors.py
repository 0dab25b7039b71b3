"""Reads of notifications and their wire shape."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from realtime.frames import Frame, to_ms

from .models import Notification


def notification_json(notification: Notification) -> Frame:
    """A `<notification>` of PROTOCOL.md (the key order is part of the batch fan-out)."""
    return {
        "type": "notification",
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "data": notification.data,
        "created": to_ms(notification.created),
        "read": notification.read,
    }


def unread_count(*, user_id: int) -> int:
    """How many of the user's notifications are not read yet (the badge)."""
    return Notification.objects.filter(recipient_id=user_id, read=False).count()


def notifications_of(*, user: AbstractBaseUser) -> QuerySet[Notification]:
    """The user's notifications, newest first."""
    return Notification.objects.filter(recipient_id=user.pk).order_by("-id")
