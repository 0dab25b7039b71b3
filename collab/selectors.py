"""Reads of collab: who may see or edit a document, and the wire shapes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q, QuerySet

from realtime.frames import Frame, to_ms, user_json

from .models import Document, DocumentOp

# Distinct on light backgrounds; a user keeps one colour everywhere.
PALETTE = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#008080",
    "#c71585",
    "#9a6324",
    "#2f4f4f",
    "#1e90ff",
)


def user_color(user_id: int | None) -> str:
    """The colour a user's cursor and name are drawn in."""
    return PALETTE[(user_id or 0) % len(PALETTE)]


def user_with_color(user: AbstractBaseUser) -> Frame:
    """A user object plus `color`, as `hello` shows the connected user."""
    return {**user_json(user), "color": user_color(user.pk)}


def docs_visible_to(*, user: AbstractBaseUser) -> QuerySet[Document]:
    """Public and read-only documents, and private ones `user` owns or edits (text deferred)."""
    mine = Q(owner_id=user.pk) | Q(editors=user)
    return (
        Document.objects.filter(~Q(access=Document.Access.PRIVATE) | mine)
        .distinct()
        .select_related("owner")
        .defer("content")  # up to a million code points each; lists never show it
        .order_by("-updated", "-pk")
    )


def _is_editor(document: Document, user: AbstractBaseUser) -> bool:
    return document.owner_id == user.pk or document.editors.filter(pk=user.pk).exists()


def doc_may_read(*, document: Document, user: AbstractBaseUser) -> bool:
    """True unless the document is private and `user` is neither owner nor editor."""
    if document.access != Document.Access.PRIVATE:
        return True
    return _is_editor(document, user)


def doc_may_edit(*, document: Document, user: AbstractBaseUser) -> bool:
    """Public: everyone signed in; read-only and private: the owner and listed editors."""
    if document.access == Document.Access.PUBLIC:
        return True
    return _is_editor(document, user)


def doc_json(document: Document, *, with_content: bool = True) -> Frame:
    """The REST shape `{"id", "title", "access", "version", "content"}`."""
    data: Frame = {
        "id": document.pk,
        "title": document.title,
        "access": document.access,
        "version": document.version,
    }
    if with_content:
        data["content"] = document.content
    return data


def doc_summary_json(document: Document) -> Frame:
    """A list entry: the REST shape without the text, plus owner and last change."""
    return {
        **doc_json(document, with_content=False),
        "owner": user_json(document.owner),
        "updated": to_ms(document.updated),
    }


def op_entry_json(row: DocumentOp, user: Any) -> Frame:
    """One committed op as `op` frames and `sync` entries carry it (user may be deleted)."""
    return {
        "version": row.version,
        "ops": row.ops,
        "user": user_json(user) if user is not None else None,
        "client": row.client,
        "op_id": row.op_id,
    }


def peer_json(
    *, client: str, user: AbstractBaseUser, position: int, selection_end: int | None
) -> Frame:
    """A `<peer>` of PROTOCOL.md (position moved to the version the reader is at)."""
    return {
        "client": client,
        "user": user_json(user),
        "color": user_color(user.pk),
        "position": position,
        "selection_end": selection_end,
    }
