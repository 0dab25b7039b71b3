"""Operational transformation for plain text, matching ``ot-text-unicode``.

This module is the server-side twin of ``static/collab/ot.js``. Both follow
the semantics of the npm package ``ot-text-unicode`` (the text type used by
ShareDB) exactly; ``tests/collab/vectors/vectors.json``, generated from the
real package, is the oracle.

Two forms of an operation exist:

* The **wire form** (PROTOCOL.md, "Collaborative editing"): a list of
  ``{"type": "insert", "position": int, "text": str}`` and
  ``{"type": "delete", "position": int, "length": int}`` dicts, applied left
  to right, each on the result of the previous one.
* The **internal form** (:data:`Op`): one sweep over the document, a list of
  components, each one of

  - ``int`` *n* > 0: retain (skip) *n* code points,
  - ``str`` (non-empty): insert that text here,
  - :class:`Delete` ``(n)`` with *n* > 0: delete *n* code points here.

  A normalized op has no empty components, no two adjacent components of the
  same kind, and no trailing retain. The no-op is ``[]``. All functions below
  return normalized ops.

All positions and lengths count Unicode code points (Python ``str`` indexes),
never UTF-16 units or bytes. Everything is linear in the size of the ops
involved (and, for :func:`apply`, of the text).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

__all__ = [
    "OP_MAX_COMPONENTS",
    "Budget",
    "Component",
    "Delete",
    "Op",
    "OpError",
    "Side",
    "WorkExceeded",
    "apply",
    "check_op",
    "components_to_op",
    "compose",
    "compose_all",
    "invert",
    "is_noop",
    "normalize",
    "op_base_length",
    "op_from_json",
    "op_length_change",
    "op_to_components",
    "op_to_json",
    "transform",
    "transform_against",
    "transform_position",
]


# The most components one `op` frame may carry (docs/protocol.md); clients send more as several.
OP_MAX_COMPONENTS = 1000


class OpError(ValueError):
    """An operation is malformed or does not fit the text it is applied to."""


class WorkExceeded(Exception):
    """A :class:`Budget` of component steps would be overspent."""


@dataclass(slots=True)
class Budget:
    """Component steps left for reading ops back and transforming past them."""

    left: int

    def spend(self, steps: int) -> None:
        """Take ``steps`` off, or raise :class:`WorkExceeded` (taking nothing) if too few left."""
        if steps > self.left:
            raise WorkExceeded(f"{steps} component steps needed, {self.left} left")
        self.left -= steps

    def check(self, steps: int) -> None:
        """Raise :class:`WorkExceeded` unless ``steps`` could still be spent."""
        if steps > self.left:
            raise WorkExceeded(f"{steps} component steps needed, {self.left} left")


@dataclass(frozen=True, slots=True)
class Delete:
    """Internal delete component: remove ``n`` code points at this point."""

    n: int


Component: TypeAlias = int | str | Delete
Op: TypeAlias = list[Component]
Side: TypeAlias = Literal["left", "right"]

_INSERT: Final = "insert"
_DELETE: Final = "delete"


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    """True for a real ``int`` (``bool`` is rejected although it subclasses int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_valid_unicode(text: str) -> bool:
    """True unless ``text`` holds a lone (unpaired) surrogate code point."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _length(component: Component) -> int:
    """Code points a component covers (inserted, retained or deleted)."""
    if isinstance(component, str):
        return len(component)
    if isinstance(component, Delete):
        return component.n
    return component


class _Builder:
    """Accumulates components into a normalized op.

    Promises: drops empty components, merges a component into the previous
    one when they are of the same kind, and :meth:`finish` drops a trailing
    retain.
    """

    __slots__ = ("op",)

    def __init__(self) -> None:
        self.op: Op = []

    def push(self, component: Component | None) -> None:
        """Append ``component`` (``None``/empty is ignored), merging kinds."""
        if component is None or _length(component) == 0:
            return
        op = self.op
        if op:
            last = op[-1]
            if isinstance(component, str):
                if isinstance(last, str):
                    op[-1] = last + component
                    return
            elif isinstance(component, Delete):
                if isinstance(last, Delete):
                    op[-1] = Delete(last.n + component.n)
                    return
            elif not isinstance(last, (str, Delete)):
                op[-1] = last + component
                return
        op.append(component)

    def finish(self) -> Op:
        """Return the op, without its trailing retain."""
        op = self.op
        if op and not isinstance(op[-1], (str, Delete)):
            op.pop()
        return op


class _Reader:
    """Consumes an op piece by piece, as an infinite trailing retain at its end.

    ``take(n, ...)`` returns at most ``n`` code points' worth of the next
    component (a whole insert when ``whole_inserts``, a whole delete when
    ``whole_deletes``); past the end of the op it returns the retain ``n``.
    """

    __slots__ = ("index", "offset", "op")

    def __init__(self, op: Op) -> None:
        self.op = op
        self.index = 0
        self.offset = 0

    def peek_is_insert(self) -> bool:
        """True when the next component is an insert."""
        return self.index < len(self.op) and isinstance(self.op[self.index], str)

    def take_rest(self) -> Component | None:
        """Return what is left of the current component, ``None`` at the end."""
        if self.index >= len(self.op):
            return None
        return self._rest()

    def _rest(self) -> Component:
        """Consume and return the rest of the current component."""
        component = self.op[self.index]
        offset = self.offset
        self.index += 1
        self.offset = 0
        if offset == 0:
            return component
        if isinstance(component, str):
            return component[offset:]
        if isinstance(component, Delete):
            return Delete(component.n - offset)
        return component - offset

    def take(
        self, n: int, *, whole_inserts: bool = False, whole_deletes: bool = False
    ) -> Component:
        """Return up to ``n`` code points of the next component (see class)."""
        if self.index >= len(self.op):
            return n
        component = self.op[self.index]
        if _length(component) - self.offset <= n:
            return self._rest()
        if isinstance(component, str):
            if whole_inserts:
                return self._rest()
            start = self.offset
            self.offset += n
            return component[start : start + n]
        if isinstance(component, Delete):
            if whole_deletes:
                return self._rest()
            self.offset += n
            return Delete(n)
        self.offset += n
        return n


# --------------------------------------------------------------------------
# Checking and conversion
# --------------------------------------------------------------------------


def check_op(op: object) -> Op:
    """Check that ``op`` is a well-formed internal op and return it.

    Promises: every component is a positive ``int`` (not ``bool``), a
    non-empty valid-Unicode ``str`` or a :class:`Delete` with a positive
    ``int`` count; otherwise :class:`OpError`. Normalization is not required.
    """
    if not isinstance(op, list):
        raise OpError("op must be a list of components")
    for i, component in enumerate(op):
        if isinstance(component, str):
            if not component:
                raise OpError(f"component {i}: insert text must not be empty")
            if not _is_valid_unicode(component):
                raise OpError(f"component {i}: insert text is not valid Unicode")
        elif isinstance(component, Delete):
            if not _is_int(component.n) or component.n <= 0:
                raise OpError(f"component {i}: delete count must be a positive int")
        elif _is_int(component):
            if component <= 0:
                raise OpError(f"component {i}: retain must be a positive int")
        else:
            raise OpError(f"component {i}: not a retain, insert or delete")
    return op


def normalize(op: Op) -> Op:
    """Return ``op`` in normal form (merged, no empties, no trailing retain).

    Applies, transforms and composes exactly like ``op``.
    """
    builder = _Builder()
    for component in op:
        builder.push(component)
    return builder.finish()


def op_to_json(op: Op) -> list[int | str | dict[str, int]]:
    """Return ``op`` in text-unicode's JSON form, e.g. ``[3, "hi", {"d": 2}]``."""
    return [{"d": c.n} if isinstance(c, Delete) else c for c in op]


def op_from_json(data: object) -> Op:
    """Parse text-unicode's JSON form (numeric deletes; ``{"d": "text"}`` too).

    Promises: a checked, normalized op, or :class:`OpError`.
    """
    if not isinstance(data, list):
        raise OpError("op must be a list of components")
    op: Op = []
    for i, item in enumerate(data):
        if isinstance(item, dict):
            if set(item) != {"d"}:
                raise OpError(f"component {i}: a delete is exactly {{'d': count}}")
            count = item["d"]
            if isinstance(count, str):
                op.append(Delete(len(count)))
            elif _is_int(count):
                op.append(Delete(count))
            else:
                raise OpError(f"component {i}: delete count must be an int")
        else:
            op.append(item)
    return normalize(check_op(op))


def op_base_length(op: Op) -> int:
    """Minimum length of a text ``op`` can apply to (retained + deleted)."""
    return sum(_length(c) for c in op if not isinstance(c, str))


def op_length_change(op: Op) -> int:
    """How many code points applying ``op`` adds (negative: removes)."""
    change = 0
    for c in op:
        if isinstance(c, str):
            change += len(c)
        elif isinstance(c, Delete):
            change -= c.n
    return change


def is_noop(op: Op) -> bool:
    """True when ``op`` changes nothing (a normalized no-op is ``[]``)."""
    return not normalize(op)


# --------------------------------------------------------------------------
# Wire form
# --------------------------------------------------------------------------


class _Zipper:
    """An op being built by composing single edits, with a movable gap.

    ``left`` holds the components before the gap in order, ``right`` those
    after it in reverse order; ``post`` is the length of the text produced by
    ``left``. Composing an edit costs the number of components the gap moves
    across, so edits given in position order (either direction) compose in
    linear total time. The result equals folding text-unicode's ``compose``
    over the single-component ops.
    """

    __slots__ = ("left", "post", "right")

    def __init__(self) -> None:
        self.left: Op = []
        self.right: Op = []
        self.post = 0

    def _seek(self, target: int) -> None:
        """Move the gap to the first point where ``left`` produces ``target``.

        "First" means deletes sitting exactly at that point stay on the right,
        which is where text-unicode's compose puts a later edit.
        """
        left, right = self.left, self.right
        while left:
            top = left[-1]
            if isinstance(top, Delete):
                if self.post < target:
                    break
                right.append(left.pop())  # a delete at the target goes right
                continue
            if self.post <= target:
                break
            left.pop()
            size = _length(top)
            start = self.post - size
            if start < target:  # the target falls inside this component
                keep = target - start
                left.append(top[:keep] if isinstance(top, str) else keep)
                right.append(top[keep:] if isinstance(top, str) else size - keep)
                self.post = target
                return
            right.append(top)
            self.post = start
        while self.post < target:
            if not right:
                left.append(target - self.post)
                self.post = target
                return
            component = right.pop()
            if isinstance(component, Delete):
                left.append(component)
                continue
            size = _length(component)
            need = target - self.post
            if size > need:
                left.append(component[:need] if isinstance(component, str) else need)
                right.append(component[need:] if isinstance(component, str) else size - need)
                self.post = target
                return
            left.append(component)
            self.post += size

    def insert(self, position: int, text: str) -> None:
        """Compose "insert ``text`` at ``position`` of the current text"."""
        self._seek(position)
        self.left.append(text)
        self.post += len(text)

    def delete(self, position: int, count: int) -> None:
        """Compose "delete ``count`` code points at ``position``"."""
        self._seek(position)
        left, right = self.left, self.right
        while count > 0:
            if not right:
                left.append(Delete(count))
                return
            component = right.pop()
            if isinstance(component, Delete):
                left.append(component)
                continue
            size = _length(component)
            if isinstance(component, str):
                if size > count:
                    right.append(component[count:])
                count -= min(size, count)
                continue
            if size > count:
                right.append(size - count)
                size = count
            left.append(Delete(size))
            count -= size

    def finish(self) -> Op:
        """Return the composed, normalized op."""
        builder = _Builder()
        for component in self.left:
            builder.push(component)
        for component in reversed(self.right):
            builder.push(component)
        return builder.finish()


def _wire_int(component: dict[str, Any], key: str, index: int) -> int:
    """Read an int field of a wire component or raise :class:`OpError`."""
    if key not in component:
        raise OpError(f"component {index}: missing {key!r}")
    value = component[key]
    if not _is_int(value):
        raise OpError(f"component {index}: {key!r} must be an integer")
    return int(value)


def components_to_op(components: list[dict[str, Any]], doc_length: int) -> Op:
    """Validate wire components and compose them into one normalized op.

    ``doc_length`` is the length (code points) of the text the components
    apply to. Promises: ``apply(text, result)`` equals applying the components
    one after the other, and the result is exactly text-unicode's ``compose``
    of the single-component ops, left to right. Raises :class:`OpError` for a
    non-list, a non-dict component, an unknown ``type``, a non-int (or bool)
    ``position``/``length``, a position outside ``0..current length``, a
    delete running past the end, ``length < 1``, an empty or non-str
    ``text``, or text with a lone surrogate. Unknown extra keys are ignored.
    An empty list gives the no-op ``[]``.
    """
    if not _is_int(doc_length) or doc_length < 0:
        raise OpError("doc_length must be a non-negative integer")
    if not isinstance(components, list):
        raise OpError("ops must be a list of components")
    zipper = _Zipper()
    length = doc_length
    for i, component in enumerate(components):
        if not isinstance(component, dict):
            raise OpError(f"component {i}: must be an object")
        kind = component.get("type")
        if kind not in (_INSERT, _DELETE):
            raise OpError(f"component {i}: 'type' must be 'insert' or 'delete'")
        position = _wire_int(component, "position", i)
        if position < 0 or position > length:
            raise OpError(f"component {i}: position {position} outside the text (0..{length})")
        if kind == _INSERT:
            text = component.get("text")
            if not isinstance(text, str):
                raise OpError(f"component {i}: 'text' must be a string")
            if not text:
                raise OpError(f"component {i}: 'text' must not be empty")
            if not _is_valid_unicode(text):
                raise OpError(f"component {i}: 'text' is not valid Unicode")
            zipper.insert(position, text)
            length += len(text)
        else:
            count = _wire_int(component, "length", i)
            if count < 1:
                raise OpError(f"component {i}: 'length' must be at least 1")
            if position + count > length:
                raise OpError(
                    f"component {i}: delete {position}..{position + count} "
                    f"runs past the end of the text ({length})"
                )
            zipper.delete(position, count)
            length -= count
    return zipper.finish()


def op_to_components(op: Op) -> list[dict[str, Any]]:
    """Return the wire components of ``op`` (``[]`` for a no-op).

    All inserts come first, left to right, then all deletes, left to right,
    each position in the text as edited by the components before it.
    Promises: applying them in order equals ``apply(text, op)``, and
    ``components_to_op`` of them (on the right ``doc_length``) gives back
    ``normalize(op)`` exactly — even where a delete and an insert touch, so a
    broadcast op transforms the same on every client as on the server.
    """
    inserts: list[dict[str, Any]] = []
    deletes: list[dict[str, Any]] = []
    post = 0  # position in the text after all inserts (none of the deletes)
    removed = 0  # code points removed by the deletes emitted so far
    for component in normalize(op):
        if isinstance(component, str):
            inserts.append({"type": _INSERT, "position": post, "text": component})
            post += len(component)
        elif isinstance(component, Delete):
            deletes.append({"type": _DELETE, "position": post - removed, "length": component.n})
            post += component.n
            removed += component.n
        else:
            post += component
    return inserts + deletes


# --------------------------------------------------------------------------
# The OT functions
# --------------------------------------------------------------------------


def apply(text: str, op: Op) -> str:
    """Return ``text`` with ``op`` applied (linear in ``len(text)``).

    Raises :class:`OpError` when the op retains or deletes past the end of
    ``text`` or is malformed.
    """
    pieces: list[str] = []
    position = 0
    size = len(text)
    for component in check_op(op):
        if isinstance(component, str):
            pieces.append(component)
            continue
        count = _length(component)
        if position + count > size:
            raise OpError(f"op is longer than the text ({size} code points)")
        if not isinstance(component, Delete):
            pieces.append(text[position : position + count])
        position += count
    pieces.append(text[position:])
    return "".join(pieces)


def transform(op: Op, other: Op, side: Side) -> Op:
    """Return ``op`` rewritten to apply after ``other`` (both on one text).

    Exactly text-unicode's ``transform(op, other, side)``: where both insert
    at one point, the ``"left"`` op's insert goes first; text that ``other``
    deleted is not deleted again; an insert of ``op`` inside a range that
    ``other`` deleted survives. Convergence (TP1):
    ``compose(other, transform(op, other, s)) ==
    compose(op, transform(other, op, opposite(s)))`` in effect.
    """
    if side not in ("left", "right"):
        raise OpError(f"side must be 'left' or 'right', not {side!r}")
    check_op(op)
    check_op(other)
    out = _Builder()
    reader = _Reader(op)
    for component in other:
        if isinstance(component, str):
            if side == "left" and reader.peek_is_insert():
                out.push(reader.take_rest())
            out.push(len(component))
        elif isinstance(component, Delete):
            remaining = component.n
            while remaining > 0:
                piece = reader.take(remaining, whole_inserts=True)
                if isinstance(piece, str):
                    out.push(piece)
                else:
                    remaining -= _length(piece)
        else:
            remaining = component
            while remaining > 0:
                piece = reader.take(remaining, whole_inserts=True)
                out.push(piece)
                if not isinstance(piece, str):
                    remaining -= _length(piece)
    while (rest := reader.take_rest()) is not None:
        out.push(rest)
    return out.finish()


def compose(a: Op, b: Op) -> Op:
    """Return one op with the effect of ``a`` followed by ``b``.

    Exactly text-unicode's ``compose(a, b)`` (``b`` applies to the text
    produced by ``a``): ``apply(apply(t, a), b) == apply(t, compose(a, b))``.
    """
    check_op(a)
    check_op(b)
    out = _Builder()
    reader = _Reader(a)
    for component in b:
        if isinstance(component, str):
            out.push(component)
        elif isinstance(component, Delete):
            remaining = component.n
            while remaining > 0:
                piece = reader.take(remaining, whole_deletes=True)
                if isinstance(piece, str):
                    remaining -= len(piece)
                elif isinstance(piece, Delete):
                    out.push(piece)
                else:
                    out.push(Delete(piece))
                    remaining -= piece
        else:
            remaining = component
            while remaining > 0:
                piece = reader.take(remaining, whole_deletes=True)
                out.push(piece)
                if not isinstance(piece, Delete):
                    remaining -= _length(piece)
    while (rest := reader.take_rest()) is not None:
        out.push(rest)
    return out.finish()


def transform_position(pos: int, op: Op, *, is_own_op: bool = False) -> int:
    """Return where cursor ``pos`` is after ``op`` is applied.

    text-unicode's ``transformPosition``: a delete spanning the cursor moves
    it to the delete's position; text inserted exactly at the cursor goes
    after it (the cursor stays before the new text) unless ``is_own_op``, the
    op of the socket that owns the cursor, whose cursor ends after the text
    it inserted there.
    """
    position = 0  # where we are, in the coordinates of the text after op
    for component in op:
        if pos < position or (pos == position and not is_own_op):
            break
        if isinstance(component, str):
            position += len(component)
            pos += len(component)
        elif isinstance(component, Delete):
            pos -= min(component.n, pos - position)
        else:
            position += component
    return pos


def invert(op: Op, text_before: str) -> Op:
    """Return the op that undoes ``op``, given the text ``op`` applied to.

    Promises: ``apply(apply(text_before, op), invert(op, text_before)) ==
    text_before``. Raises :class:`OpError` if ``op`` does not fit the text.
    """
    out = _Builder()
    position = 0
    size = len(text_before)
    for component in check_op(op):
        if isinstance(component, str):
            out.push(Delete(len(component)))
            continue
        count = _length(component)
        if position + count > size:
            raise OpError(f"op is longer than the text ({size} code points)")
        if isinstance(component, Delete):
            out.push(text_before[position : position + count])
        else:
            out.push(count)
        position += count
    return out.finish()


def compose_all(ops: Iterable[Op]) -> Op:
    """Compose a sequence of ops, in order (``[]`` for none)."""
    result: Op = []
    for op in ops:
        result = compose(result, op)
    return result


def transform_against(op: Op, committed: Sequence[Op], budget: Budget | None = None) -> Op:
    """Transform an incoming ``op`` past ops committed after its base version.

    The server's rule (PROTOCOL.md): the incoming op is on the right of each
    committed op, so a committed insert at the same point stays first. With
    ``budget``, each transform first spends ``len(op) + len(other)`` (what it
    walks); :class:`WorkExceeded` is raised before the one that would overspend.
    """
    for other in committed:
        if budget is not None:
            budget.spend(len(op) + len(other))
        op = transform(op, other, "right")
    return op
