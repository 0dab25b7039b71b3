"""factory_boy factories shared by the test suites."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model

from chat.models import Room

PASSWORD = "pass-word-123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(PASSWORD)


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"room-{n}")
    name = factory.Sequence(lambda n: f"Room {n}")

    @factory.post_generation
    def members(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.members.set(extracted)
