"""Dashboard pages: the list of those the user may open, and one live dashboard."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .catalog import METRICS
from .models import Dashboard
from .selectors import dashboard_may_open, dashboards_visible_to

# Dashboards with these tiles get Like and Share buttons, to try them out.
ENGAGEMENT = {"likes_today", "shares_today"}


@login_required
def dashboard_list(request: HttpRequest) -> HttpResponse:
    dashboards = dashboards_visible_to(user=request.user)  # type: ignore[arg-type]
    return render(request, "dashboards/dashboard_list.html", {"dashboards": dashboards})


@login_required
def dashboard_page(request: HttpRequest, slug: str) -> HttpResponse:
    dashboard = get_object_or_404(Dashboard, slug=slug)
    if not dashboard_may_open(dashboard=dashboard, user=request.user):  # type: ignore[arg-type]
        # Nothing of a dashboard the user may not open, not even its title.
        return render(request, "dashboards/forbidden.html", status=403)
    tiles = [METRICS[name] for name in dashboard.metrics if name in METRICS]
    engagement = any(tile.name in ENGAGEMENT for tile in tiles)
    context = {"dashboard": dashboard, "tiles": tiles, "engagement": engagement}
    return render(request, "dashboards/dashboard.html", context)
