"""Send a notification from the command line: `manage.py notify --user alice --title Hi`."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from notifications.services import ALL, NotifyInvalid, notify


class Command(BaseCommand):
    help = "Notify users (by username, or --all). Pushed to open sockets on every process."

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", action="append", dest="users", help="a username (repeatable)")
        who.add_argument("--all", action="store_true", help="every active user")
        parser.add_argument("--kind", default="system_alert")
        parser.add_argument("--title", required=True)
        parser.add_argument("--body", default="")
        parser.add_argument("--data", default="{}", help="a JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            data = json.loads(options["data"])
        except ValueError as exc:
            raise CommandError(f"--data is not JSON: {exc}") from None
        users: Any = ALL
        if not options["all"]:
            found = get_user_model().objects.filter(username__in=options["users"])
            missing = set(options["users"]) - {user.get_username() for user in found}
            if missing:
                raise CommandError(f"No such users: {', '.join(sorted(missing))}")
            users = list(found)
        try:
            sent = notify(
                users=users,
                kind=options["kind"],
                title=options["title"],
                body=options["body"],
                data=data,
            )
        except NotifyInvalid as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Sent {len(sent.ids)} notification(s).")
