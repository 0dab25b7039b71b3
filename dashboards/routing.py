"""WebSocket routes of dashboards."""

from __future__ import annotations

from django.urls import URLPattern, re_path

from .consumers import DashboardConsumer

websocket_urlpatterns: list[URLPattern] = [
    re_path(r"^ws/dashboards/(?P<dashboard_slug>[-\w]+)/$", DashboardConsumer.as_asgi()),
]
