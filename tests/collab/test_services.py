"""collab services: what a commit stores and broadcasts, idempotency, and its query cost."""

from __future__ import annotations

from typing import Any

import pytest

from collab import services
from collab.history import committed_since, text_at
from collab.models import Document, DocumentOp, Snapshot
from realtime.errors import FrameError

from .factories import DocumentFactory

pytestmark = pytest.mark.django_db


def ins(position: int, text: str) -> dict[str, Any]:
    return {"type": "insert", "position": position, "text": text}


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []

    def capture(group: str, frame: dict[str, Any], **options: Any) -> None:
        frames.append({"group": group, "frame": frame, **options})

    monkeypatch.setattr(services, "publish", capture)
    return frames


def apply_op(doc: Document, user: Any, base: int, components: list[Any], **kw: Any) -> Any:
    return services.doc_apply_op(
        document_id=doc.pk,
        user=user,
        socket_id=kw.pop("socket_id", "sock"),
        base_version=base,
        components=components,
        **kw,
    )


def test_commit_stores_then_publishes_with_the_version_as_position(
    user: Any, published: list[dict[str, Any]]
) -> None:
    doc = DocumentFactory(content="abc", owner=user)
    commit = apply_op(doc, user, 0, [ins(3, "d")], op_id="x")
    assert (commit.version, commit.created) == (1, True)
    doc.refresh_from_db()
    assert (doc.content, doc.version) == ("abcd", 1)
    assert published == [
        {
            "group": services.doc_group(doc.pk),
            "frame": {
                "type": "op",
                "version": 1,
                "ops": [ins(3, "d")],
                "user": {"id": user.pk, "username": "alice"},
                "client": "sock",
                "op_id": "x",
            },
            "exclude": "sock",
            "position": 1,
        }
    ]


def test_a_repeated_op_id_returns_the_first_commit(user: Any, published: list[Any]) -> None:
    doc = DocumentFactory(owner=user)
    apply_op(doc, user, 0, [ins(0, "a")], op_id="same")
    again = apply_op(doc, user, 0, [ins(0, "a")], op_id="same", socket_id="other")
    assert (again.version, again.created) == (1, False)
    assert len(published) == 1
    assert DocumentOp.objects.count() == 1


def test_the_same_op_id_from_another_user_is_another_op(
    user: Any, other_user: Any, published: list[Any]
) -> None:
    doc = DocumentFactory(owner=user)
    apply_op(doc, user, 0, [ins(0, "a")], op_id="same")
    assert apply_op(doc, other_user, 0, [ins(0, "b")], op_id="same").version == 2


def test_snapshots_and_pruning_keep_the_retention(
    user: Any, published: list[Any], settings: Any
) -> None:
    settings.COLLAB_SNAPSHOT_EVERY = 5
    settings.COLLAB_OP_RETENTION = 10
    doc = DocumentFactory(owner=user)
    for version in range(23):
        apply_op(doc, user, version, [ins(0, chr(65 + version))])
    versions = list(DocumentOp.objects.values_list("version", flat=True))
    # Pruned at version 20 to the last 10; three ops since.
    assert versions == list(range(11, 24))
    assert list(Snapshot.objects.order_by("version").values_list("version", flat=True)) == [
        10,
        15,
        20,
    ]
    doc.refresh_from_db()
    assert text_at(document_id=doc.pk, version=23) == doc.content
    assert text_at(document_id=doc.pk, version=12) == "LKJIHGFEDCBA"
    assert text_at(document_id=doc.pk, version=5) is None
    since = committed_since(document_id=doc.pk, after=20, version=23, length=len(doc.content))
    assert since is not None and since.base_length == 20 and len(since.ops) == 3
    assert committed_since(document_id=doc.pk, after=5, version=23, length=23) is None


def test_nothing_is_stored_when_an_op_is_refused(user: Any, published: list[Any]) -> None:
    doc = DocumentFactory(content="abc", owner=user)
    with pytest.raises(FrameError) as refused:
        apply_op(doc, user, 0, [ins(9, "x")], op_id="bad")
    assert refused.value.code == "invalid"
    doc.refresh_from_db()
    assert (doc.content, doc.version, DocumentOp.objects.count(), published) == ("abc", 0, 0, [])


def test_a_commit_costs_a_fixed_number_of_queries(
    user: Any, published: list[Any], django_assert_num_queries: Any
) -> None:
    doc = DocumentFactory(content="x" * 1000, owner=user)
    apply_op(doc, user, 0, [ins(0, "a")], op_id="warm")
    # Read the row (its version, length and any commit of this op_id), then
    # savepoint, lock the row, update the text, insert the op, release.
    with django_assert_num_queries(6):
        apply_op(doc, user, 1, [ins(0, "b")], op_id="k")
    # Behind by two: one more query reads the two ops to transform past (before the lock).
    apply_op(doc, user, 2, [ins(0, "c")])
    apply_op(doc, user, 3, [ins(0, "d")])
    with django_assert_num_queries(7):
        apply_op(doc, user, 2, [ins(0, "e")], op_id="e")
