"""The REST side of collab: create, list and read documents."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from collab.models import Document, Snapshot
from tests.conftest import token_for
from tests.factories import UserFactory

from .factories import DocumentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_create_returns_the_document_at_version_0(
    api: APIClient, user: Any, other_user: Any
) -> None:
    body = {"title": "Plan", "content": "a 👍", "access": "private", "editors": [other_user.pk]}
    response = api.post("/api/docs/", body, format="json")
    assert response.status_code == 201
    data = response.json()
    assert data == {
        "id": data["id"],
        "title": "Plan",
        "access": "private",
        "version": 0,
        "content": "a 👍",
    }
    document = Document.objects.get(pk=data["id"])
    assert document.owner == user
    assert list(document.editors.all()) == [other_user]
    assert Snapshot.objects.get(document=document).content == "a 👍"


def test_create_defaults_to_an_empty_public_document(api: APIClient) -> None:
    data = api.post("/api/docs/", {"title": "Empty"}, format="json").json()
    assert (data["access"], data["content"], data["version"]) == ("public", "", 0)


def test_create_with_a_bearer_token(user: Any) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    assert client.post("/api/docs/", {"title": "T"}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "t", "access": "secret"}, "access"),
        ({"title": "t", "editors": [999999]}, "editors"),
        ({"title": "t", "content": 5}, "content"),
        ({"title": "t", "content": "x\x00y"}, "content"),
    ],
)
def test_create_refuses_bad_fields(api: APIClient, body: dict[str, Any], field: str) -> None:
    response = api.post("/api/docs/", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]
    assert not Document.objects.exists()


def test_create_refuses_lone_surrogates_and_oversized_text(api: APIClient) -> None:
    raw = '{"title": "t", "content": "\\ud800"}'
    response = api.generic("POST", "/api/docs/", raw, content_type="application/json")
    assert response.status_code == 400 and "content" in response.json()["error"]["fields"]
    too_long = json.dumps({"title": "t", "content": "x" * 1_000_001})
    response = api.generic("POST", "/api/docs/", too_long, content_type="application/json")
    assert response.status_code == 400 and "content" in response.json()["error"]["fields"]
    assert not Document.objects.exists()


def test_detail_returns_the_current_text(api: APIClient, user: Any) -> None:
    document = DocumentFactory(title="Notes", content="hello", owner=user)
    Document.objects.filter(pk=document.pk).update(content="hello!", version=3)
    response = api.get(f"/api/docs/{document.pk}/")
    assert response.status_code == 200
    assert response.json() == {
        "id": document.pk,
        "title": "Notes",
        "access": "public",
        "version": 3,
        "content": "hello!",
    }


def test_private_documents_are_hidden_from_others(api: APIClient, user: Any) -> None:
    owner = UserFactory(username="owner")
    private = DocumentFactory(title="Secret", owner=owner, access="private")
    shared = DocumentFactory(title="Shared", owner=owner, access="private", editors=[user])
    readonly = DocumentFactory(title="Rules", owner=owner, access="readonly")
    response = api.get(f"/api/docs/{private.pk}/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert api.get(f"/api/docs/{shared.pk}/").status_code == 200
    listed = {doc["title"] for doc in api.get("/api/docs/").json()}
    assert listed == {"Shared", "Rules"}
    assert readonly.pk in {doc["id"] for doc in api.get("/api/docs/").json()}


def test_list_entries_leave_the_text_out(api: APIClient, user: Any) -> None:
    DocumentFactory(title="Notes", content="long text", owner=user)
    [entry] = api.get("/api/docs/").json()
    assert set(entry) == {"id", "title", "access", "version", "owner", "updated"}
    assert entry["owner"] == {"id": user.pk, "username": "alice"}


def test_unknown_ids_are_not_found(api: APIClient) -> None:
    for path in ("/api/docs/12345/", "/api/docs/" + "9" * 30 + "/"):
        response = api.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_anonymous_requests_are_refused() -> None:
    response = APIClient().post("/api/docs/", {"title": "t"}, format="json")
    assert response.status_code in (401, 403)
    assert not Document.objects.exists()
