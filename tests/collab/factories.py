"""factory_boy factories of collab."""

from __future__ import annotations

from typing import Any

import factory

from collab.models import Document, DocumentOp, Snapshot
from collab.ot import apply, components_to_op, op_to_components
from tests.factories import UserFactory


class DocumentFactory(factory.django.DjangoModelFactory):
    """A document at version 0 with its first snapshot, as `doc_create` makes it."""

    class Meta:
        model = Document
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Document {n}")
    content = ""
    owner = factory.SubFactory(UserFactory)

    @factory.post_generation
    def snapshot(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            Snapshot.objects.create(document=self, version=0, content=self.content)

    @factory.post_generation
    def editors(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.editors.set(extracted)


def spread(components: int, text: str = "z") -> list[dict[str, Any]]:
    """`components` inserts, one every other code point: nothing merges them."""
    return [{"type": "insert", "position": 2 * j, "text": text} for j in range(components)]


def seed_ops(doc: Document, user: Any, *, ops: int, components: int) -> None:
    """Commit `ops` ops of `components` spread inserts each, as the log would hold them."""
    doc.refresh_from_db()
    text, version = doc.content, doc.version
    rows = []
    for _ in range(ops):
        op = components_to_op(spread(components, "b"), len(text))
        text = apply(text, op)
        version += 1
        rows.append(
            DocumentOp(
                document=doc,
                version=version,
                base_version=version - 1,
                ops=op_to_components(op),
                user=user,
                client="seed",
            )
        )
    DocumentOp.objects.bulk_create(rows)
    Document.objects.filter(pk=doc.pk).update(content=text, version=version)
