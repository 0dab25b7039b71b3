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
from .ot import Op, apply, components_to_op


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


def committed_since(*, document_id: int, after: int, version: int, length: int) -> Since | None:
    """The ops with `after` < version <= `version`, given the text `length` at `version`.

    None when some of them are no longer kept (pruned). The caller holds a
    view of the document at `version` (the row lock, or a consistent read).
    """
    if after >= version:
        return Since(ops=[], base_length=length)
    rows = list(
        DocumentOp.objects.filter(document_id=document_id, version__gt=after, version__lte=version)
        .order_by("version")
        .values_list("version", "ops", "client")
    )
    if len(rows) != version - after:
        return None
    befores: list[int] = []
    for _version, components, _client in reversed(rows):
        length -= wire_length_change(components)
        befores.append(length)
    befores.reverse()
    ops = [
        Committed(version=row_version, op=components_to_op(components, before), client=client)
        for (row_version, components, client), before in zip(rows, befores, strict=True)
    ]
    return Since(ops=ops, base_length=befores[0])


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
