"""Hostile input to every REST endpoint: a 4xx with the error envelope, never a 5xx.

The endpoints are read from the URLconf, so a new one is covered (or this test
asks for a valid body to start from).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver
from rest_framework.test import APIClient

from collab.models import Document
from dashboards.demo import seed
from notifications.models import FriendRequest
from realtime.urls import api_patterns
from tests.factories import PASSWORD, RoomFactory, UserFactory
from tests.notifications.factories import NotificationFactory, PriceWatchFactory, ProductFactory

pytestmark = pytest.mark.django_db

HUGE = 10**30
BIG_INT_VALUES: list[Any] = [HUGE, -HUGE, 2**63, -(2**63) - 1]
VALUES: list[Any] = [
    *BIG_INT_VALUES,
    None,
    True,
    1.5,
    1e308,
    "",
    "x" * 100_000,
    "\u0000",
    "a\u0000b",
    "\ud800",
    "1e999999",
    "NaN",
    "-Infinity",
    [],
    [HUGE],
    [-HUGE, 2**63],
    [[[[1]]]],
    {},
    {"a": {"b": [HUGE]}},
    {"a": "\u0000", "\u0000": 1},
    "all",
]
# Raw request bodies sent as application/json.
RAW_BODIES: list[bytes] = [
    b"[" * 100_000,
    b'{"a":' * 50_000,
    b"{",
    b"",
    b"null",
    b"[]",
    b"1",
    b'"x"',
    b"\xff\xfe\x00",
    b'{"ids": [1e999999]}',
    b'{"title": "\\ud800"}',
    ("9" * 5000).encode(),
]
QUERIES: list[str] = [
    f"after={HUGE}",
    f"before={HUGE}",
    f"limit={HUGE}",
    "after=-1",
    "after=abc",
    "after=%ff",
    "after=1%002",
    f"page={HUGE}",
    "page=%00",
    "unread=%00",
]

# A valid body for each endpoint that takes one, by URL name; each field is
# then replaced by each of VALUES in turn.
GOOD_BODIES: dict[str, dict[str, Any]] = {
    "token": {"username": "alice", "password": PASSWORD},
    "rooms": {"slug": "new-room", "name": "New", "is_private": True, "members": ["USER"]},
    "room-messages": {"message": "hello", "client_id": "c1"},
    "notification-list": {"users": ["USER"], "kind": "order", "title": "T", "body": "B"},
    "notification-read": {"ids": ["NOTIFICATION"]},
    "order-list": {"amount": "9.99", "item": "tea"},
    "friend-request-list": {"to": "USER"},
    "friend-request-accept": {},
    "friend-request-decline": {},
    "product-list": {"name": "Kettle", "price": "12.00"},
    "product-detail": {"price": "5.00"},
    "product-watch": {"threshold": "1.00"},
    "alert-list": {"title": "Down", "body": "soon", "level": "info"},
    "docs": {"title": "Notes", "content": "x", "access": "private", "editors": ["USER"]},
    "events": {"kind": "like"},
}
WRITES = ("post", "put", "patch", "delete")


def _api_routes() -> Iterator[tuple[str, URLPattern]]:
    """(route, pattern) of every URL under /api/, with converters left in the route."""

    def walk(
        patterns: list[URLPattern | URLResolver], prefix: str
    ) -> Iterator[tuple[str, URLPattern]]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            else:
                yield prefix + str(entry.pattern), entry

    yield from walk(api_patterns, "/api/")


ROUTES = sorted(_api_routes(), key=lambda pair: pair[0])


def _methods(pattern: URLPattern) -> list[str]:
    view = getattr(pattern.callback, "cls", None)
    if view is None:
        return ["get"]
    return [name for name in ("get", *WRITES) if hasattr(view, name)]


@pytest.fixture(autouse=True)
def generous_limits(settings: Any) -> None:
    """Limits high enough that every request reaches its view, not only the rate limiter."""
    settings.RATE_LIMIT_PER_SECOND = 1_000_000.0
    settings.RATE_LIMIT_BURST = 1_000_000
    settings.LOGIN_FAILURES_PER_USERNAME = settings.LOGIN_FAILURES_PER_IP = 1_000_000


@pytest.fixture
def world() -> dict[str, Any]:
    """One of everything the routes name; `staff` may write everywhere."""
    staff = UserFactory(username="alice", is_staff=True, is_superuser=True)
    other = UserFactory(username="bob")
    RoomFactory(slug="lobby", name="Lobby")
    document = Document.objects.create(title="Doc", owner=staff)
    product = ProductFactory(name="Lamp", price=Decimal("20.00"))
    PriceWatchFactory(user=other, product=product, threshold=Decimal("10.00"))
    friend_request = FriendRequest.objects.create(from_user=other, to_user=staff)
    seed(users={})
    return {
        "staff": staff,
        "USER": other.pk,
        "NOTIFICATION": NotificationFactory(recipient=staff).pk,
        "targets": {
            "slug": "lobby",
            "doc_id": document.pk,
            "pk": product.pk,
            "request": friend_request.pk,
        },
    }


def _fill(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, str) and value in ("USER", "NOTIFICATION"):
        return world[value]
    if isinstance(value, list):
        return [_fill(item, world) for item in value]
    return value


def _paths(route: str, name: str, world: dict[str, Any]) -> list[str]:
    """The route with its converters filled: an existing target, then ids far out of range."""
    targets = dict(world["targets"])
    if name.startswith("friend-request-"):
        targets["pk"] = targets["request"]
    paths = set()
    for values in (targets, {"pk": HUGE, "doc_id": HUGE, "slug": "x" * 300}):
        path = route
        for key in ("pk", "doc_id"):
            path = path.replace(f"<int:{key}>", str(values[key]))
        path = path.replace("<slug:slug>", str(values["slug"]))
        assert "<" not in path, f"no value for a converter in {route}"
        paths.add(path)
    return sorted(paths)


def _bodies(name: str, world: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """(label, JSON body): the raw ones, then the valid body with one field made hostile."""
    for raw in RAW_BODIES:
        yield f"raw {raw[:20]!r}", raw
    assert name in GOOD_BODIES, f"give /api/ route {name!r} a valid body in GOOD_BODIES"
    good = {key: _fill(value, world) for key, value in GOOD_BODIES[name].items()}
    for field in [*good, "ids", "all", "users", "data"]:
        for value in VALUES:
            body = dict(good, **{field: value})
            yield f"{field}={str(value)[:20]!r}", json.dumps(body).encode()


@pytest.mark.parametrize(("route", "pattern"), ROUTES, ids=[route for route, _ in ROUTES])
def test_hostile_input_never_gives_a_server_error(
    route: str, pattern: URLPattern, world: Any
) -> None:
    client = APIClient()
    client.raise_request_exception = False
    client.force_authenticate(world["staff"])
    failures = []
    for path in _paths(route, str(pattern.name), world):
        for method in _methods(pattern):
            if method == "get":
                tried = [(query, client.get(f"{path}?{query}")) for query in ["", *QUERIES]]
            else:
                send = getattr(client, method)
                tried = [
                    (label, send(path, body, content_type="application/json"))
                    for label, body in _bodies(str(pattern.name), world)
                ]
            failures += [
                f"{method.upper()} {path[:60]} {label}: {response.status_code}"
                for label, response in tried
                if response.status_code >= 500 or response.status_code == 429
            ]
    assert not failures, "\n".join(failures)


def _staff_client() -> APIClient:
    client = APIClient()
    client.raise_request_exception = False
    client.force_authenticate(UserFactory(username="root", is_staff=True))
    return client


def test_deeply_nested_body_is_a_parse_error() -> None:
    response = APIClient().post("/api/token/", b"[" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/notifications/read/", {"ids": [HUGE]}, "ids"),
        ("/api/rooms/", {"slug": "r", "name": "R", "members": [HUGE]}, "members"),
        ("/api/docs/", {"title": "D", "editors": [HUGE]}, "editors"),
        ("/api/notifications/", {"users": [HUGE], "kind": "order", "title": "T"}, "users"),
        ("/api/friend-requests/", {"to": HUGE}, "to"),
    ],
)
def test_ids_out_of_the_database_range_are_invalid(path: str, body: Any, field: str) -> None:
    response = _staff_client().post(path, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_product_names_leave_room_for_the_price_drop_title() -> None:
    response = _staff_client().post(
        "/api/products/", {"name": "n" * 200, "price": "10.00"}, format="json"
    )
    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]


def test_price_drop_of_a_product_whose_name_is_too_long_is_a_400() -> None:
    product = ProductFactory(name="n" * 200, price=Decimal("20.00"))  # as the admin allows
    PriceWatchFactory(product=product, threshold=Decimal("15.00"))
    response = _staff_client().patch(
        f"/api/products/{product.pk}/", {"price": "10.00"}, format="json"
    )
    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]
    product.refresh_from_db()
    assert product.price == Decimal("20.00")


@pytest.mark.parametrize(
    ("path", "field", "body"),
    [
        ("/api/rooms/", "members", {"slug": "r", "name": "R"}),
        ("/api/docs/", "editors", {"title": "D"}),
        ("/api/notifications/", "users", {"kind": "order", "title": "T"}),
        ("/api/friend-requests/", "to", {}),
    ],
)
def test_a_missing_and_a_deactivated_user_get_the_same_answer(
    path: str, field: str, body: dict[str, Any]
) -> None:
    client = _staff_client()
    gone = UserFactory(is_active=False).pk
    missing = gone + 1000

    def answer(user_id: int) -> tuple[int, str]:
        value = user_id if field == "to" else [user_id]
        response = client.post(path, {**body, field: value}, format="json")
        return response.status_code, response.content.decode().replace(str(user_id), "<id>")

    assert answer(gone) == answer(missing)
    assert answer(missing)[0] == 400


def test_a_lone_surrogate_is_refused_naming_its_field() -> None:
    body = '{"title": "Down", "level": "\\ud800"}'
    response = _staff_client().generic(
        "POST", "/api/alerts/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["level"]
