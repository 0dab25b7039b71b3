"""ASGI entry point: `daphne realtime.asgi:application` (or uvicorn)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "realtime.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from . import daphne_guard  # noqa: E402
from .handshake import HandshakeAuthMiddleware  # noqa: E402
from .routing import websocket_urlpatterns  # noqa: E402

daphne_guard.install()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": HandshakeAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
