"""Every write of collab, and every push that follows one.

Services are sync (call them from async code through `database_sync_to_async`).
They store, then publish after the commit: an ack or a broadcast always means
the op is durable. The server is the single order of each document: commits
take the document's row lock (PostgreSQL `SELECT ... FOR UPDATE`; SQLite runs
IMMEDIATE transactions, which serialize writers), and the unique
(document, version) constraint backs that up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from realtime.broadcast import group_name, publish
from realtime.errors import FrameError, invalid
from realtime.fields import has_lone_surrogate
from realtime.frames import Frame, user_json

from .history import committed_since
from .models import Document, DocumentOp, Snapshot
from .ot import OpError, apply, components_to_op, op_to_components, transform_against
from .selectors import doc_may_edit, op_entry_json

OP_ID_MAX_LENGTH = 64


@dataclass(frozen=True)
class Commit:
    """Where an op landed: its version; `created` is False for a repeated op_id."""

    version: int
    created: bool


def doc_group(document_id: int) -> str:
    """The group every socket on the document listens on."""
    return group_name("collab", document_id)


def _stale(message: str, current: int) -> FrameError:
    # `version` (the document's current version) lets a client decide to reload.
    return FrameError("stale_version", message, version=current)


# --- documents ----------------------------------------------------------------


def doc_check_text(text: str, *, field: str = "content") -> None:
    """Raise FrameError (`invalid`) unless `text` is valid Unicode within the length limit."""
    if has_lone_surrogate(text):
        raise invalid(f"`{field}` is not valid Unicode")
    if "\x00" in text:
        raise invalid(f"`{field}` must not contain U+0000")
    if len(text) > settings.COLLAB_MAX_LENGTH:
        raise invalid(f"`{field}` must be at most {settings.COLLAB_MAX_LENGTH} code points")


def doc_create(
    *,
    owner: AbstractBaseUser,
    title: str,
    content: str = "",
    access: str = Document.Access.PUBLIC,
    editor_ids: Sequence[int] = (),
) -> Document:
    """Create a document at version 0 with its first snapshot. Raises FrameError (`invalid`)."""
    doc_check_text(content)
    if access not in Document.Access.values:
        raise invalid("`access` must be public, readonly or private")
    with transaction.atomic():
        document = Document.objects.create(
            owner_id=owner.pk, title=title, content=content, access=access
        )
        if editor_ids:
            document.editors.set(get_user_model().objects.filter(pk__in=editor_ids))
        Snapshot.objects.create(document=document, version=0, content=content)
    return document


# --- ops ------------------------------------------------------------------------


def _first_commit(document_id: int, user: AbstractBaseUser, op_id: str | None) -> Commit | None:
    if op_id is None:
        return None
    version = (
        DocumentOp.objects.filter(document_id=document_id, user_id=user.pk, op_id=op_id)
        .values_list("version", flat=True)
        .first()
    )
    return None if version is None else Commit(version=version, created=False)


def _rebase(document: Document, base_version: int, components: list[Any]) -> tuple[str, list[Any]]:
    """The new text and the broadcast components of an op made on `base_version`."""
    if base_version > document.version:
        raise _stale(
            f"version {base_version} is ahead of the document (version {document.version})",
            document.version,
        )
    since = committed_since(
        document_id=document.pk,
        after=base_version,
        version=document.version,
        length=len(document.content),
    )
    if since is None:
        raise _stale(f"version {base_version} is older than the ops kept", document.version)
    for component in components:
        # PostgreSQL cannot store U+0000 in text or JSON, so no backend accepts it.
        if isinstance(component, dict) and "\x00" in str(component.get("text", "")):
            raise invalid("`ops` text must not contain U+0000")
    try:
        op = components_to_op(components, since.base_length)
        op = transform_against(op, [committed.op for committed in since.ops])
        content = apply(document.content, op)
    except OpError as exc:
        raise invalid(f"`ops` {exc}") from None
    if len(content) > settings.COLLAB_MAX_LENGTH:
        raise invalid(
            f"`ops` would make the document longer than {settings.COLLAB_MAX_LENGTH} code points"
        )
    return content, op_to_components(op)


def _snapshot_and_prune(document_id: int, version: int, content: str) -> None:
    Snapshot.objects.create(document_id=document_id, version=version, content=content)
    keep_after = version - settings.COLLAB_OP_RETENTION
    if keep_after > 0:
        DocumentOp.objects.filter(document_id=document_id, version__lte=keep_after).delete()
        # Keep the newest snapshot at or before the oldest kept op, for history.
        every = settings.COLLAB_SNAPSHOT_EVERY
        Snapshot.objects.filter(
            document_id=document_id, version__lt=(keep_after // every) * every
        ).delete()


def _commit(
    *,
    document_id: int,
    user: AbstractBaseUser,
    socket_id: str,
    base_version: int,
    components: list[Any],
    op_id: str | None,
) -> Commit:
    """The body of doc_apply_op; runs in its transaction."""
    document = Document.objects.select_for_update().get(pk=document_id)
    if not doc_may_edit(document=document, user=user):
        raise FrameError("forbidden", "you may read this document but not edit it")
    first = _first_commit(document_id, user, op_id)
    if first is not None:
        return first
    content, wire = _rebase(document, base_version, components)
    version = document.version + 1
    Document.objects.filter(pk=document_id).update(
        content=content, version=version, updated=timezone.now()
    )
    DocumentOp.objects.create(
        document_id=document_id,
        version=version,
        base_version=base_version,
        ops=wire,
        user_id=user.pk,
        client=socket_id,
        op_id=op_id,
    )
    if version % settings.COLLAB_SNAPSHOT_EVERY == 0:
        _snapshot_and_prune(document_id, version, content)
    frame = {
        "type": "op",
        "version": version,
        "ops": wire,
        "user": user_json(user),
        "client": socket_id,
        "op_id": op_id,
    }
    publish(doc_group(document_id), frame, exclude=socket_id, position=version)
    return Commit(version=version, created=True)


def doc_apply_op(
    *,
    document_id: int,
    user: AbstractBaseUser,
    socket_id: str,
    base_version: int,
    components: list[Any],
    op_id: str | None = None,
) -> Commit:
    """Commit one op made on `base_version`, then broadcast it to the others.

    The op is transformed against every op committed after `base_version`
    (the incoming op on the right), applied, stored at the next version and,
    after the commit, broadcast with `position=<version>`. An `op_id` this user
    already committed on the document returns that commit and changes
    nothing. Raises FrameError: `forbidden` (may not edit), `stale_version`
    (base not held, or not reached), `invalid` (the op does not fit, or the
    text would grow past COLLAB_MAX_LENGTH); then nothing is stored.
    """
    try:
        with transaction.atomic():
            return _commit(
                document_id=document_id,
                user=user,
                socket_id=socket_id,
                base_version=base_version,
                components=components,
                op_id=op_id,
            )
    except IntegrityError:
        # Only a repeated op_id can collide here (the row lock orders versions).
        first = _first_commit(document_id, user, op_id)
        if first is None:
            raise
        return first


def doc_ops_since(*, document_id: int, version: int) -> Frame:
    """The `ops` reply of `sync`: every committed op after `version`, oldest first.

    Raises FrameError (`stale_version`) when `version` is ahead of the document
    or older than the ops kept.
    """
    current = Document.objects.values_list("version", flat=True).get(pk=document_id)
    if version > current:
        raise _stale(f"version {version} is ahead of the document (version {current})", current)
    rows = list(
        DocumentOp.objects.filter(
            document_id=document_id, version__gt=version, version__lte=current
        )
        .select_related("user")
        .order_by("version")
    )
    if len(rows) != current - version:
        raise _stale(f"version {version} is older than the ops kept", current)
    return {
        "type": "ops",
        "from": version,
        "ops": [op_entry_json(row, row.user) for row in rows],
        "version": current,
    }
