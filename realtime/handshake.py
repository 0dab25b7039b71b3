"""Who is connecting: ASGI middleware that authenticates a WebSocket handshake.

It never answers itself. It leaves in the scope `user`, `query` (single values)
and, when the handshake must be refused, `refusal` (a close code), so that the
consumer can accept and close with that code as PROTOCOL.md asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.auth import get_user
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

from . import errors
from .access import session_digest
from .batching import Batched
from .tokens import InvalidToken, token_check_user, token_claims, users_active

Scope = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Credential:
    """How a socket authenticated, and until when that holds (Unix seconds; None: no end)."""

    kind: str  # "token" or "session"
    expires: float | None
    generation: int | None = None  # of a token
    session_digest: str | None = None  # of a session


# Sockets connecting together are looked up together (one query per batch).
_user_active = Batched(users_active)


async def user_active(user_id: int) -> Any:
    """The active user of this id, with its token generation. Raises InvalidToken. Async."""
    return await _user_active(user_id)


def parse_query(raw: bytes) -> dict[str, str]:
    """Query parameters, one value each. Raises ValueError if malformed or repeated.

    Percent-escapes must decode to UTF-8 too (`%ff` is malformed, not U+FFFD).
    """
    if not raw:
        return {}
    pairs = parse_qs(
        raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True, errors="strict"
    )
    if any(len(values) != 1 for values in pairs.values()):
        raise ValueError("repeated query parameter")
    return {key: values[0] for key, values in pairs.items()}


# An origin as compared: scheme, host (lower case, IPv6 without brackets), port.
Origin = tuple[str, str, int]
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_parse(value: str) -> Origin | None:
    """The origin `value` names (`scheme://host[:port]`, http or https), or None if malformed."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    if parts.path or parts.query or parts.fragment:
        return None
    return scheme, parts.hostname, _DEFAULT_PORTS[scheme] if port is None else port


def _site_scheme(scope: Scope) -> str:
    """http or https: how the browser reached this site, for the socket in `scope`.

    A TLS proxy's header (SECURE_PROXY_SSL_HEADER) decides when configured and
    present, as for Django's `request.is_secure()`; else the socket's own scheme.
    """
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        name = meta_name.removeprefix("HTTP_").replace("_", "-").lower()
        value = _header(scope, name.encode("latin-1"))
        if value is not None:
            return "https" if value.split(",", 1)[0].strip() == secure_value else "http"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def _site_origin(scope: Scope) -> Origin | None:
    """The site's own origin: the scheme and the Host, if the Host is one of ALLOWED_HOSTS."""
    host = _header(scope, b"host")
    if not host:
        return None
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # as Django's HttpRequest.get_host()
    if not domain or not validate_host(domain, allowed):
        return None
    return _origin_parse(f"{_site_scheme(scope)}://{host}")


def _origin_trusted(origin: Origin) -> bool:
    """True when CSRF_TRUSTED_ORIGINS names `origin`, exactly or as `scheme://*.domain[:port]`."""
    scheme, host, port = origin
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        trusted = _origin_parse(entry)
        if trusted is None:
            continue
        trusted_scheme, trusted_host, trusted_port = trusted
        if (trusted_scheme, trusted_port) != (scheme, port):
            continue
        if trusted_host.startswith("*."):
            # Django's subdomain wildcard: the domain itself and any subdomain of it.
            domain = trusted_host[1:]
            if host.endswith(domain) or host == domain[1:]:
                return True
        elif trusted_host == host:
            return True
    return False


def origin_allowed(origin: str, scope: Scope) -> bool:
    """True when a browser's Origin is the site's own or trusted (CSWSH protection).

    The site's own origin is scheme, host and port as the browser reached this
    socket (`_site_origin`); trusted ones are CSRF_TRUSTED_ORIGINS. A Host
    outside ALLOWED_HOSTS allows no origin at all, and ALLOWED_HOSTS = ["*"]
    still compares the Origin with the Host.
    """
    parsed = _origin_parse(origin)
    site = _site_origin(scope)
    if parsed is None or site is None:
        return False
    return parsed == site or _origin_trusted(parsed)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _session_user(cookie_header: str | None) -> tuple[Any, Credential | None]:
    """The user of the Django session named by the cookie (AnonymousUser if none).

    The session is only read here: a socket never changes it, so unlike
    channels' SessionMiddleware nothing wraps every later send to save it.
    """
    session_key = parse_cookie(cookie_header or "").get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return AnonymousUser(), None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = await get_user({"session": session})
    if not user.is_authenticated:
        return user, None
    # get_user loaded the session, so its expiry is known without another query.
    expires = session.get_expiry_date().timestamp()
    return user, Credential("session", expires, session_digest=session_digest(session_key))


async def _token_user(token: str) -> tuple[Any, Credential]:
    """The active user a token names and its credential. Raises InvalidToken."""
    claims = token_claims(token)
    user = await user_active(claims.user_id)
    token_check_user(claims, user)
    return user, Credential("token", claims.expires, generation=claims.generation)


async def _identify(scope: Scope) -> tuple[Any, int | None]:
    """The user and, if the handshake is refused, the close code.

    The credential the user proved goes in `scope["credential"]`.
    """
    try:
        query = parse_query(scope.get("query_string", b""))
    except (ValueError, UnicodeDecodeError):
        return AnonymousUser(), errors.BAD_HANDSHAKE
    scope["query"] = query
    origin = _header(scope, b"origin")
    if origin is not None and not origin_allowed(origin, scope):
        return AnonymousUser(), errors.FORBIDDEN
    token = query.pop("token", None)  # a credential: not kept for the life of the socket
    if token:
        try:
            user, scope["credential"] = await _token_user(token)
        except InvalidToken:
            return AnonymousUser(), errors.NOT_AUTHENTICATED
        return user, None
    if origin is None:
        # Non-browser clients must bring a token; a cookie alone is not enough.
        return AnonymousUser(), errors.NOT_AUTHENTICATED
    user, credential = await _session_user(_header(scope, b"cookie"))
    if credential is None:
        return user, errors.NOT_AUTHENTICATED
    scope["credential"] = credential
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
