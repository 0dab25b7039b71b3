"""Demo dashboards for `manage.py demo`."""

from __future__ import annotations

from typing import Any

from .models import Dashboard

BUSINESS = [
    "active_users",
    "orders_today",
    "revenue_today",
    "likes_today",
    "shares_today",
    "messages_last_minute",
]
SYSTEM = [
    "active_users",
    "connections",
    "processes",
    "messages_last_minute",
    "cpu_percent",
    "memory_percent",
    "db_latency_ms",
    "channel_layer_latency_ms",
]


def seed(*, users: dict[str, Any]) -> None:
    """The public `business` and the staff-only `system` dashboards; idempotent.

    The first migration creates both too; this brings them back if deleted.
    """
    Dashboard.objects.get_or_create(
        slug="business",
        defaults={"title": "Business", "metrics": BUSINESS, "show_sales": True, "position": 1},
    )
    Dashboard.objects.get_or_create(
        slug="system",
        defaults={"title": "System", "metrics": SYSTEM, "staff_only": True, "position": 2},
    )
