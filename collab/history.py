"""Reading the op log back: committed ops as OT ops, and the text at a past version.

The log stores each op's components exactly as they were broadcast. An op is
rebuilt with `components_to_op(components, length)`, where `length` is the
text length just before it; lengths are walked back from a known version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .models import DocumentOp, Snapshot
from .ot import Budget, Op, apply, components_to_op

# Ops read per query when walking the log back under a budget: few, so that a
# read the budget stops has fetched little past it.
_CHUNK = 32
# What reading one op back costs a budget, in transform component steps (about
# a microsecond each): the row and its JSON, and rebuilding each component.
READ_OP_STEPS = 25
READ_COMPONENT_STEPS = 3


@dataclass(frozen=True)
class Committed:
    """One committed op, rebuilt: its version, the op, and the socket that sent it."""

    version: int
    op: Op
    client: str


@dataclass(frozen=True)
class Since:
    """The ops after some version, oldest first, and the text length at that version."""

    ops: list[Committed]
    base_length: int


def wire_length_change(components: Sequence[dict[str, Any]]) -> int:
    """Code points that applying these (valid, stored) components adds; negative removes."""
    change = 0
    for component in components:
        if component["type"] == "insert":
            change += len(component["text"])
        else:
            change -= int(component["length"])
    return change


def committed_since(
    *,
    document_id: int,
    after: int,
    version: int,
    length: int,
    budget: Budget | None = None,
    incoming: int = 0,
) -> Since | None:
    """The ops with `after` < version <= `version`, given the text `length` at `version`.

    None when some of them are no longer kept (pruned). The caller holds a
    view of the document at `version` (the row lock, or a consistent read).
    With `budget`, the ops are read newest first, a few at a time, and each
    spends READ_OP_STEPS + READ_COMPONENT_STEPS per component before it is
    rebuilt: WorkExceeded is raised before the first one that would
    overspend, having read at most a chunk past it. `incoming` is the size of
    the op to be transformed past them: each op read must also leave room
    for that transform (at least both sizes), or none is rebuilt in vain.
    """
    if after >= version:
        return Since(ops=[], base_length=length)
    newest_first: list[Committed] = []
    upto = version
    floor = 0  # transform steps the ops read so far will take, at least
    while upto > after:
        low = max(after, upto - _CHUNK) if budget is not None else after
        rows = (
            DocumentOp.objects.filter(document_id=document_id, version__gt=low, version__lte=upto)
            .order_by("-version")
            .values_list("version", "ops", "client")
        )
        for row_version, components, client in rows:
            if row_version != upto:
                return None
            if budget is not None:
                budget.spend(READ_OP_STEPS + READ_COMPONENT_STEPS * len(components))
                floor += incoming + len(components)
                budget.check(floor)
            length -= wire_length_change(components)
            op = components_to_op(components, length)
            newest_first.append(Committed(version=row_version, op=op, client=client))
            upto -= 1
        if upto != low:
            return None
    newest_first.reverse()
    return Since(ops=newest_first, base_length=length)


def text_at(*, document_id: int, version: int) -> str | None:
    """The document's text at `version`, from the nearest snapshot and the ops after it.

    None when no snapshot at or before `version` is kept, or ops are missing.
    """
    snapshot = (
        Snapshot.objects.filter(document_id=document_id, version__lte=version)
        .order_by("-version")
        .first()
    )
    if snapshot is None:
        return None
    rows = list(
        DocumentOp.objects.filter(
            document_id=document_id, version__gt=snapshot.version, version__lte=version
        )
        .order_by("version")
        .values_list("ops", flat=True)
    )
    if len(rows) != version - snapshot.version:
        return None
    text = snapshot.content
    for components in rows:
        text = apply(text, components_to_op(components, len(text)))
    return text
