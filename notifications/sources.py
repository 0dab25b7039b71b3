"""The domain events users expect to hear about, each stored and then notified.

Orders (to the shop's staff), friend requests (sent, accepted), system alerts
(to everyone) and price drops (to the watchers whose threshold is crossed).
Each service writes its model and calls `notify()` in the same transaction,
so the notification exists exactly when the event does.
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from realtime.frames import user_json

from .models import FriendRequest, Order, PriceWatch, Product, SystemAlert
from .services import ALL, notify


class SourceError(ValueError):
    """The event cannot happen as asked; `field` names the culprit (or "")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def order_place(*, customer: AbstractBaseUser, amount: Decimal, item: str = "") -> Order:
    """Store an order and notify the shop's staff (active staff users but the customer)."""
    if amount <= 0:
        raise SourceError("amount", "The amount must be positive.")
    with transaction.atomic():
        order = Order.objects.create(customer_id=customer.pk, item=item, amount=amount)
        staff = get_user_model().objects.filter(is_staff=True, is_active=True)
        what = item or "an order"
        notify(
            users=staff.exclude(pk=customer.pk),
            kind="order",
            title=f"New order #{order.pk}",
            body=f"{customer.get_username()} ordered {what} for {order.amount}.",
            data={
                "order": order.pk,
                "item": item,
                "amount": str(order.amount),
                "customer": user_json(customer),
            },
        )
    return order


def _lock_pair(first: int, second: int) -> None:
    # Both users' rows, in id order: two crossed requests cannot both be created.
    ids = sorted((first, second))
    list(get_user_model().objects.select_for_update().filter(pk__in=ids).order_by("pk"))


def _in_words(seconds: float) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= 2 * size:
            count = math.ceil(seconds / size)
            return f"{count} {unit}s"
    count = max(1, math.ceil(seconds))
    return f"{count} second{'s' if count != 1 else ''}"


def _check_cooldown(*, from_user: AbstractBaseUser, to_user: AbstractBaseUser) -> None:
    """A request `to_user` declined may be sent again only FRIEND_REQUEST_COOLDOWN_SECONDS later.

    Otherwise sending again would notify them again at once, as often as the sender liked.
    """
    cooldown = timedelta(seconds=settings.FRIEND_REQUEST_COOLDOWN_SECONDS)
    declined = (
        FriendRequest.objects.filter(
            from_user=from_user.pk,
            to_user=to_user.pk,
            status=FriendRequest.Status.DECLINED,
            responded__gt=timezone.now() - cooldown,
        )
        .order_by("-responded")
        .values_list("responded", flat=True)
        .first()
    )
    if declined is not None:
        left = (declined + cooldown - timezone.now()).total_seconds()
        raise SourceError(
            "to",
            f"{to_user.get_username()} declined your friend request; "
            f"you may ask again in {_in_words(left)}.",
        )


def friend_request_send(*, from_user: AbstractBaseUser, to_user: AbstractBaseUser) -> FriendRequest:
    """Ask `to_user` to be friends and notify them (`friend_request`).

    Refused (SourceError) while a request between them is pending, when they
    are friends, and for FRIEND_REQUEST_COOLDOWN_SECONDS after `to_user`
    declined one from `from_user`: nothing is notified again.
    """
    if from_user.pk == to_user.pk:
        raise SourceError("to", "You cannot befriend yourself.")
    pair = Q(from_user=from_user.pk, to_user=to_user.pk) | Q(
        from_user=to_user.pk, to_user=from_user.pk
    )
    try:
        with transaction.atomic():
            _lock_pair(from_user.pk, to_user.pk)
            existing = FriendRequest.objects.filter(pair).exclude(
                status=FriendRequest.Status.DECLINED
            )
            if existing.filter(status=FriendRequest.Status.ACCEPTED).exists():
                raise SourceError("to", "You are friends already.")
            if existing.exists():
                raise SourceError("to", "A friend request between you is pending.")
            _check_cooldown(from_user=from_user, to_user=to_user)
            request = FriendRequest.objects.create(from_user_id=from_user.pk, to_user_id=to_user.pk)
            notify(
                users=to_user,
                kind="friend_request",
                title=f"{from_user.get_username()} sent you a friend request",
                data={"request": request.pk, "from": user_json(from_user)},
            )
    except IntegrityError:
        raise SourceError("to", "A friend request between you is pending.") from None
    return request


