"""The Python collab client against the server's bounds: split ops, rebase when stale, pages."""

from __future__ import annotations

from typing import Any

import pytest

from collab.client import MAX_REBASES, CollabClient
from collab.ot import OP_MAX_COMPONENTS, Op, apply, components_to_op, op_to_components, transform


def ins(position: int, text: str) -> dict[str, Any]:
    return {"type": "insert", "position": position, "text": text}


def greeted(text: str = "", version: int = 0) -> CollabClient:
    client = CollabClient()
    client.receive({"type": "hello", "client": "me", "version": version, "content": text})
    return client


def replay(text: str, frames: list[dict[str, Any]]) -> str:
    for frame in frames:
        text = apply(text, components_to_op(frame["ops"], len(text)))
    return text


def test_an_op_of_more_components_than_allowed_goes_out_as_several() -> None:
    client = greeted("a" * 3000)
    spread = [ins(2 * j, "z") for j in range(OP_MAX_COMPONENTS + 500)]
    client.edit(components_to_op(spread, 3000))
    [first] = client.take_frames()
    assert len(first["ops"]) == OP_MAX_COMPONENTS and first["version"] == 0
    client.receive({"type": "ack", "version": 1, "op_id": first["op_id"]})
    [second] = client.take_frames()
    assert len(second["ops"]) == 500 and second["version"] == 1
    assert replay("a" * 3000, [first, second]) == client.text


def test_an_op_refused_as_too_far_behind_is_resent_once_caught_up() -> None:
    client = greeted("abc")
    client.splice(3, 0, "!")
    [sent] = client.take_frames()
    client.receive(
        {"type": "error", "code": "stale_version", "message": "too far", "ref": sent["op_id"]}
        | {"version": 2}
    )
    # Behind the server: it asks for the ops it lacks before sending anything again.
    assert client.take_frames() == [{"action": "sync", "version": 0}]
    others = [
        {"version": 1, "ops": [ins(0, "x")], "client": "c2", "op_id": "o1", "user": None},
        {"version": 2, "ops": [ins(0, "y")], "client": "c2", "op_id": "o2", "user": None},
    ]
    client.receive({"type": "ops", "from": 0, "ops": others, "version": 2, "has_more": False})
    [again] = client.take_frames()
    assert again == {**sent, "version": 2, "ops": [ins(5, "!")]}
    client.receive({"type": "ack", "version": 3, "op_id": sent["op_id"]})
    assert client.idle and client.broken is None and client.text == "yxabc!"


@pytest.mark.parametrize("code", ["rate_limited", "unavailable"])
def test_an_op_refused_for_now_is_resent_the_same_after_the_delay(code: str) -> None:
    client = greeted("abc")
    client.splice(3, 0, "!")
    [sent] = client.take_frames()
    client.receive(
        {"type": "error", "code": code, "message": "later", "ref": sent["op_id"]}
        | {"retry_after_ms": 1000}
    )
    assert client.broken is None and client.retry_after_ms == 1000
    client.resend()
    assert client.take_frames() == [sent]


def test_a_rebased_op_is_what_a_reconnect_resends() -> None:
    client = greeted("abc")
    client.splice(0, 0, "!")
    [sent] = client.take_frames()
    client.receive({"type": "op", "version": 1, "ops": [ins(3, "d")], "client": "c2"})
    client.receive(
        {"type": "error", "code": "stale_version", "message": "m", "ref": sent["op_id"]}
        | {"version": 1}
    )
    [rebased] = client.take_frames()
    assert rebased["version"] == 1 and rebased["op_id"] == sent["op_id"]
    client.on_close()
    client.receive({"type": "hello", "client": "me2", "version": 1, "content": "abcd"})
    assert client.take_frames() == [rebased]


def test_stale_without_a_way_to_catch_up_breaks_the_client() -> None:
    # The document is behind the op's base: nothing to catch up with.
    client = greeted("abc", version=5)
    client.splice(0, 0, "!")
    [sent] = client.take_frames()
    client.receive(
        {"type": "error", "code": "stale_version", "message": "m", "ref": sent["op_id"]}
        | {"version": 3}
    )
    assert client.broken is not None


def test_an_op_refused_again_and_again_gives_up() -> None:
    client = greeted("abc")
    client.splice(0, 0, "!")
    [sent] = client.take_frames()
    for _ in range(MAX_REBASES):
        client.receive(
            {"type": "error", "code": "stale_version", "message": "m", "ref": sent["op_id"]}
            | {"version": 0}
        )
        assert client.broken is None
        assert [frame["op_id"] for frame in client.take_frames()] == [sent["op_id"]]
    client.receive(
        {"type": "error", "code": "stale_version", "message": "m", "ref": sent["op_id"]}
        | {"version": 0}
    )
    assert client.broken is not None


def test_a_sync_reply_with_more_asks_for_the_next_page() -> None:
    client = greeted("", version=0)
    page = [
        {"version": v, "ops": [ins(0, str(v))], "client": "c2", "op_id": None, "user": None}
        for v in (1, 2)
    ]
    client.receive({"type": "ops", "from": 0, "ops": page, "version": 5, "has_more": True})
    assert client.take_frames() == [{"action": "sync", "version": 2}]
    client.receive({"type": "ops", "from": 2, "ops": [], "version": 2, "has_more": False})
    assert client.take_frames() == []


def test_split_parts_land_on_the_text_they_were_made_for() -> None:
    client = greeted("abcdef" * 400)
    edits = [ins(3 * j, "Q") for j in range(OP_MAX_COMPONENTS + 1)]
    client.edit(components_to_op(edits, 2400))
    [first] = client.take_frames()
    # Another user's op lands before ours: the rest, still buffered, moves with it.
    client.receive({"type": "op", "version": 1, "ops": [ins(0, "AB")], "client": "c2"})
    client.receive({"type": "ack", "version": 2, "op_id": first["op_id"]})
    [second] = client.take_frames()
    assert second["version"] == 2
    server = replay("abcdef" * 400, [{"ops": [ins(0, "AB")]}])
    server = replay(server, [{"ops": op_to_components(_transformed(first["ops"]))}])
    assert replay(server, [second]) == client.text


def _transformed(components: list[dict[str, Any]]) -> Op:
    op = components_to_op(components, 2400)
    return transform(op, components_to_op([ins(0, "AB")], 2400), "right")
