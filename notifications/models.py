"""Notifications, their delivery state, and the domain events that raise them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

PRICE_MIN = Decimal("0.01")


class Notification(models.Model):
    """One notification for one user, and where its delivery stands.

    A row is `pending` from creation until a socket of the recipient acks it
    (`acked`); a pending row that was pushed NOTIFY_MAX_ATTEMPTS times, or whose
    first push is older than NOTIFY_MAX_AGE_SECONDS, is `dead` (the dead-letter
    queue) until staff requeue or discard it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        ACKED = "acked", "acked"
        DEAD = "dead", "dead letter"

    class DeadReason(models.TextChoices):
        NONE = "", "-"
        ATTEMPTS = "attempts", "too many attempts"
        AGE = "age", "too old"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=32)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)
    read = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    first_attempt = models.DateTimeField(null=True, blank=True)
    last_attempt = models.DateTimeField(null=True, blank=True)
    acked = models.DateTimeField(null=True, blank=True)
    dead_reason = models.CharField(
        max_length=8, choices=DeadReason.choices, default=DeadReason.NONE, blank=True
    )
    dead_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The greeting's "pending for this user, oldest first" and the unread badge.
            models.Index(fields=["recipient", "status", "id"], name="notif_recipient_status"),
            models.Index(
                fields=["recipient"], condition=Q(read=False), name="notif_recipient_unread"
            ),
            models.Index(fields=["status", "first_attempt"], name="notif_status_first_attempt"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} for {self.recipient_id}"


class QueuedNotification(Notification):
    """The delivery queue: notifications not yet acknowledged (admin view)."""

    class Meta:
        proxy = True
        verbose_name = "queued notification"


class DeadLetter(Notification):
    """The dead-letter queue: notifications given up on (admin view)."""

    class Meta:
        proxy = True
        verbose_name = "dead letter"


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


class FriendRequest(models.Model):
    """A friend request from one user to another; the recipient accepts or declines it."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        ACCEPTED = "accepted", "accepted"
        DECLINED = "declined", "declined"

    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friend_requests_sent"
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="friend_requests_received",
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created = models.DateTimeField(default=timezone.now)
    responded = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["from_user", "to_user"],
                condition=Q(status="pending"),
                name="friend_request_pending_once",
            ),
            models.CheckConstraint(
                condition=~Q(from_user=models.F("to_user")), name="friend_request_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_user_id} -> {self.to_user_id} ({self.status})"


class SystemAlert(models.Model):
    """An announcement staff send to every user."""

    class Level(models.TextChoices):
        INFO = "info", "info"
        WARNING = "warning", "warning"
        CRITICAL = "critical", "critical"

    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.title


class Product(models.Model):
    """A product of the demo shop; users watch its price."""

    name = models.CharField(max_length=200, unique=True)
    price = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(PRICE_MIN)]
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PriceWatch(models.Model):
    """ "Tell me when this product costs `threshold` or less."

    `armed` is cleared when the watch fires and set again once the price rises
    above the threshold, so one drop notifies once, not on every later change.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="price_watches"
    )
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="watches")
    threshold = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(PRICE_MIN)]
    )
    armed = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "price watches"
        constraints = [models.UniqueConstraint(fields=["user", "product"], name="price_watch_once")]

    def __str__(self) -> str:
        return f"{self.user_id} watches {self.product_id} at {self.threshold}"


class ServiceToken(models.Model):
    """A credential another system uses to publish notifications, and for nothing else.

    `Authorization: Bearer rts_...` is accepted by `POST /api/notifications/`
    only. The secret is shown once, when the token is created; only its
    SHA-256 is stored. Revoking takes effect on the next request.
    """

    class Scope(models.TextChoices):
        PUBLISH = "notifications.publish", "publish notifications"

    name = models.CharField(max_length=100, help_text="what uses it, e.g. billing")
    scope = models.CharField(max_length=32, choices=Scope.choices, default=Scope.PUBLISH)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
