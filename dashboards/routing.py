"""WebSocket routes of dashboards (none served yet: the path closes with 4404)."""

from __future__ import annotations

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
