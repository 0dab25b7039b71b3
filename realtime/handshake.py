"""Who is connecting: ASGI middleware that authenticates a WebSocket handshake.

It never answers itself. It leaves in the scope `user`, `query` (single values)
and, when the handshake must be refused, `refusal` (a close code), so that the
consumer can accept and close with that code as PROTOCOL.md asks.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.auth import get_user
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

from . import errors
from .batching import Batched
from .tokens import InvalidToken, token_subject, users_active

Scope = dict[str, Any]

# Sockets connecting together are looked up together (one query per batch).
_user_active = Batched(users_active)


def parse_query(raw: bytes) -> dict[str, str]:
    """Query parameters, one value each. Raises ValueError if malformed or repeated."""
    if not raw:
        return {}
    pairs = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    if any(len(values) != 1 for values in pairs.values()):
        raise ValueError("repeated query parameter")
    return {key: values[0] for key, values in pairs.items()}


def origin_allowed(origin: str) -> bool:
    """True when a browser's Origin names one of ALLOWED_HOSTS (CSWSH protection)."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    domain, _port = split_domain_port(parts.netloc)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _session_user(cookie_header: str | None) -> Any:
    """The user of the Django session named by the cookie (AnonymousUser if none).

    The session is only read here: a socket never changes it, so unlike
    channels' SessionMiddleware nothing wraps every later send to save it.
    """
    session_key = parse_cookie(cookie_header or "").get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return AnonymousUser()
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return await get_user({"session": store(session_key)})


async def _identify(scope: Scope) -> tuple[Any, int | None]:
    """The user and, if the handshake is refused, the close code."""
    try:
        query = parse_query(scope.get("query_string", b""))
    except (ValueError, UnicodeDecodeError):
        return AnonymousUser(), errors.BAD_HANDSHAKE
    scope["query"] = query
    origin = _header(scope, b"origin")
    if origin is not None and not origin_allowed(origin):
        return AnonymousUser(), errors.FORBIDDEN
    token = query.pop("token", None)  # a credential: not kept for the life of the socket
    if token:
        try:
            return await _user_active(token_subject(token)), None
        except InvalidToken:
            return AnonymousUser(), errors.NOT_AUTHENTICATED
    if origin is None:
        # Non-browser clients must bring a token; a cookie alone is not enough.
        return AnonymousUser(), errors.NOT_AUTHENTICATED
    user = await _session_user(_header(scope, b"cookie"))
    if not user.is_authenticated:
        return user, errors.NOT_AUTHENTICATED
    return user, None


class HandshakeAuthMiddleware:
    """Sets `scope["user"]`, `scope["query"]` and, on refusal, `scope["refusal"]`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        scope = dict(scope, query={})
        user, refusal = await _identify(scope)
        scope["user"] = user
        if refusal is not None:
            scope["refusal"] = refusal
        return await self.inner(scope, receive, send)
