"""The work one `op` or one `sync` may cost the server: bounded, and refused past the bound."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from collab import history, ot, peers, services
from collab.models import Document, DocumentOp, Peer
from realtime.errors import FrameError
from realtime.frames import encode
from realtime.models import Connection

from .factories import DocumentFactory, seed_ops, spread

pytestmark = pytest.mark.django_db


def ins(position: int, text: str) -> dict[str, Any]:
    return {"type": "insert", "position": position, "text": text}


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Component steps of every transform the server runs: len(op) + len(other) per call."""
    counted = [0]
    real = ot.transform

    def counting(op: ot.Op, other: ot.Op, side: ot.Side) -> ot.Op:
        counted[0] += len(op) + len(other)
        return real(op, other, side)

    monkeypatch.setattr(ot, "transform", counting)
    return counted


@pytest.fixture
def rebuilt(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Components of the committed ops read back from the log and rebuilt."""
    counted = [0]
    real = history.components_to_op

    def counting(components: list[dict[str, Any]], length: int) -> ot.Op:
        counted[0] += len(components)
        return real(components, length)

    monkeypatch.setattr(history, "components_to_op", counting)
    return counted


@pytest.fixture(autouse=True)
def _no_push(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "publish", lambda *args, **kwargs: None)
    monkeypatch.setattr(peers, "publish", lambda *args, **kwargs: None)


def apply_op(doc: Document, user: Any, base: int, components: list[Any], **kw: Any) -> Any:
    return services.doc_apply_op(
        document_id=doc.pk,
        user=user,
        socket_id="sock",
        base_version=base,
        components=components,
        **kw,
    )


def test_an_op_hundreds_of_versions_behind_big_ops_is_stale_without_the_replay(
    user: Any, steps: list[int]
) -> None:
    doc = DocumentFactory(content="a" * 2000, owner=user)
    seed_ops(doc, user, ops=300, components=1000)
    with pytest.raises(FrameError) as refused:
        apply_op(doc, user, 0, spread(1000), op_id="old")
    assert refused.value.code == "stale_version"
    assert refused.value.extra == {"version": 300}
    # Refused from the counts alone: not one op was transformed.
    assert steps[0] == 0
    assert not DocumentOp.objects.filter(op_id="old").exists()


def test_an_op_whose_transform_grows_is_stopped_at_the_bound(
    user: Any, steps: list[int], settings: Any
) -> None:
    settings.COLLAB_MAX_TRANSFORM_WORK = 20_000
    doc = DocumentFactory(content="a" * 600, owner=user)
    seed_ops(doc, user, ops=6, components=500)
    # One delete of the whole text: each committed op's inserts split it again,
    # so its own size, and the work per op, grows with every op it passes.
    with pytest.raises(FrameError) as refused:
        apply_op(doc, user, 0, [{"type": "delete", "position": 0, "length": 600}])
    assert refused.value.code == "stale_version"
    assert 0 < steps[0] <= settings.COLLAB_MAX_TRANSFORM_WORK
    assert Document.objects.get(pk=doc.pk).version == 6


def test_typing_a_hundred_versions_behind_still_commits(user: Any, steps: list[int]) -> None:
    doc = DocumentFactory(content="a" * 10, owner=user)
    seed_ops(doc, user, ops=100, components=1)
    commit = apply_op(doc, user, 0, [ins(10, "!")], op_id="late")
    assert commit.version == 101
    assert Document.objects.get(pk=doc.pk).content.endswith("!")
    assert steps[0] <= settings.COLLAB_MAX_TRANSFORM_WORK


def test_a_resent_op_that_landed_is_acked_however_far_behind(user: Any) -> None:
    doc = DocumentFactory(content="a" * 2000, owner=user)
    first = apply_op(doc, user, 0, spread(1000), op_id="mine")
    seed_ops(doc, user, ops=300, components=1000)
    assert apply_op(doc, user, 0, spread(1000), op_id="mine") == services.Commit(
        version=first.version, created=False
    )


def test_an_op_refused_as_stale_commits_once_rebased_on_the_current_version(user: Any) -> None:
    doc = DocumentFactory(content="a" * 2000, owner=user)
    seed_ops(doc, user, ops=300, components=1000)
    with pytest.raises(FrameError):
        apply_op(doc, user, 0, [ins(0, "x")] * 3, op_id="mine")
    commit = apply_op(doc, user, 300, [ins(0, "x")] * 3, op_id="mine")
    assert (commit.version, commit.created) == (301, True)


def test_a_stale_refusal_never_takes_the_write_lock(user: Any, monkeypatch: Any) -> None:
    doc = DocumentFactory(content="a" * 2000, owner=user)
    seed_ops(doc, user, ops=300, components=1000)
    locked: list[bool] = []
    real = Document.objects.select_for_update

    def spy(*args: Any, **kwargs: Any) -> Any:
        locked.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(Document.objects, "select_for_update", spy)
    with pytest.raises(FrameError):
        apply_op(doc, user, 0, spread(1000))
    assert locked == []


# --- cursors and greetings -----------------------------------------------------------


def _socket(user: Any, name: str) -> Connection:
    now = timezone.now()
    return Connection.objects.create(
        id=name, user=user, endpoint="collab", process="p1", connected=now, last_seen=now
    )


def test_a_cursor_far_behind_big_ops_is_stale_without_the_replay(
    user: Any, rebuilt: list[int]
) -> None:
    doc = DocumentFactory(content="a" * 2000, owner=user)
    seed_ops(doc, user, ops=300, components=1000)
    with pytest.raises(FrameError) as refused:
        peers.peer_move_cursor(
            document_id=doc.pk,
            user=user,
            socket_id="s1",
            position=0,
            selection_end=None,
            version=0,
        )
    assert refused.value.code == "stale_version"
    assert rebuilt[0] <= settings.COLLAB_MAX_TRANSFORM_WORK


def test_a_greeting_does_not_replay_big_ops_for_an_idle_cursor(
    user: Any, other_user: Any, rebuilt: list[int]
) -> None:
    doc = DocumentFactory(content="a" * 2000, owner=user)
    Peer.objects.create(connection=_socket(user, "idle"), document=doc, user=user, version=0)
    seed_ops(doc, user, ops=300, components=1000)
    _socket(other_user, "new")
    hello = peers.peer_join(document_id=doc.pk, user=other_user, socket_id="new")
    assert hello["version"] == 300
    # The idle cursor stays where it was (within the text), as one older than the log would.
    assert [peer["position"] for peer in hello["peers"]] == [0]
    assert rebuilt[0] <= settings.COLLAB_MAX_TRANSFORM_WORK


# --- sync --------------------------------------------------------------------------


def test_sync_over_many_ops_comes_in_pages(user: Any, settings: Any) -> None:
    settings.COLLAB_SYNC_MAX_OPS = 40
    doc = DocumentFactory(content="a" * 10, owner=user)
    seed_ops(doc, user, ops=100, components=1)
    pages = []
    version = 0
    while True:
        page = services.doc_ops_since(document_id=doc.pk, version=version)
        pages.append(page)
        if not page["has_more"]:
            break
        version = page["ops"][-1]["version"]
    assert [len(page["ops"]) for page in pages] == [40, 40, 20]
    assert all(page["version"] == 100 for page in pages)
    assert [entry["version"] for page in pages for entry in page["ops"]] == list(range(1, 101))


def test_a_sync_page_stops_near_the_byte_bound(user: Any, settings: Any) -> None:
    settings.COLLAB_SYNC_MAX_BYTES = 100_000
    doc = DocumentFactory(content="a" * 2000, owner=user)
    seed_ops(doc, user, ops=30, components=1000)
    page = services.doc_ops_since(document_id=doc.pk, version=0)
    assert page["has_more"] is True
    size = len(encode(page).encode())
    # Whole ops only: at most one op past the bound.
    assert 0 < len(page["ops"]) < 30
    assert size <= 100_000 + len(encode(page["ops"][-1]).encode())


def test_one_op_larger_than_the_byte_bound_still_comes(user: Any, settings: Any) -> None:
    settings.COLLAB_SYNC_MAX_BYTES = 1000
    doc = DocumentFactory(content="a" * 2000, owner=user)
    seed_ops(doc, user, ops=3, components=1000)
    page = services.doc_ops_since(document_id=doc.pk, version=0)
    assert [entry["version"] for entry in page["ops"]] == [1]
    assert page["has_more"] is True


def test_an_up_to_date_sync_is_empty_and_complete(user: Any) -> None:
    doc = DocumentFactory(content="abc", owner=user)
    page = services.doc_ops_since(document_id=doc.pk, version=0)
    assert page == {"type": "ops", "from": 0, "ops": [], "version": 0, "has_more": False}
