"""Tests for collab.ot: vectors from the real ot-text-unicode, plus properties.

No database and no Django: plain functions, runnable with
``pytest tests/collab/test_ot.py -p no:django``.
Regenerate the vectors with ``cd tests/collab/vectors && npm ci && node
generate.mjs``; set ``OT_VECTORS=/path/to/other.json`` to run a bigger
generated set (``node generate.mjs --scale 50 --out ...``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collab.ot import (
    Delete,
    Op,
    OpError,
    Side,
    apply,
    check_op,
    components_to_op,
    compose,
    compose_all,
    invert,
    is_noop,
    normalize,
    op_base_length,
    op_from_json,
    op_length_change,
    op_to_components,
    op_to_json,
    transform,
    transform_against,
    transform_position,
)

VECTORS_PATH = Path(
    os.environ.get("OT_VECTORS") or Path(__file__).parent / "vectors" / "vectors.json"
)
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def op_of(data: list[Any]) -> Op:
    """Vector JSON op -> internal op, exactly as given (no normalization)."""
    return [Delete(c["d"]) if isinstance(c, dict) else c for c in data]


def ids(kind: str) -> list[str]:
    return [f"{kind}-{i}" for i in range(len(VECTORS[kind]))]


def apply_components(text: str, components: list[dict[str, Any]]) -> str:
    """Apply wire components one by one (the naive reference)."""
    for c in components:
        p = c["position"]
        if c["type"] == "insert":
            text = text[:p] + c["text"] + text[p:]
        else:
            text = text[:p] + text[p + c["length"] :]
    return text


# --------------------------------------------------------------------------
# Vectors from ot-text-unicode
# --------------------------------------------------------------------------


def test_vectors_come_from_the_package() -> None:
    assert VECTORS["meta"]["package"].startswith("ot-text-unicode@")
    for kind in ("apply", "transform", "compose", "transformPosition", "components"):
        assert len(VECTORS[kind]) >= 100, kind
    texts = "".join(v["doc"] for v in VECTORS["apply"])
    assert any(ord(ch) > 0xFFFF for ch in texts), "vectors must include astral text"


@pytest.mark.parametrize("v", VECTORS["apply"], ids=ids("apply"))
def test_apply_vector(v: dict[str, Any]) -> None:
    assert apply(v["doc"], op_of(v["op"])) == v["result"]


@pytest.mark.parametrize("v", VECTORS["transform"], ids=ids("transform"))
def test_transform_vector(v: dict[str, Any]) -> None:
    a, b = op_of(v["a"]), op_of(v["b"])
    left = transform(a, b, "left")
    right = transform(a, b, "right")
    assert op_to_json(left) == v["left"]
    assert op_to_json(right) == v["right"]
    assert apply(apply(v["doc"], b), left) == v["result"]
    assert apply(apply(v["doc"], a), transform(b, a, "right")) == v["result"]


@pytest.mark.parametrize("v", VECTORS["compose"], ids=ids("compose"))
def test_compose_vector(v: dict[str, Any]) -> None:
    composed = compose(op_of(v["a"]), op_of(v["b"]))
    assert op_to_json(composed) == v["result"]
    assert apply(v["doc"], composed) == v["text"]


@pytest.mark.parametrize("v", VECTORS["transformPosition"], ids=ids("transformPosition"))
def test_transform_position_vector(v: dict[str, Any]) -> None:
    op = op_of(v["op"])
    got = [transform_position(p, op) for p in range(len(v["positions"]))]
    assert got == v["positions"]


@pytest.mark.parametrize("v", VECTORS["components"], ids=ids("components"))
def test_components_vector(v: dict[str, Any]) -> None:
    op = components_to_op(v["components"], len(v["doc"]))
    assert op_to_json(op) == v["op"]
    assert apply(v["doc"], op) == v["result"]
    assert apply_components(v["doc"], v["components"]) == v["result"]


@pytest.mark.parametrize("v", VECTORS["opToComponents"], ids=ids("opToComponents"))
def test_op_to_components_vector(v: dict[str, Any]) -> None:
    op = op_of(v["op"])
    components = op_to_components(op)
    assert components == v["components"]
    assert components_to_op(components, op_base_length(op)) == op


@pytest.mark.parametrize(
    "v", VECTORS["invalidComponents"], ids=[v["why"] for v in VECTORS["invalidComponents"]]
)
def test_invalid_components_vector(v: dict[str, Any]) -> None:
    with pytest.raises(OpError):
        components_to_op(v["components"], v["doc_length"])


# --------------------------------------------------------------------------
# Hand-written cases
# --------------------------------------------------------------------------


def test_insert_ties_left_goes_first() -> None:
    a: Op = [1, "A"]
    b: Op = [1, "B"]
    assert transform(a, b, "left") == [1, "A"]
    assert transform(a, b, "right") == [2, "A"]
    # Server: incoming on the right, so the committed insert stays first.
    assert apply(apply("xy", b), transform_against(a, [b])) == "xBAy"


def test_insert_inside_concurrent_delete_survives() -> None:
    delete: Op = [1, Delete(3)]
    ins: Op = [2, "new"]
    assert apply(apply("abcde", delete), transform(ins, delete, "right")) == "anewe"


def test_delete_of_deleted_text_becomes_noop() -> None:
    a: Op = [1, Delete(2)]
    assert transform(a, a, "right") == []
    assert is_noop(transform(a, a, "left"))


def test_cursor_rules() -> None:
    # A delete spanning the cursor moves it to the delete's position.
    assert transform_position(4, [2, Delete(5)]) == 2
    # An insert at another user's cursor leaves it before the new text ...
    assert transform_position(3, [3, "xy"]) == 3
    # ... but the inserting socket's own cursor ends after it.
    assert transform_position(3, [3, "xy"], is_own_op=True) == 5
    # Replacing a selection: own cursor after the replacement text.
    assert transform_position(5, [3, Delete(2), "z"], is_own_op=True) == 4
    assert transform_position(5, [3, Delete(2), "z"]) == 3
    # Astral text counts one per code point.
    assert transform_position(1, ["😀👍"]) == 3
    assert transform_position(0, ["😀"]) == 0
    assert transform_position(0, ["😀"], is_own_op=True) == 1
    assert transform_position(7, [1, "ab", 2, Delete(1)]) == 8


def test_components_in_either_direction() -> None:
    doc = "0123456789"
    forward = [{"type": "insert", "position": p, "text": "x"} for p in (1, 4, 7)]
    backward = [{"type": "insert", "position": p, "text": "x"} for p in (5, 3, 1)]
    assert apply(doc, components_to_op(forward, 10)) == "0x12x34x56789"
    assert apply(doc, components_to_op(backward, 10)) == "0x12x34x56789"


def test_delete_then_insert_order_is_kept_in_wire_form() -> None:
    # Two ops with the same effect that transform differently.
    del_ins: Op = [Delete(1), "x"]
    ins_del: Op = ["x", Delete(1)]
    assert transform(["y"], del_ins, "right") != transform(["y"], ins_del, "right")
    for op in (del_ins, ins_del):
        assert components_to_op(op_to_components(op), 1) == op


def test_op_to_components_shape() -> None:
    op: Op = [2, Delete(1), "ab", 3, "😀", Delete(2)]
    assert op_to_components(op) == [
        {"type": "insert", "position": 3, "text": "ab"},
        {"type": "insert", "position": 8, "text": "😀"},
        {"type": "delete", "position": 2, "length": 1},
        {"type": "delete", "position": 8, "length": 2},
    ]
    assert op_to_components([]) == []


def test_json_round_trip_and_helpers() -> None:
    op: Op = [2, Delete(1), "ab", 3, "😀", Delete(2)]
    assert op_to_json(op) == [2, {"d": 1}, "ab", 3, "😀", {"d": 2}]
    assert op_from_json(op_to_json(op)) == op
    assert op_from_json([1, {"d": "ab"}, "x"]) == [1, Delete(2), "x"]
    assert op_length_change(op) == 0
    assert op_base_length(op) == 8
    assert normalize([0, 1, 2, "a", "", "b", Delete(1), Delete(2), 4]) == [3, "ab", Delete(3)]
    assert compose_all([[1, "a"], [Delete(1)]]) == [Delete(1), "a"]
    for bad in ([True], [0], ["", 1], [Delete(0)], [1.5], [{"d": 1}], "x", [-1]):
        with pytest.raises(OpError):
            check_op(bad)
    bad_json: object
    for bad_json in ([{"d": True}], [{"d": 1, "x": 2}], [{"d": 0}], [None], {}):
        with pytest.raises(OpError):
            op_from_json(bad_json)


def test_apply_rejects_op_too_long() -> None:
    with pytest.raises(OpError):
        apply("abc", [4])
    with pytest.raises(OpError):
        apply("abc", [2, Delete(2)])
    with pytest.raises(OpError):
        apply("😀", [Delete(2)])
    assert apply("😀x", [Delete(1)]) == "x"


def test_invert_undoes() -> None:
    doc = "héllo 😀 world"
    op = components_to_op(
        [
            {"type": "delete", "position": 0, "length": 2},
            {"type": "insert", "position": 5, "text": "👍🏽!"},
            {"type": "delete", "position": 6, "length": 3},
        ],
        len(doc),
    )
    after = apply(doc, op)
    assert apply(after, invert(op, doc)) == doc
    with pytest.raises(OpError):
        invert([20], doc)


def test_transform_rejects_bad_side_and_ops() -> None:
    with pytest.raises(OpError):
        transform([1, "a"], [], "middle")  # type: ignore[arg-type]
    with pytest.raises(OpError):
        transform([0, "a"], [], "left")
    with pytest.raises(OpError):
        compose(["a"], [True])


@pytest.mark.parametrize(
    ("components", "doc_length"),
    [
        ([{"type": "insert", "position": 0, "text": "x"}], -1),
        ([{"type": "insert", "position": 0, "text": "x"}], True),
        ([{"type": "insert", "position": 0, "text": "x"}], 1.0),
        ([{"type": "insert", "position": 1.0, "text": "x"}], 3),
        ([{"type": "delete", "position": 0, "length": 1.0}], 3),
        ([{"type": "insert", "position": False, "text": "x"}], 3),
        ([{"type": "insert", "position": 0, "text": ["x"]}], 3),
        ([{"position": 0, "text": "x"}], 3),
        ("not a list", 3),
        (None, 3),
        ([{"type": "insert", "position": 0, "text": "\udfff"}], 3),
        ([{"type": "delete", "position": 1, "length": 10**30}], 3),
    ],
)
def test_invalid_components_python_only(components: Any, doc_length: Any) -> None:
    with pytest.raises(OpError):
        components_to_op(components, doc_length)


def test_error_messages_name_the_problem() -> None:
    with pytest.raises(OpError, match="position 5 outside"):
        components_to_op([{"type": "insert", "position": 5, "text": "x"}], 3)
    with pytest.raises(OpError, match="'length' must be at least 1"):
        components_to_op([{"type": "delete", "position": 0, "length": 0}], 3)
    with pytest.raises(OpError, match="not valid Unicode"):
        components_to_op([{"type": "insert", "position": 0, "text": "\ud800"}], 3)


def test_empty_components_is_noop() -> None:
    assert components_to_op([], 5) == []


# --------------------------------------------------------------------------
# Performance: a 1,000,000 code point document
# --------------------------------------------------------------------------


def test_large_document_is_linear() -> None:
    doc = ("abc😀 " * 200_000)[:1_000_000]
    assert len(doc) == 1_000_000
    components = [
        {"type": "insert", "position": p, "text": "Z"} for p in range(0, 1_000_000, 500)
    ] + [{"type": "delete", "position": p, "length": 3} for p in range(998_000, 0, -1_000)]
    start = time.perf_counter()
    op = components_to_op(components, len(doc))
    text = apply(doc, op)
    other = components_to_op(
        [{"type": "insert", "position": p, "text": "q"} for p in range(0, 1_000_000, 700)],
        len(doc),
    )
    moved = transform(op, other, "right")
    assert apply(apply(doc, other), moved) == apply(text, transform(other, op, "left"))
    assert components_to_op(op_to_components(op), len(doc)) == op
    assert apply_components(doc, components[:50]) == apply(
        doc, components_to_op(components[:50], len(doc))
    )
    assert time.perf_counter() - start < 10


# --------------------------------------------------------------------------
# Properties (hypothesis)
# --------------------------------------------------------------------------

ALPHABET = "abcXY \néß中😀👍🏽𝄞🇫🇷\u200d"
texts = st.text(alphabet=ALPHABET, max_size=12)


@st.composite
def wire_components(draw: st.DrawFn, doc: str) -> list[dict[str, Any]]:
    """Random valid wire components for ``doc``."""
    length = len(doc)
    components: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 5))):
        if length and draw(st.booleans()):
            position = draw(st.integers(0, length - 1))
            count = draw(st.integers(1, length - position))
            components.append({"type": "delete", "position": position, "length": count})
            length -= count
        else:
            position = draw(st.integers(0, length))
            text = draw(st.text(alphabet=ALPHABET, min_size=1, max_size=4))
            components.append({"type": "insert", "position": position, "text": text})
            length += len(text)
    return components


@st.composite
def sweep_op(draw: st.DrawFn, doc: str) -> Op:
    """Random internal op on ``doc`` (built component by component)."""
    op: Op = []
    position = 0
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["retain", "insert", "delete"]))
        if kind == "insert":
            op.append(draw(st.text(alphabet=ALPHABET, min_size=1, max_size=3)))
        elif position < len(doc):
            n = draw(st.integers(1, len(doc) - position))
            op.append(n if kind == "retain" else Delete(n))
            position += n
    return normalize(op)


@st.composite
def doc_and_op(draw: st.DrawFn) -> tuple[str, Op]:
    doc = draw(texts)
    if draw(st.booleans()):
        return doc, draw(sweep_op(doc))
    return doc, components_to_op(draw(wire_components(doc)), len(doc))


@st.composite
def doc_and_two_ops(draw: st.DrawFn) -> tuple[str, Op, Op]:
    doc, a = draw(doc_and_op())
    if draw(st.booleans()):
        b = draw(sweep_op(doc))
    else:
        b = components_to_op(draw(wire_components(doc)), len(doc))
    return doc, a, b


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(doc_and_two_ops())
def test_tp1_convergence(case: tuple[str, Op, Op]) -> None:
    doc, a, b = case
    a_after_b = transform(a, b, "left")
    b_after_a = transform(b, a, "right")
    via_b = apply(apply(doc, b), a_after_b)
    via_a = apply(apply(doc, a), b_after_a)
    assert via_a == via_b
    assert apply(doc, compose(b, a_after_b)) == apply(doc, compose(a, b_after_a)) == via_a


@FAST
@given(doc_and_two_ops())
def test_transform_keeps_inserted_text(case: tuple[str, Op, Op]) -> None:
    _doc, a, b = case
    sides: tuple[Side, Side] = ("left", "right")
    for side in sides:
        moved = transform(a, b, side)
        assert moved == normalize(moved)
        # Inserted text is never lost by a transform.
        inserted = sum(len(c) for c in a if isinstance(c, str))
        assert sum(len(c) for c in moved if isinstance(c, str)) == inserted


@FAST
@given(st.data())
def test_components_equal_composed_op(data: st.DataObject) -> None:
    doc = data.draw(texts)
    components = data.draw(wire_components(doc))
    op = components_to_op(components, len(doc))
    assert op == normalize(op)
    assert apply(doc, op) == apply_components(doc, components)
    # The op is text-unicode's left fold of compose over single edits.
    folded: Op = []
    for c in components:
        folded = compose(folded, components_to_op([c], len(apply(doc, folded))))
    assert op == folded


@FAST
@given(doc_and_two_ops(), st.sampled_from(["left", "right"]))
def test_wire_form_round_trip(case: tuple[str, Op, Op], side: Any) -> None:
    doc, a, b = case
    for op in (a, transform(a, b, side)):
        base = doc if op is a else apply(doc, b)
        components = op_to_components(op)
        assert components_to_op(components, len(base)) == op
        assert apply_components(base, components) == apply(base, op)


@FAST
@given(st.data())
def test_compose_is_sequential_apply(data: st.DataObject) -> None:
    doc, a = data.draw(doc_and_op())
    middle = apply(doc, a)
    b = data.draw(sweep_op(middle))
    c = data.draw(sweep_op(apply(middle, b)))
    assert apply(doc, compose(a, b)) == apply(middle, b)
    assert apply(doc, compose(compose(a, b), c)) == apply(doc, compose(a, compose(b, c)))
    assert op_length_change(compose(a, b)) == op_length_change(a) + op_length_change(b)


@FAST
@given(doc_and_op())
def test_invert_and_positions(case: tuple[str, Op]) -> None:
    doc, op = case
    after = apply(doc, op)
    assert apply(after, invert(op, doc)) == doc
    assert len(after) == len(doc) + op_length_change(op)
    previous = -1
    for pos in range(len(doc) + 1):
        for own in (False, True):
            moved = transform_position(pos, op, is_own_op=own)
            assert 0 <= moved <= len(after)
        moved = transform_position(pos, op)
        assert moved >= previous  # cursors keep their order
        previous = moved


@FAST
@given(st.data())
def test_invalid_positions_raise(data: st.DataObject) -> None:
    doc = data.draw(texts)
    n = len(doc)
    bad_position = data.draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=n + 1)))
    with pytest.raises(OpError):
        components_to_op([{"type": "insert", "position": bad_position, "text": "x"}], n)
    position = data.draw(st.integers(0, n))
    bad_length = data.draw(
        st.one_of(st.integers(max_value=0), st.integers(min_value=n - position + 1))
    )
    with pytest.raises(OpError):
        components_to_op([{"type": "delete", "position": position, "length": bad_length}], n)
    with pytest.raises(OpError):
        components_to_op([{"type": "insert", "position": position, "text": ""}], n)
    surrogate = chr(data.draw(st.integers(0xD800, 0xDFFF)))
    with pytest.raises(OpError):
        components_to_op([{"type": "insert", "position": position, "text": "a" + surrogate}], n)
    junk = data.draw(
        st.one_of(st.booleans(), st.floats(), st.text(), st.none(), st.lists(st.integers()))
    )
    with pytest.raises(OpError):
        components_to_op([{"type": "insert", "position": junk, "text": "x"}], n)
    with pytest.raises(OpError):
        components_to_op([{"type": "delete", "position": 0, "length": junk}], n)
