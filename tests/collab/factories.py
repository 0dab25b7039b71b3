"""factory_boy factories of collab."""

from __future__ import annotations

from typing import Any

import factory

from collab.models import Document, Snapshot
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
