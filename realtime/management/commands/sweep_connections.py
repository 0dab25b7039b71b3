"""Remove registry rows left by server processes that died."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from realtime.registry import connections_sweep


class Command(BaseCommand):
    help = "Remove connection rows of dead processes (each process also sweeps on its heartbeat)."

    def handle(self, *args: Any, **options: Any) -> None:
        swept = connections_sweep()
        self.stdout.write(f"swept {swept} connection(s)")
