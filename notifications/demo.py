"""Demo data for `manage.py demo`: products, a price watch, friend requests, an alert."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .models import FriendRequest, Product, SystemAlert
from .sources import friend_request_send, price_watch_set, product_create, system_alert_post

PRODUCTS = [
    ("Coffee beans, 1 kg", Decimal("24.00")),
    ("Mechanical keyboard", Decimal("89.00")),
    ("Noise-cancelling headphones", Decimal("199.00")),
]


def seed(*, users: dict[str, Any]) -> None:
    """Three products (alice watches the headphones below 150), carol's friend request
    to alice, and a welcome alert; idempotent."""
    for name, price in PRODUCTS:
        if not Product.objects.filter(name=name).exists():
            product = product_create(name=name, price=price)
            if name.startswith("Noise"):
                price_watch_set(user=users["alice"], product=product, threshold=Decimal("150.00"))
    if not FriendRequest.objects.exists():
        friend_request_send(from_user=users["carol"], to_user=users["alice"])
    if not SystemAlert.objects.exists():
        system_alert_post(
            author=users["admin"],
            title="Welcome to the demo",
            body="Place an order in the shop and watch the staff's bell light up.",
        )
