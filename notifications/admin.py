"""Admin pages: notifications, the delivery queue, dead letters, and the event sources.

Nothing here saves a model that notifies: adding an order or an alert, or
changing a price, goes through the service, which stores and then pushes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services, sources
from .models import (
    DeadLetter,
    FriendRequest,
    Notification,
    Order,
    PriceWatch,
    Product,
    QueuedNotification,
    ServiceToken,
    SystemAlert,
)
from .service_tokens import service_token_create, service_tokens_revoke

Status = Notification.Status


class _DeliveryAdmin(admin.ModelAdmin[Notification]):
    """Read-only rows; delivery changes only through the requeue and discard actions."""

    list_display = ["id", "recipient", "kind", "title", "status", "read", "attempts", "created"]
    list_filter = ["status", "kind", "read"]
    search_fields = ["title", "recipient__username"]
    list_select_related = ["recipient"]
    actions = ["requeue", "discard"]
    status_shown: str | None = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        rows = super().get_queryset(request)
        return rows if self.status_shown is None else rows.filter(status=self.status_shown)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_deliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.change_notification")

    @admin.action(description="Requeue: push again now, attempts reset", permissions=["deliver"])
    def requeue(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = services.notifications_requeue(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Requeued {count} notification(s).", messages.SUCCESS)

    @admin.action(description="Discard (delete, never delivered)", permissions=["deliver"])
    def discard(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = services.notifications_discard(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Discarded {count} notification(s).", messages.SUCCESS)


@admin.register(Notification)
class NotificationAdmin(_DeliveryAdmin):
    list_display = [*_DeliveryAdmin.list_display, "last_attempt", "acked"]


@admin.register(QueuedNotification)
class QueuedNotificationAdmin(_DeliveryAdmin):
    """Not yet acknowledged by any socket of the recipient."""

    status_shown = Status.PENDING
    list_display = ["id", "recipient", "kind", "title", "attempts", "created", "last_attempt"]
    list_filter = ["kind"]


@admin.register(DeadLetter)
class DeadLetterAdmin(_DeliveryAdmin):
    """Given up on after NOTIFY_MAX_ATTEMPTS pushes or NOTIFY_MAX_AGE_SECONDS."""

    status_shown = Status.DEAD
    list_display = [
        "id",
        "recipient",
        "kind",
        "title",
        "dead_reason",
        "attempts",
        "last_attempt",
        "dead_at",
    ]
    list_filter = ["dead_reason", "kind"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin[Order]):
    list_display = ["id", "customer", "item", "amount", "created"]
    list_select_related = ["customer"]
    search_fields = ["item", "customer__username"]
    fields = ["customer", "item", "amount"]

    def save_model(self, request: HttpRequest, obj: Order, form: Any, change: bool) -> None:
        if change:
            obj.save()
            return
        placed = sources.order_place(customer=obj.customer, amount=obj.amount, item=obj.item)
        obj.pk, obj.created = placed.pk, placed.created


@admin.register(FriendRequest)
class FriendRequestAdmin(admin.ModelAdmin[FriendRequest]):
    """Sent and answered by the users themselves (pages and REST)."""

    list_display = ["id", "from_user", "to_user", "status", "created", "responded"]
    list_filter = ["status"]
    list_select_related = ["from_user", "to_user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SystemAlert)
class SystemAlertAdmin(admin.ModelAdmin[SystemAlert]):
    """Adding an alert here sends it to every user."""

    list_display = ["id", "title", "level", "created_by", "created", "recipients"]
    fields = ["title", "body", "level"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: SystemAlert, form: Any, change: bool) -> None:
        posted = sources.system_alert_post(
            author=request.user,  # type: ignore[arg-type]
            title=obj.title,
            body=obj.body,
            level=obj.level,
        )
        obj.pk, obj.created, obj.recipients = posted.pk, posted.created, posted.recipients


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin[Product]):
    """A lower price notifies the watchers it reaches."""

    list_display = ["id", "name", "price", "updated"]
    search_fields = ["name"]

    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        if change and "price" in form.changed_data:
            if len(form.changed_data) > 1:
                Product.objects.filter(pk=obj.pk).update(name=obj.name)
            sources.product_set_price(product_id=obj.pk, price=obj.price)
            return
        obj.save()


@admin.register(PriceWatch)
class PriceWatchAdmin(admin.ModelAdmin[PriceWatch]):
    list_display = ["id", "user", "product", "threshold", "armed", "created"]
    list_select_related = ["user", "product"]
    list_filter = ["armed"]


class _RevokedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("live", "live"), ("revoked", "revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("live", "revoked"):
            return queryset.filter(revoked_at__isnull=self.value() == "live")
        return queryset


@admin.register(ServiceToken)
class ServiceTokenAdmin(admin.ModelAdmin[ServiceToken]):
    """Tokens other systems publish notifications with; adding one shows its secret once.

    Rows are never changed or deleted here, only revoked: they are the record
    of who could publish, and when each was last used.
    """

    list_display = ["id", "name", "scope", "created_by", "created", "last_used", "revoked_at"]
    list_filter = [_RevokedFilter, "scope"]
    list_select_related = ["created_by"]
    search_fields = ["name"]
    fields = ["name", "scope", "created_by", "created", "last_used", "revoked_at"]
    readonly_fields = ["created_by", "created", "last_used", "revoked_at"]
    actions = ["revoke"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.change_servicetoken")

    def save_model(self, request: HttpRequest, obj: ServiceToken, form: Any, change: bool) -> None:
        token, secret = service_token_create(
            name=obj.name,
            scope=obj.scope,
            created_by=request.user,  # type: ignore[arg-type]
        )
        obj.pk, obj.key_hash, obj.created, obj.created_by = (
            token.pk,
            token.key_hash,
            token.created,
            token.created_by,
        )
        self.message_user(
            request,
            f"The secret of service token {token.name!r} is {secret} . "
            "Copy it now: it is not shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke: refused from the next request", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ServiceToken]) -> None:
        count = service_tokens_revoke(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Revoked {count} service token(s).", messages.SUCCESS)
