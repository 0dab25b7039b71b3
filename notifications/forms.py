"""Forms of the notification pages: an order, a friend request, a watch, a price, an alert."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from .models import SystemAlert

MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0.01")}


class OrderForm(forms.Form):
    item = forms.CharField(max_length=200, required=False)
    amount = forms.DecimalField(**MONEY)  # type: ignore[arg-type]


class FriendRequestForm(forms.Form):
    username = forms.CharField(max_length=150, label="Username")


class WatchForm(forms.Form):
    threshold = forms.DecimalField(**MONEY, label="Tell me at or below")  # type: ignore[arg-type]


class PriceForm(forms.Form):
    price = forms.DecimalField(**MONEY, label="New price")  # type: ignore[arg-type]


class AlertForm(forms.Form):
    title = forms.CharField(max_length=200)
    body = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    level = forms.ChoiceField(choices=SystemAlert.Level.choices, initial="info")
