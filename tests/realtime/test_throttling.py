"""REST and page writes take from the user's message bucket, the one their sockets use."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client as HttpClient
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from chat.models import Message
from notifications.models import Order
from realtime import ratelimit
from tests.conftest import Connect
from tests.factories import RoomFactory

# A bucket that does not refill while a test runs: exactly the burst is allowed.
SLOW = 0.01


@pytest.fixture
def slow_bucket(settings: Any) -> None:
    settings.RATE_LIMIT_PER_SECOND = SLOW
    settings.RATE_LIMIT_BURST = 20


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _assert_rate_limited(response: Any) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) == 100  # 1 token at 0.01/s, in whole seconds
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"]
    assert error["retry_after_ms"] == 100_000


@pytest.mark.django_db
def test_message_posts_beyond_the_burst_are_429(user: Any, slow_bucket: None) -> None:
    RoomFactory(slug="lobby")
    api = _api(user)
    statuses = [
        api.post("/api/rooms/lobby/messages/", {"message": f"m{n}"}, format="json")
        for n in range(60)
    ]
    assert [r.status_code for r in statuses[:20]] == [201] * 20
    for response in statuses[20:]:
        _assert_rate_limited(response)
    assert Message.objects.count() == 20


@pytest.mark.django_db
def test_orders_are_limited_and_reads_are_not(user: Any, slow_bucket: None) -> None:
    api = _api(user)
    for _ in range(20):
        assert api.post("/api/orders/", {"amount": "1.00"}, format="json").status_code == 201
    _assert_rate_limited(api.post("/api/orders/", {"amount": "1.00"}, format="json"))
    assert Order.objects.count() == 20
    assert all(api.get("/api/orders/").status_code == 200 for _ in range(30))


@pytest.mark.django_db
def test_dashboard_events_are_limited(user: Any, slow_bucket: None) -> None:
    api = _api(user)
    answers = [
        api.post("/api/events/", {"kind": "like"}, format="json").status_code for _ in range(21)
    ]
    assert answers == [201] * 20 + [429]


@pytest.mark.django_db
def test_budgets_are_per_user(user: Any, other_user: Any, slow_bucket: None) -> None:
    for _ in range(20):
        _api(user).post("/api/orders/", {"amount": "1.00"}, format="json")
    answer = _api(other_user).post("/api/orders/", {"amount": "1.00"}, format="json")
    assert answer.status_code == 201


class _NewView(APIView):
    """A view of an app that knows nothing about rate limits."""

    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        return Response({"ok": True})


@pytest.mark.django_db
def test_a_new_view_is_limited_without_asking(user: Any, slow_bucket: None) -> None:
    view = _NewView.as_view()
    answers = []
    for _ in range(21):
        request = APIRequestFactory().post("/new/", {}, format="json")
        force_authenticate(request, user=user)
        answers.append(view(request).status_code)
    assert answers == [200] * 20 + [429]


@pytest.mark.django_db
def test_page_forms_share_the_budget(user: Any, slow_bucket: None) -> None:
    api = _api(user)
    for _ in range(20):
        api.post("/api/orders/", {"amount": "1.00"}, format="json")
    page = HttpClient()
    page.force_login(user)
    response = page.post("/notifications/shop/", {"amount": "1.00"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) == 100
    assert "Too many requests" in response.content.decode()
    assert Order.objects.count() == 20


@pytest.mark.django_db(transaction=True)
async def test_a_socket_and_rest_share_one_budget(
    connect: Connect, user: Any, slow_bucket: None
) -> None:
    await sync_to_async(RoomFactory)(slug="lobby")
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")

    def post_twenty() -> list[int]:
        api = _api(user)
        return [
            api.post("/api/rooms/lobby/messages/", {"message": f"m{n}"}, format="json").status_code
            for n in range(20)
        ]

    assert await sync_to_async(post_twenty)() == [201] * 20
    await client.send({"action": "send", "message": "one more", "ref": 1})
    error = await client.receive_type("error")
    assert error["code"] == "rate_limited" and error["ref"] == 1
    assert await sync_to_async(Message.objects.count)() == 20


@pytest.mark.django_db(transaction=True)
async def test_socket_frames_use_up_the_rest_budget(
    connect: Connect, user: Any, slow_bucket: None
) -> None:
    await sync_to_async(RoomFactory)(slug="lobby")
    client = await connect("/ws/chat/lobby/", user)
    await client.receive_type("history")
    for n in range(20):
        await client.send({"action": "send", "message": f"m{n}", "ref": n})
        await client.receive_type("ack")

    def post() -> Any:
        return _api(user).post("/api/rooms/lobby/messages/", {"message": "x"}, format="json")

    _assert_rate_limited(await sync_to_async(post)())


def test_the_in_process_store_drops_what_has_expired(settings: Any, monkeypatch: Any) -> None:
    settings.REDIS_URL = None
    monkeypatch.setattr(ratelimit, "_PRUNE_AT", 10)
    monkeypatch.setattr(ratelimit, "_buckets", {})
    monkeypatch.setattr(ratelimit, "_counters", {})
    monkeypatch.setattr(ratelimit, "_pruned_at", 0.0)
    now = ratelimit._now_ms()
    for n in range(20):
        ratelimit.rate_take_sync(key=f"old{n}", rate=1000, burst=1)
        ratelimit.window_add(key=f"old{n}", window_seconds=1)
    later = now + 120_000
    monkeypatch.setattr(ratelimit, "_now_ms", lambda: later)
    ratelimit.rate_take_sync(key="new", rate=1000, burst=1)
    assert len(ratelimit._buckets) == 1 and ratelimit._counters == {}
