"""Notifications and the shop events that raise them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Order(models.Model):
    """An order placed in the demo shop: counted by dashboards, announced to staff."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders"
    )
    item = models.CharField(max_length=200, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"Order #{self.pk}: {self.amount}"
