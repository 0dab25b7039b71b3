"""REST routes of dashboards, mounted under /api/."""

from __future__ import annotations

from django.urls import path

from .api import DashboardListView, DashboardSnapshotView, EventView

urlpatterns = [
    path("dashboards/", DashboardListView.as_view(), name="dashboards"),
    path("dashboards/<slug:slug>/", DashboardSnapshotView.as_view(), name="dashboard-snapshot"),
    path("events/", EventView.as_view(), name="events"),
]
