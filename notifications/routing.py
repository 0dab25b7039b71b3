"""WebSocket routes of notifications."""

from __future__ import annotations

from django.urls import URLPattern, re_path

from .consumers import NotificationConsumer

websocket_urlpatterns: list[URLPattern] = [
    re_path(r"^ws/notifications/$", NotificationConsumer.as_asgi()),
]
