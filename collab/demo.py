"""Demo documents for `manage.py demo`."""

from __future__ import annotations

from typing import Any

from .models import Document
from .services import doc_create

WELCOME = (
    "Welcome! Open this document in two browsers and type in both at once.\n"
    "Everyone sees the same text, with each other's cursors. Emoji work too: 🎉👍\n"
)
RULES = "House rules: only the owner and listed editors can change this text.\n"


def seed(*, users: dict[str, Any]) -> None:
    """A public document everyone may edit and a read-only one; idempotent."""
    documents = [
        ("Welcome", WELCOME, Document.Access.PUBLIC, []),
        ("House rules", RULES, Document.Access.READONLY, ["alice"]),
    ]
    for title, content, access, editors in documents:
        if Document.objects.filter(title=title, owner=users["admin"]).exists():
            continue
        doc_create(
            owner=users["admin"],
            title=title,
            content=content,
            access=access,
            editor_ids=[users[name].pk for name in editors],
        )
