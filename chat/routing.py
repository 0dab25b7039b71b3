"""WebSocket routes of chat."""

from __future__ import annotations

from django.urls import URLPattern, re_path

from .consumers import ChatConsumer

websocket_urlpatterns: list[URLPattern] = [
    re_path(r"^ws/chat/(?P<room_slug>[-\w]+)/$", ChatConsumer.as_asgi()),
]
