"""Bad input on the collab socket: each gets an error frame, and nothing is applied."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from collab.models import Document, DocumentOp
from tests.conftest import Connect
from tests.factories import UserFactory

from .factories import DocumentFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def doc(user: Any) -> Document:
    return DocumentFactory(title="Notes", content="hello", owner=user)


async def unchanged(doc: Document, content: str = "hello", version: int = 0) -> bool:
    stored = await database_sync_to_async(Document.objects.get)(pk=doc.pk)
    rows = await database_sync_to_async(DocumentOp.objects.filter(document=doc).count)()
    return (stored.content, stored.version, rows) == (content, version, version)


async def error_for(client: Any, frame: dict[str, Any]) -> dict[str, Any]:
    await client.send({**frame, "ref": "bad"})
    error = await client.receive_type("error")
    assert error["ref"] == "bad"
    return error


@pytest.mark.parametrize(
    ("ops", "words"),
    [
        ([{"type": "insert", "position": 6, "text": "x"}], "position 6 outside the text"),
        ([{"type": "delete", "position": 3, "length": 3}], "runs past the end"),
        ([{"type": "delete", "position": 0, "length": -2}], "at least 1"),
        ([{"type": "delete", "position": 0, "length": 0}], "at least 1"),
        ([{"type": "insert", "position": -1, "text": "x"}], "outside the text"),
        ([{"type": "insert", "position": 0, "text": "\ud800"}], "not valid Unicode"),
        ([{"type": "insert", "position": 0, "text": "a\udc00b"}], "not valid Unicode"),
        ([{"type": "insert", "position": 0, "text": ""}], "must not be empty"),
        ([{"type": "insert", "position": 0, "text": 5}], "must be a string"),
        ([{"type": "insert", "position": True, "text": "x"}], "must be an integer"),
        ([{"type": "insert", "position": 1.5, "text": "x"}], "must be an integer"),
        ([{"type": "move", "position": 0}], "'type' must be"),
        ([{"type": "insert", "text": "x"}], "missing 'position'"),
        (["insert"], "must be an object"),
        # Each component applies to the result of the previous one.
        (
            [
                {"type": "delete", "position": 0, "length": 5},
                {"type": "insert", "position": 1, "text": "x"},
            ],
            "outside the text (0..0)",
        ),
        ([{"type": "insert", "position": 0, "text": "a\x00b"}], "U+0000"),
    ],
)
async def test_ops_that_do_not_fit_are_invalid(
    connect: Connect, doc: Document, user: Any, ops: list[Any], words: str
) -> None:
    client = await connect(f"/ws/collab/{doc.pk}/", user)
    await client.receive_type("hello")
    error = await error_for(client, {"action": "op", "version": 0, "ops": ops})
    assert error["code"] == "invalid"
    assert "`ops`" in error["message"] and words in error["message"]
    assert await unchanged(doc)


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"action": "op", "version": 0, "ops": []}, "`ops`"),
        ({"action": "op", "version": 0, "ops": {"type": "insert"}}, "`ops`"),
        # More components than one op may carry (clients send them as several ops).
        (
            {
                "action": "op",
                "version": 0,
                "ops": [{"type": "insert", "position": 0, "text": "x"}] * 1001,
            },
            "at most 1000 components",
        ),
        ({"action": "op", "version": 0}, "`ops`"),
        ({"action": "op", "ops": [{"type": "insert", "position": 0, "text": "x"}]}, "`version`"),
        ({"action": "op", "version": -1, "ops": [{"type": "delete"}]}, "`version`"),
        ({"action": "op", "version": "0", "ops": [{"type": "delete"}]}, "`version`"),
        (
            {
                "action": "op",
                "version": 0,
                "ops": [{"type": "insert", "position": 0, "text": "x"}],
                "op_id": "x" * 65,
            },
            "`op_id`",
        ),
        ({"action": "cursor"}, "`position`"),
        ({"action": "cursor", "position": -1}, "`position`"),
        ({"action": "cursor", "position": 6}, "`position`"),
        ({"action": "cursor", "position": 0, "selection_end": 9}, "`selection_end`"),
        ({"action": "sync"}, "`version`"),
    ],
)
async def test_malformed_frames_are_invalid(
    connect: Connect, doc: Document, user: Any, frame: dict[str, Any], field: str
) -> None:
    client = await connect(f"/ws/collab/{doc.pk}/", user)
    await client.receive_type("hello")
    error = await error_for(client, frame)
    assert error["code"] == "invalid" and field in error["message"]
    assert await unchanged(doc)


async def test_version_from_the_future_is_stale(connect: Connect, doc: Document, user: Any) -> None:
    client = await connect(f"/ws/collab/{doc.pk}/", user)
    await client.receive_type("hello")
    ops = [{"type": "insert", "position": 0, "text": "x"}]
    error = await error_for(client, {"action": "op", "version": 1, "ops": ops})
    assert error["code"] == "stale_version" and error["version"] == 0
    error = await error_for(client, {"action": "sync", "version": 7})
    assert error["code"] == "stale_version"
    error = await error_for(client, {"action": "cursor", "position": 0, "version": 3})
    assert error["code"] == "stale_version"
    assert await unchanged(doc)


async def test_version_older_than_the_ops_kept_is_stale(
    connect: Connect, doc: Document, user: Any, settings: Any
) -> None:
    settings.COLLAB_OP_RETENTION = 2
    settings.COLLAB_SNAPSHOT_EVERY = 2
    client = await connect(f"/ws/collab/{doc.pk}/", user)
    await client.receive_type("hello")
    for version in range(4):
        ops = [{"type": "insert", "position": 0, "text": str(version)}]
        await client.send({"action": "op", "version": version, "ops": ops})
        await client.receive_type("ack")
    # Four ops with a retention of two: versions 1 and 2 are gone.
    assert await database_sync_to_async(DocumentOp.objects.count)() == 2
    ops = [{"type": "insert", "position": 0, "text": "x"}]
    error = await error_for(client, {"action": "op", "version": 1, "ops": ops})
    assert error["code"] == "stale_version" and error["version"] == 4
    assert (await error_for(client, {"action": "sync", "version": 0}))["code"] == "stale_version"
    # From the oldest kept base on, both still work.
    await client.send({"action": "sync", "version": 2})
    assert [entry["version"] for entry in (await client.receive_type("ops"))["ops"]] == [3, 4]


async def test_an_insert_past_the_size_limit_is_invalid(connect: Connect, user: Any) -> None:
    doc = await database_sync_to_async(DocumentFactory)(content="x" * 999_998, owner=user)
    client = await connect(f"/ws/collab/{doc.pk}/", user)
    await client.receive_type("hello", timeout=20)
    ops = [{"type": "insert", "position": 0, "text": "abc"}]
    error = await error_for(client, {"action": "op", "version": 0, "ops": ops})
    assert error["code"] == "invalid" and "1000000 code points" in error["message"]
    await client.send({"action": "op", "version": 0, "ops": [{**ops[0], "text": "ab"}]})
    assert (await client.receive_type("ack"))["version"] == 1  # exactly at the limit is fine


async def test_ops_on_a_read_only_document_are_forbidden(connect: Connect, user: Any) -> None:
    owner = await database_sync_to_async(UserFactory)(username="owner")
    doc = await database_sync_to_async(DocumentFactory)(
        content="hello", owner=owner, access=Document.Access.READONLY
    )
    client = await connect(f"/ws/collab/{doc.pk}/", user)
    hello = await client.receive_type("hello")
    assert hello["can_edit"] is False and hello["doc"]["access"] == "readonly"
    ops = [{"type": "insert", "position": 0, "text": "x"}]
    error = await error_for(client, {"action": "op", "version": 0, "ops": ops})
    assert error["code"] == "forbidden"
    assert await unchanged(doc)
    # Reading users still show their cursor.
    await client.send({"action": "cursor", "position": 2})
    assert await client.nothing()


async def test_owner_and_editors_edit_a_read_only_document(
    connect: Connect, user: Any, other_user: Any
) -> None:
    doc = await database_sync_to_async(DocumentFactory)(
        content="hello", owner=user, access=Document.Access.READONLY, editors=[other_user]
    )
    ops = [{"type": "insert", "position": 0, "text": "x"}]
    for version, who in enumerate((user, other_user)):
        client = await connect(f"/ws/collab/{doc.pk}/", who)
        assert (await client.receive_type("hello"))["can_edit"] is True
        await client.send({"action": "op", "version": version, "ops": ops})
        assert (await client.receive_type("ack"))["version"] == version + 1


async def test_private_document_refuses_others_and_unknown_ids_are_not_found(
    connect: Connect, user: Any, other_user: Any
) -> None:
    doc = await database_sync_to_async(DocumentFactory)(owner=user, access=Document.Access.PRIVATE)
    outsider = await connect(f"/ws/collab/{doc.pk}/", other_user)
    assert await outsider.closed_with() == 4403
    owner = await connect(f"/ws/collab/{doc.pk}/", user)
    assert (await owner.receive_type("hello"))["can_edit"] is True
    for path in (f"/ws/collab/{doc.pk + 1}/", "/ws/collab/abc/", "/ws/collab/" + "9" * 25 + "/"):
        missing = await connect(path, user)
        assert await missing.closed_with() == 4404
    anonymous = await connect(f"/ws/collab/{doc.pk}/")
    assert await anonymous.closed_with() == 4401


async def test_op_and_cursor_have_their_own_rate_limit(
    connect: Connect, doc: Document, user: Any, settings: Any
) -> None:
    settings.COLLAB_RATE_PER_SECOND = 1
    settings.COLLAB_RATE_BURST = 3
    client = await connect(f"/ws/collab/{doc.pk}/", user)
    await client.receive_type("hello")
    for _ in range(3):
        await client.send({"action": "cursor", "position": 1})
    ops = [{"type": "insert", "position": 0, "text": "x"}]
    error = await error_for(client, {"action": "op", "version": 0, "ops": ops, "op_id": "r"})
    assert error["code"] == "rate_limited" and error["retry_after_ms"] > 0
    assert await unchanged(doc)
    # Other actions use the general bucket, which is still full.
    await client.send({"action": "sync", "version": 0})
    assert (await client.receive_type("ops"))["ops"] == []


def test_private_document_page_shows_nothing_of_the_document(client: Any, user: Any) -> None:
    owner = UserFactory(username="owner")
    document = DocumentFactory(title="Layoff List", owner=owner, access="private")
    client.force_login(user)
    response = client.get(f"/docs/{document.pk}/")
    assert response.status_code == 403
    assert "Layoff List" not in response.content.decode()
