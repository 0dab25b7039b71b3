"""The REST side of chat and the core endpoints (`/api/token/`, `/healthz`)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from django.conf import settings
from django.test import Client as HttpClient
from rest_framework.test import APIClient

from chat.models import Message, Room
from tests.factories import PASSWORD, RoomFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_token_for_good_credentials(user: Any) -> None:
    response = APIClient().post(
        "/api/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == settings.JWT_TTL_SECONDS
    claims = jwt.decode(body["access"], settings.JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == str(user.pk) and "exp" in claims


def test_token_refuses_wrong_password(user: Any) -> None:
    response = APIClient().post(
        "/api/token/", {"username": "alice", "password": "nope"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_token_validates_fields() -> None:
    response = APIClient().post("/api/token/", {"username": "alice"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "password" in error["fields"]


def test_bearer_token_authenticates(user: Any) -> None:
    token = (
        APIClient()
        .post("/api/token/", {"username": "alice", "password": PASSWORD}, format="json")
        .json()["access"]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/rooms/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Bearer junk")
    assert client.get("/api/rooms/").status_code == 401


def test_anonymous_is_refused() -> None:
    response = APIClient().get("/api/rooms/")
    assert response.status_code in (401, 403)
    assert "error" in response.json()


def test_rooms_lists_public_and_own_private(api: APIClient, user: Any) -> None:
    RoomFactory(slug="a-public", name="A")
    RoomFactory(slug="b-mine", name="B", is_private=True, members=[user])
    RoomFactory(slug="c-theirs", name="C", is_private=True, members=[UserFactory()])
    rooms = api.get("/api/rooms/").json()
    assert [room["slug"] for room in rooms] == ["a-public", "b-mine"]
    assert rooms[0] == {"slug": "a-public", "name": "A", "is_private": False, "last_seq": 0}


def test_create_room_makes_creator_member(api: APIClient, user: Any, other_user: Any) -> None:
    response = api.post(
        "/api/rooms/",
        {"slug": "team", "name": "Team", "is_private": True, "members": [other_user.pk]},
        format="json",
    )
    assert response.status_code == 201
    assert response.json() == {"slug": "team", "name": "Team", "is_private": True, "last_seq": 0}
    room = Room.objects.get(slug="team")
    assert set(room.members.values_list("username", flat=True)) == {"alice", "bob"}


@pytest.mark.parametrize(
    "body",
    [
        {"slug": "bad slug!", "name": "X"},
        {"slug": "ok", "name": ""},
        {"slug": "ok", "name": "X", "members": [999999]},
        {"slug": "ok", "name": "X", "members": "all"},
    ],
)
def test_create_room_rejects_bad_input(api: APIClient, body: dict[str, Any]) -> None:
    response = api.post("/api/rooms/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not Room.objects.exists()


def test_create_room_with_taken_slug(api: APIClient) -> None:
    RoomFactory(slug="taken")
    response = api.post("/api/rooms/", {"slug": "taken", "name": "X"}, format="json")
    assert response.status_code == 400
    assert "slug" in response.json()["error"]["fields"]


def test_post_and_page_messages(api: APIClient, user: Any) -> None:
    RoomFactory(slug="lobby")
    for n in range(5):
        response = api.post(
            "/api/rooms/lobby/messages/", {"message": f"m{n}", "client_id": f"c{n}"}, format="json"
        )
        assert response.status_code == 201
    posted = response.json()
    assert posted["seq"] == 5 and posted["message"] == "m4" and posted["room"] == "lobby"
    assert posted["user"] == {"id": user.pk, "username": "alice"}
    page = api.get("/api/rooms/lobby/messages/?after=1&limit=2").json()
    assert [m["seq"] for m in page["messages"]] == [2, 3] and page["has_more"] is True
    page = api.get("/api/rooms/lobby/messages/?before=3").json()
    assert [m["seq"] for m in page["messages"]] == [1, 2] and page["has_more"] is False


def test_post_message_is_idempotent_on_client_id(api: APIClient) -> None:
    RoomFactory(slug="lobby")
    first = api.post(
        "/api/rooms/lobby/messages/", {"message": "x", "client_id": "k"}, format="json"
    )
    again = api.post(
        "/api/rooms/lobby/messages/", {"message": "x", "client_id": "k"}, format="json"
    )
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "body", [{"message": ""}, {"message": "   "}, {"message": "x" * 4001}, {}, {"message": 5}]
)
def test_post_message_rejects_bad_input(api: APIClient, body: dict[str, Any]) -> None:
    RoomFactory(slug="lobby")
    response = api.post("/api/rooms/lobby/messages/", body, format="json")
    assert response.status_code == 400
    assert Message.objects.count() == 0


def test_private_room_messages_are_not_leaked(api: APIClient) -> None:
    RoomFactory(slug="secret", is_private=True, members=[UserFactory()])
    assert api.get("/api/rooms/secret/messages/").status_code == 403
    assert (
        api.post("/api/rooms/secret/messages/", {"message": "x"}, format="json").status_code == 403
    )
    assert api.get("/api/rooms/nowhere/messages/").status_code == 404
    assert Message.objects.count() == 0


def test_bad_history_query(api: APIClient) -> None:
    RoomFactory(slug="lobby")
    assert api.get("/api/rooms/lobby/messages/?limit=0").status_code == 400
    assert api.get("/api/rooms/lobby/messages/?after=1&before=3").status_code == 400


def test_healthz() -> None:
    response = HttpClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"db": "ok", "channel_layer": "ok"}


def test_openapi_schema_lists_the_api(admin_client: HttpClient) -> None:
    response = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/token/" in paths and "/api/rooms/{slug}/messages/" in paths
