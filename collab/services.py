"""Every write of collab, and every push that follows one.

Services are sync (call them from async code through `realtime.db.db_parallel`).
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
from django.db.models import Case, IntegerField, OuterRef, Subquery, Value, When
from django.db.models.functions import Length
from django.utils import timezone

from realtime.broadcast import group_name, publish
from realtime.errors import FrameError, invalid
from realtime.fields import has_lone_surrogate
from realtime.frames import Frame, encode, user_json

from .history import READ_OP_STEPS, Since, committed_since
from .models import Document, DocumentOp, Snapshot
from .ot import (
    Budget,
    Op,
    OpError,
    WorkExceeded,
    apply,
    components_to_op,
    op_to_components,
    transform_against,
)
from .selectors import doc_may_edit, op_entry_json

OP_ID_MAX_LENGTH = 64
# Ops read per query while a `sync` page is filled.
_SYNC_CHUNK = 50


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


@dataclass(frozen=True)
class _Rebased:
    """An incoming op transformed up to `version` (not applied yet), and the work left for it."""

    op: Op
    version: int
    budget: Budget


def _too_far(base_version: int, current: int) -> FrameError:
    return _stale(
        f"version {base_version} is too far behind the document (version {current}) to "
        "transform the op: catch up with `sync` and send it again from a later version",
        current,
    )


def _check_nul(components: list[Any]) -> None:
    for component in components:
        # PostgreSQL cannot store U+0000 in text or JSON, so no backend accepts it.
        if isinstance(component, dict) and "\x00" in str(component.get("text", "")):
            raise invalid("`ops` text must not contain U+0000")


def _committed_or_stale(
    *, document_id: int, after: int, version: int, length: int, budget: Budget, incoming: int
) -> Since:
    """The ops committed after `after` up to `version`; `stale_version` if no longer kept."""
    since = committed_since(
        document_id=document_id,
        after=after,
        version=version,
        length=length,
        budget=budget,
        incoming=incoming,
    )
    if since is None:
        raise _stale(f"version {after} is older than the ops kept", version)
    return since


def _transform_past(
    op: Op, *, document_id: int, after: int, version: int, length: int, budget: Budget
) -> Op:
    """`op`, made on `after`, transformed past the ops up to `version` (text `length` there)."""
    since = _committed_or_stale(
        document_id=document_id,
        after=after,
        version=version,
        length=length,
        budget=budget,
        incoming=len(op),
    )
    return transform_against(op, [committed.op for committed in since.ops], budget)


def _rebase(
    *,
    document_id: int,
    base_version: int,
    version: int,
    length: int | None,
    components: list[Any],
) -> _Rebased:
    """Validate an op made on `base_version` and transform it up to `version`.

    Runs outside any transaction (reads only); `length` is the text length at
    `version` (None when the op is too far behind for it to matter). Raises
    FrameError: `stale_version` (base not held, not reached, or more work
    than COLLAB_MAX_TRANSFORM_WORK), `invalid`.
    """
    if base_version > version:
        raise _stale(
            f"version {base_version} is ahead of the document (version {version})", version
        )
    _check_nul(components)
    budget = Budget(settings.COLLAB_MAX_TRANSFORM_WORK)
    behind = version - base_version
    try:
        # Each op passed costs at least its read and the op's own size: refuse
        # before reading any.
        budget.check(behind * (READ_OP_STEPS + len(components)))
        assert length is not None  # read for every op the check above lets through
        since = _committed_or_stale(
            document_id=document_id,
            after=base_version,
            version=version,
            length=length,
            budget=budget,
            incoming=len(components),
        )
        op = components_to_op(components, since.base_length)
        committed = [entry.op for entry in since.ops]
        budget.check(behind * len(op) + sum(len(other) for other in committed))
        op = transform_against(op, committed, budget)
    except WorkExceeded:
        raise _too_far(base_version, version) from None
    except OpError as exc:
        raise invalid(f"`ops` {exc}") from None
    return _Rebased(op=op, version=version, budget=budget)


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


def _prepare(
    *,
    document_id: int,
    user: AbstractBaseUser,
    base_version: int,
    components: list[Any],
    op_id: str | None,
) -> Commit | _Rebased:
    """Before any lock: authorize, find a repeated op_id, and transform the op (one read)."""
    # The text's length only for an op near enough to be transformed: counting
    # the characters of a long text is work too (the CASE spares it).
    reach = settings.COLLAB_MAX_TRANSFORM_WORK // (READ_OP_STEPS + len(components))
    near = When(version__lte=base_version + reach, then=Length("content"))
    query = Document.objects.filter(pk=document_id).annotate(
        length=Case(near, default=Value(None), output_field=IntegerField())
    )
    if op_id is not None:
        mine = DocumentOp.objects.filter(document_id=OuterRef("pk"), user_id=user.pk, op_id=op_id)
        query = query.annotate(first=Subquery(mine.values("version")[:1]))
    document = query.only("pk", "version", "access", "owner_id").get()
    if not doc_may_edit(document=document, user=user):
        raise FrameError("forbidden", "you may read this document but not edit it")
    first = getattr(document, "first", None)
    if first is not None:
        return Commit(version=first, created=False)
    return _rebase(
        document_id=document_id,
        base_version=base_version,
        version=document.version,
        length=document.length,
        components=components,
    )


def _commit(
    *,
    document_id: int,
    user: AbstractBaseUser,
    socket_id: str,
    base_version: int,
    rebased: _Rebased,
    op_id: str | None,
) -> Commit:
    """Apply and store a rebased op; runs in its transaction, under the row lock."""
    document = Document.objects.select_for_update().get(pk=document_id)
    if not doc_may_edit(document=document, user=user):
        raise FrameError("forbidden", "you may read this document but not edit it")
    op = rebased.op
    try:
        if document.version > rebased.version:  # others committed since the op was rebased
            op = _transform_past(
                op,
                document_id=document_id,
                after=rebased.version,
                version=document.version,
                length=len(document.content),
                budget=rebased.budget,
            )
        content = apply(document.content, op)
    except WorkExceeded:
        raise _too_far(base_version, document.version) from None
    except OpError as exc:
        raise invalid(f"`ops` {exc}") from None
    if len(content) > settings.COLLAB_MAX_LENGTH:
        raise invalid(
            f"`ops` would make the document longer than {settings.COLLAB_MAX_LENGTH} code points"
        )
    wire = op_to_components(op)
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
    after the commit, broadcast with `position=<version>`. The transform runs
    before the row lock is taken, from a read of the document; under the
    lock only the ops committed since that read are transformed past. Reading
    the ops back and transforming past them may cost at most
    COLLAB_MAX_TRANSFORM_WORK component steps (`ot.transform_against`): an op
    further behind is refused, its client catches up and sends it again. An
    `op_id` this user already committed on the document returns that commit
    and changes nothing. Raises FrameError: `forbidden` (may not edit),
    `stale_version` (base not held, not reached, or too far behind),
    `invalid` (the op does not fit, or the text would grow past
    COLLAB_MAX_LENGTH); then nothing is stored.
    """
    try:
        prepared = _prepare(
            document_id=document_id,
            user=user,
            base_version=base_version,
            components=components,
            op_id=op_id,
        )
        if isinstance(prepared, Commit):
            return prepared
        with transaction.atomic():
            return _commit(
                document_id=document_id,
                user=user,
                socket_id=socket_id,
                base_version=base_version,
                rebased=prepared,
                op_id=op_id,
            )
    except IntegrityError:
        # Only a repeated op_id can collide here (the row lock orders versions).
        first = _first_commit(document_id, user, op_id)
        if first is None:
            raise
        return first


