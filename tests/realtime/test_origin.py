"""Cross-site WebSocket hijacking: a browser's Origin must be the site's own, or trusted.

The site's own origin is the scheme the socket came in on (ws → http, wss →
https, or a trusted proxy's header) with the handshake's Host, which itself
must be one of ALLOWED_HOSTS. Any other page, on another port or scheme of the
same host included, is refused with 4403 before its cookie is looked at.
"""

from __future__ import annotations

from typing import Any

import pytest

from realtime.handshake import origin_allowed
from tests.conftest import Connect
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def room() -> Any:
    return RoomFactory(slug="lobby", name="Lobby")


async def _open(connect: Connect, user: Any, *, host: str, origin: str) -> Any:
    headers = [(b"host", host.encode()), (b"origin", origin.encode())]
    return await connect("/ws/chat/lobby/", user, headers=headers)


async def test_the_sites_own_origin_is_accepted(connect: Connect, room: Any, user: Any) -> None:
    client = await _open(connect, user, host="localhost:8000", origin="http://localhost:8000")
    assert (await client.receive_type("hello"))["user"]["id"] == user.pk


async def test_same_host_on_another_port_is_refused(connect: Connect, room: Any, user: Any) -> None:
    client = await _open(connect, user, host="localhost:8000", origin="http://localhost:8001")
    assert await client.closed_with() == 4403


async def test_same_host_and_port_with_another_scheme_is_refused(
    connect: Connect, room: Any, user: Any
) -> None:
    client = await _open(connect, user, host="localhost:8000", origin="https://localhost:8000")
    assert await client.closed_with() == 4403


async def test_a_trusted_origin_is_accepted(
    connect: Connect, room: Any, user: Any, settings: Any
) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com"]
    client = await _open(connect, user, host="localhost:8000", origin="https://app.example.com")
    assert (await client.receive_type("hello"))["user"]["id"] == user.pk


async def test_any_host_allowed_never_means_any_origin(
    connect: Connect, room: Any, user: Any, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["*"]
    client = await _open(connect, user, host="chat.example.com", origin="https://evil.example")
    assert await client.closed_with() == 4403


async def test_a_host_outside_allowed_hosts_is_refused_even_from_its_own_page(
    connect: Connect, room: Any, user: Any
) -> None:
    # DNS rebinding: evil.example resolves to this server, and its page opens a socket.
    client = await _open(connect, user, host="evil.example", origin="http://evil.example")
    assert await client.closed_with() == 4403


def _scope(host: str | None, scheme: str = "ws", **headers: str) -> dict[str, Any]:
    pairs = [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    if host is not None:
        pairs.append((b"host", host.encode()))
    return {"type": "websocket", "scheme": scheme, "headers": pairs}


@pytest.mark.parametrize(
    ("origin", "scope", "allowed"),
    [
        ("http://localhost", _scope("localhost"), True),
        ("http://localhost:80", _scope("localhost"), True),
        ("http://LOCALHOST:8000", _scope("localhost:8000"), True),
        ("http://[::1]:8000", _scope("[::1]:8000"), True),
        ("https://localhost", _scope("localhost", "wss"), True),
        ("https://localhost:443", _scope("localhost:443", "wss"), True),
        ("http://localhost", _scope("localhost", "wss"), False),
        ("https://localhost", _scope("localhost"), False),
        ("http://127.0.0.1:8000", _scope("localhost:8000"), False),
        ("http://localhost:8000", _scope(None), False),
        ("http://localhost:8000", _scope("localhost:8000:1"), False),
        ("null", _scope("localhost"), False),
        ("", _scope("localhost"), False),
        ("ws://localhost", _scope("localhost"), False),
        ("http://localhost/", _scope("localhost"), False),
        ("http://user@localhost", _scope("localhost"), False),
        ("http://localhost:99999", _scope("localhost"), False),
        ("http://localhost:x", _scope("localhost"), False),
        ("http://localhost:0", _scope("localhost"), False),
    ],
)
def test_origin_compares_scheme_host_and_port(
    origin: str, scope: dict[str, Any], allowed: bool
) -> None:
    assert origin_allowed(origin, scope) is allowed


@pytest.mark.parametrize(
    ("forwarded", "origin", "allowed"),
    [
        ("https", "https://localhost", True),
        ("https", "http://localhost", False),
        ("http", "https://localhost", False),
        ("https, http", "https://localhost", True),
    ],
)
def test_a_trusted_proxy_header_gives_the_scheme(
    settings: Any, forwarded: str, origin: str, allowed: bool
) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    scope = _scope("localhost", x_forwarded_proto=forwarded)
    assert origin_allowed(origin, scope) is allowed


def test_the_proxy_header_is_ignored_unless_configured(settings: Any) -> None:
    settings.SECURE_PROXY_SSL_HEADER = None
    scope = _scope("localhost", x_forwarded_proto="https")
    assert origin_allowed("https://localhost", scope) is False
    assert origin_allowed("http://localhost", scope) is True


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://app.example.com", True),
        ("https://app.example.com:443", True),
        ("http://app.example.com", False),
        ("https://app.example.com:8443", False),
        ("https://api.example.com", False),
        ("https://a.shop.example.net", True),
        ("https://shop.example.net", True),
        ("https://a.shop.example.net:8443", False),
        ("http://a.shop.example.net", False),
        ("https://evilshop.example.net", False),
        ("https://b.admin.example.org:8443", True),
        ("https://b.admin.example.org", False),
    ],
)
def test_trusted_origins_are_exact_or_django_wildcards(
    settings: Any, origin: str, allowed: bool
) -> None:
    settings.CSRF_TRUSTED_ORIGINS = [
        "https://app.example.com",
        "https://*.shop.example.net",
        "https://*.admin.example.org:8443",
    ]
    assert origin_allowed(origin, _scope("localhost")) is allowed


def test_a_host_outside_allowed_hosts_allows_no_origin(settings: Any) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com"]
    assert origin_allowed("https://app.example.com", _scope("evil.example", "wss")) is False
    assert origin_allowed("https://app.example.com", _scope("localhost", "wss")) is True


def test_any_host_allowed_still_compares_with_the_host(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["*"]
    assert origin_allowed("https://evil.example", _scope("chat.example.com", "wss")) is False
    assert origin_allowed("https://chat.example.com", _scope("chat.example.com", "wss")) is True
