"""factory_boy factories of the notifications app."""

from __future__ import annotations

from decimal import Decimal

import factory

from notifications.models import Notification, PriceWatch, Product
from tests.factories import UserFactory


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(UserFactory)
    kind = "system_alert"
    title = factory.Sequence(lambda n: f"Notice {n}")
    body = "Something happened."
    data = factory.LazyFunction(dict)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("100.00")


class PriceWatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PriceWatch

    user = factory.SubFactory(UserFactory)
    product = factory.SubFactory(ProductFactory)
    threshold = Decimal("80.00")
