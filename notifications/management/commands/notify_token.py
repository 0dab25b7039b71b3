"""Create a service token that may publish notifications, and print its secret once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from notifications.service_tokens import ServiceTokenInvalid, service_token_create


class Command(BaseCommand):
    help = (
        "Create a service token for `POST /api/notifications/` from another system "
        "(it may do nothing else) and print its secret, which is shown only this once. "
        "List and revoke tokens in the admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="what will use it, e.g. billing (shown in the admin)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            token, secret = service_token_create(name=options["name"])
        except ServiceTokenInvalid as exc:
            raise CommandError(f"Invalid name: {exc}") from None
        self.stderr.write(
            f"Service token {token.name!r} (#{token.pk}) may publish notifications. "
            "Its secret follows; it is not shown again:"
        )
        self.stdout.write(secret)
