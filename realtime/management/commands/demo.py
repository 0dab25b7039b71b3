"""Create the demo users and each app's demo data; safe to run again."""

from __future__ import annotations

import importlib
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_PASSWORD = "demo-pass-123"
DEMO_USERS = [
    ("admin", True),
    ("alice", False),
    ("bob", False),
    ("carol", False),
]
APPS = ["chat", "notifications", "collab", "dashboards"]


class Command(BaseCommand):
    help = "Create demo users (printed with their password) and demo data for every app."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        users = {}
        for username, staff in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": staff, "is_superuser": staff}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            users[username] = user
        for app in APPS:
            try:
                module = importlib.import_module(f"{app}.demo")
            except ModuleNotFoundError:
                continue
            module.seed(users=users)
        self.stdout.write(f"Demo users (password for all: {DEMO_PASSWORD}):")
        for username, staff in DEMO_USERS:
            self.stdout.write(f"  {username:<8}{' (staff, admin site)' if staff else ''}")
