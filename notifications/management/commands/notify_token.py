"""Create (or reuse) a service account that may send notifications, and print its token."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandParser

from realtime.tokens import token_issue

DEFAULT_TTL = 365 * 24 * 3600


class Command(BaseCommand):
    help = (
        "Print a service token: a JWT of a service account granted "
        "notifications.add_notification, for `POST /api/notifications/` from other systems."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="notifier", help="the service account")
        parser.add_argument("--ttl", type=int, default=DEFAULT_TTL, help="lifetime in seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        account, created = get_user_model().objects.get_or_create(username=options["username"])
        if created:
            account.set_unusable_password()  # a service account never logs in with a password
            account.save()
        grant = Permission.objects.get(
            content_type__app_label="notifications", codename="add_notification"
        )
        account.user_permissions.add(grant)
        token, ttl = token_issue(user=account, ttl_seconds=options["ttl"])
        self.stderr.write(f"Service account {account.get_username()!r}; token valid {ttl} s:")
        self.stdout.write(token)