def friend_request_answer(
    *, request_id: int, user: AbstractBaseUser, accept: bool
) -> FriendRequest:
    """The recipient accepts (the sender is notified, `friend_accepted`) or declines.

    Raises FriendRequest.DoesNotExist when `user` is not its recipient, and
    SourceError when it was answered already.
    """
    with transaction.atomic():
        request = (
            FriendRequest.objects.select_for_update()
            .select_related("from_user")
            .get(pk=request_id, to_user=user.pk)
        )
        if request.status != FriendRequest.Status.PENDING:
            raise SourceError("", f"This request was {request.status} already.")
        request.status = FriendRequest.Status.ACCEPTED if accept else FriendRequest.Status.DECLINED
        request.responded = timezone.now()
        request.save(update_fields=["status", "responded"])
        if accept:
            notify(
                users=request.from_user,
                kind="friend_accepted",
                title=f"{user.get_username()} accepted your friend request",
                data={"request": request.pk, "friend": user_json(user)},
            )
    return request


def system_alert_post(
    *, author: AbstractBaseUser | None, title: str, body: str = "", level: str = "info"
) -> SystemAlert:
    """Store an alert and notify every active user (`system_alert`), in one batch."""
    if level not in SystemAlert.Level.values:
        raise SourceError("level", f"`level` must be one of {', '.join(SystemAlert.Level.values)}.")
    with transaction.atomic():
        alert = SystemAlert.objects.create(
            title=title, body=body, level=level, created_by_id=author.pk if author else None
        )
        sent = notify(
            users=ALL,
            kind="system_alert",
            title=title,
            body=body,
            data={"alert": alert.pk, "level": level},
        )
        alert.recipients = len(sent.ids)
        alert.save(update_fields=["recipients"])
    return alert


def product_create(*, name: str, price: Decimal) -> Product:
    if price <= 0:
        raise SourceError("price", "The price must be positive.")
    return Product.objects.create(name=name, price=price)


def product_set_price(*, product_id: int, price: Decimal) -> tuple[Product, list[int]]:
    """Change a price; notify the armed watchers whose threshold it reaches (`price_drop`).

    A watch fires once per drop: it re-arms when the price rises above its
    threshold again. Returns the product and the notified user ids.
    """
    if price <= 0:
        raise SourceError("price", "The price must be positive.")
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product_id)
        was, product.price = product.price, price
        product.save(update_fields=["price", "updated"])
        watches = PriceWatch.objects.filter(product=product)
        watches.filter(armed=False, threshold__lt=price).update(armed=True)
        firing = watches.filter(armed=True, threshold__gte=price)
        users = sorted(firing.values_list("user_id", flat=True))
        firing.update(armed=False)
        if users:
            notify(
                users=users,
                kind="price_drop",
                title=f"Price drop: {product.name}",
                body=f"{product.name} now costs {price} (was {was}).",
                data={
                    "product": product.pk,
                    "name": product.name,
                    "price": str(price),
                    "was": str(was),
                },
            )
    return product, users


def price_watch_set(*, user: AbstractBaseUser, product: Product, threshold: Decimal) -> PriceWatch:
    """Watch `product` for a price at or below `threshold` (which must be below today's)."""
    if threshold <= 0 or threshold >= product.price:
        raise SourceError("threshold", f"The threshold must be below the price ({product.price}).")
    watch, _ = PriceWatch.objects.update_or_create(
        user_id=user.pk, product=product, defaults={"threshold": threshold, "armed": True}
    )
    return watch


def price_watch_remove(*, user: AbstractBaseUser, product: Product) -> bool:
    return PriceWatch.objects.filter(user_id=user.pk, product=product).delete()[0] > 0
