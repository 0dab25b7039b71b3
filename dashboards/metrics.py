"""How each metric of the catalogue is read from the live system.

Every metric is computed from real data: the connection registry, chat
messages, orders, engagement events, the host (psutil), and round trips to the
database and the channel layer. Reads are sync (the ORM thread); the channel
layer round trip is async, so the publisher measures it on its event loop and
passes it in as a probe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psutil
from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from chat.models import Message
from notifications.models import Order
from realtime.models import Connection, ServerProcess

from .catalog import METRICS
from .models import EngagementEvent

Value = int | float | str | None
Values = dict[str, Value]


def start_of_today(now: datetime) -> datetime:
    """Midnight of `now`'s day in the site's time zone (TIME_ZONE), as an aware datetime."""
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _connections(now: datetime) -> Values:
    counts = Connection.objects.aggregate(
        connections=Count("id"), active_users=Count("user", distinct=True)
    )
    return {"connections": counts["connections"], "active_users": counts["active_users"]}


def _processes(now: datetime) -> Values:
    return {"processes": ServerProcess.objects.count()}


def _messages(now: datetime) -> Values:
    since = now - timedelta(seconds=60)
    return {"messages_last_minute": Message.objects.filter(created__gte=since).count()}


def _orders(now: datetime) -> Values:
    today = Order.objects.filter(created__gte=start_of_today(now))
    totals = today.aggregate(count=Count("id"), revenue=Sum("amount"))
    revenue = totals["revenue"] or Decimal("0")
    return {"orders_today": totals["count"], "revenue_today": f"{revenue:.2f}"}


def _engagement(now: datetime) -> Values:
    today = EngagementEvent.objects.filter(created__gte=start_of_today(now))
    counts = today.aggregate(
        likes=Count("id", filter=Q(kind=EngagementEvent.Kind.LIKE)),
        shares=Count("id", filter=Q(kind=EngagementEvent.Kind.SHARE)),
    )
    return {"likes_today": counts["likes"], "shares_today": counts["shares"]}


_cpu_sample: dict[str, float] = {"at": float("-inf"), "value": 0.0}


def _cpu(now: datetime) -> Values:
    # psutil measures CPU between two calls; a process with no recent sample
    # measures over a short blocking window instead of reporting a meaningless 0.
    moment = time.monotonic()
    since = moment - _cpu_sample["at"]
    if since >= 0.5:
        interval = 0.1 if since > 10 else None
        _cpu_sample["value"] = round(psutil.cpu_percent(interval=interval), 1)
        _cpu_sample["at"] = time.monotonic()
    return {"cpu_percent": _cpu_sample["value"]}


def _memory(now: datetime) -> Values:
    return {"memory_percent": round(psutil.virtual_memory().percent, 1)}


def _db_latency(now: datetime) -> Values:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return {"db_latency_ms": None}
    return {"db_latency_ms": round((time.perf_counter() - started) * 1000, 1)}


# Each reader fills one or more metrics; a reader runs when any of its metrics is asked for.
_READERS: list[tuple[frozenset[str], Callable[[datetime], Values]]] = [
    (frozenset({"active_users", "connections"}), _connections),
    (frozenset({"processes"}), _processes),
    (frozenset({"messages_last_minute"}), _messages),
    (frozenset({"orders_today", "revenue_today"}), _orders),
    (frozenset({"likes_today", "shares_today"}), _engagement),
    (frozenset({"cpu_percent"}), _cpu),
    (frozenset({"memory_percent"}), _memory),
    (frozenset({"db_latency_ms"}), _db_latency),
]


def metrics_read(
    *,
    names: Iterable[str],
    now: datetime,
    probes: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
) -> Values:
    """The current value of each known metric in `names` (unknown names are skipped).

    Sync (ORM thread). Probed metrics come from `probes`; without a probe they
    keep their `previous` value (None if there is none): a reader that is not
    on the publisher's loop cannot measure them.
    """
    wanted = {name for name in names if name in METRICS}
    values: Values = {}
    for covers, reader in _READERS:
        if covers & wanted:
            values.update({k: v for k, v in reader(now).items() if k in wanted})
    for name in wanted:
        if METRICS[name].probed:
            source = probes if probes is not None and name in probes else previous or {}
            values[name] = source.get(name)
    return values
