"""Every write of dashboards, and every push that follows one.

Services are sync (call them from async code through `realtime.db.db_parallel`).
A dashboard's state row is the single source of its `seq`: every update is
stored under that row's lock and published after the commit, whichever process
publishes it, so seqs never repeat or skip across processes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from realtime.broadcast import group_name, publish
from realtime.frames import Frame, to_ms

from .metrics import Values, metrics_read
from .models import Dashboard, DashboardState, EngagementEvent
from .selectors import (
    dashboards_watched,
    order_newest_id,
    sale_json,
    sales_after,
    snapshot_json,
)

_MISSING = object()


def dashboard_group(dashboard: Dashboard) -> str:
    """The group every socket watching `dashboard` listens on."""
    return group_name("dashboards", dashboard.pk)


def engagement_record(*, kind: str, user: AbstractBaseUser | None = None) -> EngagementEvent:
    """Store a like or a share; the dashboards count it in their next update.

    Raises ValueError for a kind that is neither `like` nor `share`.
    """
    if kind not in EngagementEvent.Kind.values:
        raise ValueError(f"unknown engagement kind {kind!r}")
    return EngagementEvent.objects.create(kind=kind, user_id=user.pk if user else None)


def _update_frame(state: DashboardState, changed: Values, sales: list[Frame]) -> Frame:
    assert state.published is not None
    frame: Frame = {
        "type": "update",
        "metrics": changed,
        "seq": state.seq,
        "ts": to_ms(state.published),
    }
    if sales:
        frame["sales"] = sales
    return frame


def dashboard_state_store(
    *,
    dashboard: Dashboard,
    values: Values,
    now: datetime,
    publisher: str | None,
    min_gap: float = 0.0,
) -> bool:
    """Record `values` as the dashboard's metrics at `now`; publish an update if they changed.

    Under the state row's lock: the update carries only the metrics that differ
    from the last published ones (and, for a sales dashboard, orders placed since),
    gets seq + 1, and is sent after the commit. Nothing is published when nothing
    changed, or when the last update is younger than `min_gap` seconds (the
    changes then wait for the next call). The first state of a dashboard is
    stored with seq 0 and published to nobody. Returns True if it published.
    """
    with transaction.atomic():
        state, created = DashboardState.objects.select_for_update().get_or_create(
            dashboard=dashboard
        )
        state.checked = now
        if created:
            state.metrics = values
            state.last_order_id = order_newest_id() if dashboard.show_sales else 0
            state.save()
            return False
        changed = {k: v for k, v in values.items() if state.metrics.get(k, _MISSING) != v}
        new_sales = sales_after(after_id=state.last_order_id) if dashboard.show_sales else []
        due = state.published is None or (now - state.published).total_seconds() >= min_gap
        if not (changed or new_sales) or not due:
            state.save(update_fields=["checked"])
            return False
        state.seq += 1
        state.metrics = values
        state.published = now
        if publisher is not None:
            state.publisher = publisher
        if new_sales:
            state.last_order_id = new_sales[-1].pk
        state.save()
        frame = _update_frame(state, changed, [sale_json(order) for order in new_sales])
        publish(dashboard_group(dashboard), frame, position=state.seq)
    return True


def dashboards_publish(*, publisher: str, probes: dict[str, Any] | None = None) -> int:
    """One tick of the lease holder: refresh every watched dashboard; returns updates sent.

    The metrics all watched dashboards need are read once. An update follows
    the previous one of its dashboard by at least half a tick, so a snapshot's
    own refresh and a tick cannot send two in a row.
    """
    dashboards = list(dashboards_watched())
    if not dashboards:
        return 0
    now = timezone.now()
    names = {name for dashboard in dashboards for name in dashboard.metrics}
    values = metrics_read(names=names, now=now, probes=probes)
    sent = 0
    for dashboard in dashboards:
        mine = {name: values[name] for name in dashboard.metrics if name in values}
        sent += dashboard_state_store(
            dashboard=dashboard,
            values=mine,
            now=now,
            publisher=publisher,
            min_gap=settings.DASHBOARD_UPDATE_SECONDS / 2,
        )
    return sent


def dashboard_snapshot(*, dashboard: Dashboard) -> Frame:
    """The `snapshot` frame of `dashboard`, consistent with its seq.

    When no publisher has refreshed it for two ticks (nobody was watching, or
    the lease is changing hands), the metrics are read and stored first (an
    update goes to any other watcher if they changed), so a snapshot is never
    older than that.
    """
    state = DashboardState.objects.filter(dashboard=dashboard).first()
    now = timezone.now()
    stale_after = 2 * settings.DASHBOARD_UPDATE_SECONDS
    if (
        state is None
        or state.checked is None
        or (now - state.checked).total_seconds() > stale_after
    ):
        previous = state.metrics if state is not None else None
        values = metrics_read(names=dashboard.metrics, now=now, previous=previous)
        dashboard_state_store(dashboard=dashboard, values=values, now=now, publisher=None)
        state = DashboardState.objects.get(dashboard=dashboard)
    return snapshot_json(dashboard=dashboard, state=state)
