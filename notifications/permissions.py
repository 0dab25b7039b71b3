"""Who may send notifications through the REST API."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

SEND_PERMISSION = "notifications.add_notification"


def may_send(user: Any) -> bool:
    """Staff users, and service accounts: users granted `notifications.add_notification`.

    A service token is a JWT (`Authorization: Bearer ...`) of such an account;
    `manage.py notify_token` creates one.
    """
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.is_staff or user.has_perm(SEND_PERMISSION))
    )


class CanSendNotifications(BasePermission):
    message = "Only staff or a service token may send notifications."

    def has_permission(self, request: Request, view: Any) -> bool:
        return may_send(request.user)
