"""Move notifications past their attempts or age to the dead-letter queue (cron-friendly)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from notifications.services import notifications_expire


class Command(BaseCommand):
    help = (
        "Dead-letter pending notifications past NOTIFY_MAX_ATTEMPTS or NOTIFY_MAX_AGE_SECONDS. "
        "Server processes do this every minute; this is for deployments without one running."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        moved = notifications_expire()
        self.stdout.write(f"Moved {moved} notification(s) to the dead-letter queue.")
