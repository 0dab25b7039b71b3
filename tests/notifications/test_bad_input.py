"""Bad input on the notification pages: an answer the user can act on, never a 500."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from notifications.models import Notification, Product
from tests.factories import UserFactory

from .factories import NotificationFactory, PriceWatchFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(client: Client, user: Any) -> Client:
    client.force_login(user)
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example",
        "http://testserver.evil.example/",
        "javascript:alert(1)",
        "foo",
        "notifications:nowhere",
        "",
    ],
)
def test_mark_read_never_redirects_off_site(reader: Client, user: Any, next_url: str) -> None:
    note = NotificationFactory(recipient=user)
    response = reader.post("/notifications/read/", {"id": note.pk, "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/notifications/"
    assert Notification.objects.get(pk=note.pk).read


def test_mark_read_follows_a_next_on_this_site(reader: Client, user: Any) -> None:
    response = reader.post("/notifications/read/", {"next": "/notifications/?page=2"})
    assert response.status_code == 302 and response["Location"] == "/notifications/?page=2"


def test_price_drop_of_a_product_whose_name_is_too_long_says_so(client: Client) -> None:
    client.force_login(UserFactory(username="root", is_staff=True))
    client.raise_request_exception = False
    product = ProductFactory(name="n" * 200, price=Decimal("20.00"))  # as the admin allows
    PriceWatchFactory(product=product, threshold=Decimal("15.00"))
    response = client.post(f"/notifications/shop/{product.pk}/price/", {"price": "10.00"})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Shorten the name of this product" in page
    assert Product.objects.get(pk=product.pk).price == Decimal("20.00")
