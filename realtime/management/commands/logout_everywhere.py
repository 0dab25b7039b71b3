"""Log a user out everywhere: tokens void, sockets closed (4401), sessions ended."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from realtime.access import user_logout_everywhere


class Command(BaseCommand):
    help = "Void every token of a user, close their open sockets and end their sessions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        user = User._default_manager.filter(**{User.USERNAME_FIELD: options["username"]}).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        ended = user_logout_everywhere(user_id=user.pk)
        self.stdout.write(f"{user}: tokens voided, sockets closed, {ended} session(s) ended")
