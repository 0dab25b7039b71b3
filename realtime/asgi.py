"""ASGI entry point: `daphne realtime.asgi:application` (or uvicorn)."""

from __future__ import annotations

import gc
import os

from django.conf import settings
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

# Every socket keeps a few hundred objects alive, and Python's default collector
# thresholds traverse all of them again each time the heap grows by a quarter:
# while thousands of sockets connect, that was a fifth of the process's CPU.
# What start-up made lives as long as the process, so it is frozen out of the
# collections; the young generation is collected less often.
gc.freeze()
gc.set_threshold(*settings.GC_THRESHOLDS)