def doc_ops_since(*, document_id: int, version: int) -> Frame:
    """The `ops` reply of `sync`: the committed ops after `version`, oldest first, one page.

    A page holds at most COLLAB_SYNC_MAX_OPS ops and ends with the op that
    takes its JSON past COLLAB_SYNC_MAX_BYTES (so it holds at least one op);
    `has_more` is true when ops after the page's last one exist, and the
    client asks again from there. `version` is the document's version. Raises
    FrameError (`stale_version`) when `version` is ahead of the document or
    older than the ops kept.
    """
    current = Document.objects.values_list("version", flat=True).get(pk=document_id)
    if version > current:
        raise _stale(f"version {version} is ahead of the document (version {current})", current)
    last = min(current, version + settings.COLLAB_SYNC_MAX_OPS)
    entries: list[Frame] = []
    size = 0
    upto = version
    while upto < last and size < settings.COLLAB_SYNC_MAX_BYTES:
        top = min(last, upto + _SYNC_CHUNK)
        rows = (
            DocumentOp.objects.filter(document_id=document_id, version__gt=upto, version__lte=top)
            .select_related("user")
            .order_by("version")
        )
        for row in rows:
            if row.version != upto + 1:
                raise _stale(f"version {version} is older than the ops kept", current)
            entry = op_entry_json(row, row.user)
            entries.append(entry)
            upto = row.version
            size += len(encode(entry).encode())
            if size >= settings.COLLAB_SYNC_MAX_BYTES:
                break
        else:
            if upto != top:
                raise _stale(f"version {version} is older than the ops kept", current)
    return {
        "type": "ops",
        "from": version,
        "ops": entries,
        "version": current,
        "has_more": upto < current,
    }
