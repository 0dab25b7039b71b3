"""WebSocket routes of collab."""

from __future__ import annotations

from django.urls import URLPattern, re_path

from .consumers import CollabConsumer

websocket_urlpatterns: list[URLPattern] = [
    re_path(r"^ws/collab/(?P<doc_id>[0-9]{1,30})/$", CollabConsumer.as_asgi()),
]
