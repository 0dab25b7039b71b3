"""Every WebSocket path: each app's routes, then 4404 for anything else."""

from __future__ import annotations

from django.urls import URLPattern, re_path

from chat.routing import websocket_urlpatterns as chat_routes
from collab.routing import websocket_urlpatterns as collab_routes
from dashboards.routing import websocket_urlpatterns as dashboard_routes
from notifications.routing import websocket_urlpatterns as notification_routes

from .consumers import NotFoundConsumer

websocket_urlpatterns: list[URLPattern] = [
    *chat_routes,
    *notification_routes,
    *collab_routes,
    *dashboard_routes,
    re_path(r"", NotFoundConsumer.as_asgi()),
]
