"""Reads of dashboards: who may open which, which are watched, and their wire shapes."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from notifications.models import Order
from realtime.frames import Frame, to_ms
from realtime.models import Connection

from .catalog import METRICS
from .models import Dashboard, DashboardState

ENDPOINT = "dashboards"


def dashboards_visible_to(*, user: AbstractBaseUser) -> QuerySet[Dashboard]:
    """The dashboards `user` may open: all for staff, the others without staff-only ones."""
    dashboards = Dashboard.objects.all()
    if not getattr(user, "is_staff", False):
        dashboards = dashboards.filter(staff_only=False)
    return dashboards


def dashboard_may_open(*, dashboard: Dashboard, user: AbstractBaseUser) -> bool:
    return not dashboard.staff_only or bool(getattr(user, "is_staff", False))


def dashboards_watched() -> QuerySet[Dashboard]:
    """Dashboards with at least one open socket on any server process (the registry)."""
    slugs = Connection.objects.filter(endpoint=ENDPOINT).values("target")
    return Dashboard.objects.filter(slug__in=slugs)


def dashboard_json(dashboard: Dashboard) -> Frame:
    """A dashboard as `GET /api/dashboards/` lists it."""
    return {
        "slug": dashboard.slug,
        "title": dashboard.title,
        "staff_only": dashboard.staff_only,
        "metrics": [name for name in dashboard.metrics if name in METRICS],
    }


def sale_json(order: Order) -> Frame:
    """An order as the sales ticker shows it (the customer is not named on dashboards)."""
    return {
        "id": order.pk,
        "item": order.item,
        "amount": f"{order.amount:.2f}",
        "created": to_ms(order.created),
    }


def sales_after(*, after_id: int) -> list[Order]:
    """The newest ticker's worth of orders with id > `after_id`, oldest first."""
    newest = Order.objects.filter(id__gt=after_id).order_by("-id")[: settings.DASHBOARD_SALES]
    return list(newest)[::-1]


def sales_upto(*, upto_id: int) -> list[Order]:
    """The newest ticker's worth of orders with id <= `upto_id`, oldest first."""
    newest = Order.objects.filter(id__lte=upto_id).order_by("-id")[: settings.DASHBOARD_SALES]
    return list(newest)[::-1]


def order_newest_id() -> int:
    return Order.objects.order_by("-id").values_list("id", flat=True).first() or 0


def snapshot_json(*, dashboard: Dashboard, state: DashboardState) -> Frame:
    """The `snapshot` frame of a dashboard's stored state (its metrics, seq and time)."""
    frame: Frame = {
        "type": "snapshot",
        "metrics": {name: state.metrics.get(name) for name in dashboard_json(dashboard)["metrics"]},
        "seq": state.seq,
        "ts": to_ms(state.checked) if state.checked else 0,
    }
    if dashboard.show_sales:
        frame["sales"] = [sale_json(order) for order in sales_upto(upto_id=state.last_order_id)]
    return frame
