"""Factories of dashboards and of the rows their metrics count."""

from __future__ import annotations

from decimal import Decimal

import factory

from dashboards.models import Dashboard, EngagementEvent
from notifications.models import Order
from tests.factories import UserFactory


class DashboardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dashboard
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"board-{n}")
    title = factory.Sequence(lambda n: f"Board {n}")
    metrics = factory.LazyFunction(lambda: ["orders_today", "revenue_today"])


class OrderFactory(factory.django.DjangoModelFactory):
    """An order stored directly (dashboards count rows; placing one is the shop's service)."""

    class Meta:
        model = Order

    customer = factory.SubFactory(UserFactory)
    item = "Mug"
    amount = Decimal("12.50")


class EngagementEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EngagementEvent

    kind = EngagementEvent.Kind.LIKE
